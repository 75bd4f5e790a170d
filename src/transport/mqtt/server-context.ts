// What every connection and handler of one MQTT transport shares: the transport context, the
// resolved options, the rate limiters and the counters.
import type { DeviceAuth } from '../device-auth.js';
import type { SessionRegistry } from '../session-registry.js';
import type { TransportContext } from '../transport-api.js';
import type { DeviceRateLimiter } from '../rate-limiter.js';

/** Messages refused or dropped, by cause. */
export interface MqttDropCounts {
  /** Over limits.deviceMsgsPerSecond. */
  deviceRateLimit: number;
  /** Over limits.tenantMsgsPerSecond. */
  tenantRateLimit: number;
  /** Payload over limits.maxPayloadBytes (the connection is closed). */
  tooLarge: number;
  /** Not what the topic accepts (bad JSON, bad request id, ...). */
  malformed: number;
  /** Publish outside the device's own topics. */
  notAuthorized: number;
  /** Protobuf (`/p`) topics. */
  unsupported: number;
  /** The rule-engine queue refused the message. */
  queueFailed: number;
}

export interface MqttTransportMetrics {
  /** Open sockets, authenticated or not. */
  readonly connections: number;
  /** Authenticated device sessions. */
  readonly sessions: number;
  /** Device publishes accepted (acknowledged or handed on). */
  readonly accepted: number;
  /** CONNECTs refused for a bad or missing token. */
  readonly authFailures: number;
  /** SUBSCRIBE filters refused. */
  readonly refusedSubscriptions: number;
  readonly dropped: Readonly<MqttDropCounts>;
}

export interface MutableMetrics {
  accepted: number;
  authFailures: number;
  refusedSubscriptions: number;
  readonly dropped: MqttDropCounts;
}

export interface MqttServerContext {
  readonly ctx: TransportContext;
  readonly sessions: SessionRegistry;
  readonly auth: DeviceAuth;
  readonly exclusiveSessions: boolean;
  /** PUBACK wait for a QoS 1 command (ThingsBoard transport.mqtt.timeout). */
  readonly ackTimeoutMs: number;
  /** ACTIVITY_EVENT at most once per this, per session. */
  readonly activityReportIntervalMs: number;
  /** Unacknowledged device publishes per session before the socket is paused. */
  readonly maxInflight: number;
  /** Messages per second per device and per tenant. */
  readonly limiter: DeviceRateLimiter;
  readonly metrics: MutableMetrics;
  /** Keeps a clean-up (registry removal, DISCONNECT_EVENT) that close() waits for. */
  track(work: Promise<unknown>): void;
}

export function newMetrics(): MutableMetrics {
  return {
    accepted: 0,
    authFailures: 0,
    refusedSubscriptions: 0,
    dropped: { deviceRateLimit: 0, tenantRateLimit: 0, tooLarge: 0, malformed: 0, notAuthorized: 0, unsupported: 0, queueFailed: 0 },
  };
}
