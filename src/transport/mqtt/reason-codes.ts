// MQTT return codes (3.1/3.1.1 CONNACK) and MQTT 5 reason codes the transport sends. Only codes
// that MQTT 5 allows in the packet they are sent in (§2.4): strict clients drop a connection
// that receives, say, a PUBACK with 0x95.

/** 3.1.1 CONNACK return codes. */
export const CONNACK_V3 = {
  accepted: 0,
  unacceptableProtocol: 1,
  identifierRejected: 2,
  serverUnavailable: 3,
  badUserNameOrPassword: 4,
  notAuthorized: 5,
} as const;

/** MQTT 5 reason codes. */
export const RC = {
  success: 0x00,
  grantedQos1: 0x01,
  noMatchingSubscribers: 0x10,
  noSubscriptionExisted: 0x11,
  unspecifiedError: 0x80,
  malformedPacket: 0x81,
  protocolError: 0x82,
  implementationSpecificError: 0x83,
  badUserNameOrPassword: 0x86,
  notAuthorized: 0x87,
  serverUnavailable: 0x88,
  serverShuttingDown: 0x8b,
  keepAliveTimeout: 0x8d,
  sessionTakenOver: 0x8e,
  topicFilterInvalid: 0x8f,
  topicNameInvalid: 0x90,
  packetTooLarge: 0x95,
  messageRateTooHigh: 0x96,
  quotaExceeded: 0x97,
  administrativeAction: 0x98,
  payloadFormatInvalid: 0x99,
  qosNotSupported: 0x9b,
} as const;

/** SUBACK "failure" in 3.1.1; also "unspecified error" in MQTT 5. */
export const SUBACK_FAILURE = 0x80;
