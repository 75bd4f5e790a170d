// How a device publish is answered. Accepted: PUBACK (QoS 1) / PUBREC (QoS 2, served as 1) once
// the message is handed on. Refused:
//   - MQTT 3.1/3.1.1 has no negative PUBACK: the connection is closed, as ThingsBoard does
//     (sendAckOrCloseSession / the pub-ack callback's ctx.close()).
//   - MQTT 5, QoS 1/2: PUBACK/PUBREC with the reason code; the connection stays.
//   - MQTT 5, QoS 0: nothing can carry a reason; the message is dropped and counted.
import type { IPublishPacket } from 'mqtt-packet';
import type { TbMsg } from '../../msg/tb-msg.js';
import type { MqttClient } from './client.js';
import type { MqttDropCounts } from './server-context.js';
import type { MqttDeviceSession } from './session.js';
import { RC } from './reason-codes.js';

export function ack(client: MqttClient, packet: IPublishPacket): void {
  client.server.metrics.accepted++;
  if (packet.qos === 0 || packet.messageId === undefined) return;
  client.writeAck(packet.qos === 2 ? PUBREC : PUBACK, packet.messageId);
}

const PUBACK = 0x40;
const PUBREC = 0x50;

/** Refuses one publish: logs a line naming the device and the problem, counts it, answers per protocol. */
export function refuse(client: MqttClient, packet: IPublishPacket, reasonCode: number, cause: keyof MqttDropCounts, problem: string): void {
  const { metrics, ctx } = client.server;
  metrics.dropped[cause]++;
  ctx.logger.warn(`mqtt: ${client.who()}: ${problem} (topic "${packet.topic}")`);
  if (!client.v5) {
    client.end();
    return;
  }
  if (packet.qos === 0 || packet.messageId === undefined) return;
  client.write({ cmd: packet.qos === 2 ? 'pubrec' : 'puback', messageId: packet.messageId, reasonCode, properties: { reasonString: problem } });
}

export const malformed = (client: MqttClient, packet: IPublishPacket, problem: string): void =>
  refuse(client, packet, RC.payloadFormatInvalid, 'malformed', problem);

/**
 * Hands messages to the rule engine and acknowledges once the queue has them (ThingsBoard's
 * getPubAckCallback). The socket is paused while too many are in flight for this session.
 */
export function forward(client: MqttClient, session: MqttDeviceSession, packet: IPublishPacket, msgs: readonly TbMsg[], onFail?: () => void): void {
  const { ctx } = client.server;
  session.beginInflight();
  const done = msgs.length === 1 ? ctx.toRuleEngine(msgs[0] as TbMsg) : Promise.all(msgs.map((m) => ctx.toRuleEngine(m)));
  done.then(
    () => {
      session.endInflight();
      ack(client, packet);
    },
    (e: unknown) => {
      session.endInflight();
      onFail?.();
      refuse(client, packet, RC.unspecifiedError, 'queueFailed', `the rule-engine queue refused the message: ${(e as Error).message}`);
    },
  );
}
