// The device session of one MQTT connection (ThingsBoard's DeviceSessionCtx + the session side of
// MqttTransportHandler): subscriptions and their QoS, the variant (v1/v2) to answer on, server
// commands awaiting PUBACK, client-side requests awaiting the rule chain, activity.
import { randomUUID } from 'node:crypto';
import type { IPublishPacket, QoS } from 'mqtt-packet';
import { attributeUpdateBody } from '../attribute-update-body.js';
import { deviceEventMessage, type DeviceEvent } from '../device-messages.js';
import type { AttributeUpdate, DeviceIdentity, DeviceSession, ToDeviceRpcRequest } from '../transport-api.js';
import type { MqttClient } from './client.js';
import { RC } from './reason-codes.js';
import { attributesTopic, rpcRequestTopic, rpcResponseTopic, topicMatches, type TopicVariant } from './topics.js';

/** ThingsBoard's texts for commands that could not be sent (spec/rpc.md §7.1). */
export const RPC_CONVERT_ERROR = 'Failed to convert device RPC command to MQTT msg';
export const rpcSendError = (method: string): string => `Failed send To Device Rpc Request: ${method}`;
export const CLIENT_RPC_TIMEOUT_REPLY = '{"error":"timeout"}';

interface AwaitingAck {
  readonly requestId: number;
  readonly timer: NodeJS.Timeout;
}

interface ClientRpc {
  readonly variant: TopicVariant;
  readonly timer: NodeJS.Timeout;
}

export class MqttDeviceSession implements DeviceSession {
  readonly sessionId = randomUUID();
  readonly protocol = 'mqtt' as const;
  rpcSubscribed = false;
  /** Filter → granted QoS. */
  readonly subscriptions = new Map<string, QoS>();
  /** Variant of the RPC request subscription: commands are published on it. */
  rpcVariant: TopicVariant = 'v1';
  /** Variant of the attribute subscription; null = not subscribed to shared-attribute updates. */
  attributesVariant: TopicVariant | null = null;
  /** Variant of the latest client-side request: a reply for an unknown request goes there. */
  private clientRpcVariant: TopicVariant = 'v1';
  // Created on first use: most sessions never get a command.
  private awaitingAck: Map<number, AwaitingAck> | undefined;
  private clientRpcs: Map<number, ClientRpc> | undefined;
  private nextPacketId = 1;
  /** Device publishes handed on but not yet acknowledged. */
  private inflight = 0;
  private lastActivity: number;
  private lastActivityEvent: number;
  private inactive = false;
  private closed = false;
  /** Set once the session is registered and CONNECT_EVENT recorded. */
  open = false;

  constructor(
    readonly client: MqttClient,
    readonly device: DeviceIdentity,
  ) {
    this.lastActivity = this.lastActivityEvent = Date.now();
  }

  private get server() {
    return this.client.server;
  }

  // ---- DeviceSession -------------------------------------------------------------------------

  sendRpcRequest(request: ToDeviceRpcRequest): void {
    const { rpc } = this.server.ctx;
    if (this.closed) {
      rpc.onRpcError(this, request.requestId, rpcSendError(request.method));
      return;
    }
    let params: unknown;
    try {
      params = JSON.parse(request.params) as unknown;
    } catch (e) {
      this.server.ctx.logger.debug(`mqtt: ${this.client.who()}: params of command ${request.requestId} are not JSON: ${(e as Error).message}`);
      rpc.onRpcError(this, request.requestId, RPC_CONVERT_ERROR);
      return;
    }
    const topic = rpcRequestTopic(this.rpcVariant, request.requestId);
    const qos = this.qosFor(topic);
    const payload = Buffer.from(JSON.stringify({ method: request.method, params }));
    if (qos === 0) {
      this.client.write(publishPacket(topic, payload, 0), (err) => {
        if (err) rpc.onRpcError(this, request.requestId, rpcSendError(request.method));
        else rpc.onRpcDeliveryStatus(this, request.requestId, 'DELIVERED');
      });
      return;
    }
    const messageId = this.allocatePacketId();
    // PUBACK wait: ThingsBoard's min(transport.mqtt.timeout, time left before expiry).
    const wait = Math.max(0, Math.min(this.server.ackTimeoutMs, request.expirationTime - Date.now()));
    const timer = setTimeout(() => {
      if (this.awaitingAck?.delete(messageId)) rpc.onRpcDeliveryStatus(this, request.requestId, 'TIMEOUT');
    }, wait);
    (this.awaitingAck ??= new Map()).set(messageId, { requestId: request.requestId, timer });
    this.client.write(publishPacket(topic, payload, 1, messageId), (err) => {
      const waiting = this.awaitingAck?.get(messageId);
      if (err) {
        if (waiting) {
          clearTimeout(waiting.timer);
          this.awaitingAck?.delete(messageId);
        }
        rpc.onRpcError(this, request.requestId, rpcSendError(request.method));
      } else if (request.persistent && waiting) {
        rpc.onRpcDeliveryStatus(this, request.requestId, 'SENT');
      }
    });
  }

  sendToServerRpcResponse(requestId: number, payload: string): void {
    const pending = this.clientRpcs?.get(requestId);
    if (pending) {
      clearTimeout(pending.timer);
      this.clientRpcs?.delete(requestId);
    }
    // Also without a pending entry (late reply): ThingsBoard forwards it while the session lives.
    this.publish(rpcResponseTopic(pending?.variant ?? this.clientRpcVariant, requestId), payload);
  }

  sendAttributeUpdate(update: AttributeUpdate): void {
    if (this.attributesVariant === null) return;
    const body = attributeUpdateBody(update);
    if (body !== null) this.publish(attributesTopic(this.attributesVariant), body);
  }

  close(reason: string): void {
    const code = /took over|takeover/i.test(reason) ? RC.sessionTakenOver : /shut/i.test(reason) ? RC.serverShuttingDown : RC.administrativeAction;
    const line = `mqtt: ${this.client.who()}: closing session ${this.sessionId}: ${reason}`;
    if (code === RC.serverShuttingDown) this.server.ctx.logger.debug(line);
    else this.server.ctx.logger.info(line);
    this.client.disconnect(code, reason);
  }

  // ---- used by the handlers -----------------------------------------------------------------

  /** Publishes to the device with the QoS of its matching subscription. */
  publish(topic: string, payload: string | Buffer): void {
    const qos = this.qosFor(topic);
    const buf = typeof payload === 'string' ? Buffer.from(payload) : payload;
    this.client.write(publishPacket(topic, buf, qos, qos > 0 ? this.allocatePacketId() : undefined));
  }

  /** PUBACK of a server publish: the command (if it was one) is DELIVERED. */
  onPuback(messageId: number): void {
    const waiting = this.awaitingAck?.get(messageId);
    if (!waiting) return;
    clearTimeout(waiting.timer);
    this.awaitingAck?.delete(messageId);
    this.server.ctx.rpc.onRpcDeliveryStatus(this, waiting.requestId, 'DELIVERED');
  }

  /** A client-side request went to the rule engine: answer `{"error":"timeout"}` if nobody replies in time. */
  startClientRpc(requestId: number, variant: TopicVariant): void {
    this.clientRpcVariant = variant;
    const rpcs = (this.clientRpcs ??= new Map());
    const old = rpcs.get(requestId);
    if (old) clearTimeout(old.timer);
    const timer = setTimeout(() => {
      rpcs.delete(requestId);
      if (!this.closed) this.publish(rpcResponseTopic(variant, requestId), CLIENT_RPC_TIMEOUT_REPLY);
    }, this.server.ctx.limits.clientSideRpcTimeoutMs);
    rpcs.set(requestId, { variant, timer });
  }

  cancelClientRpc(requestId: number): void {
    const pending = this.clientRpcs?.get(requestId);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.clientRpcs?.delete(requestId);
  }

  /** ThingsBoard's getQoSForTopic: the QoS of the one matching subscription, else 1. */
  qosFor(topic: string): QoS {
    let found: QoS | undefined;
    let matches = 0;
    for (const [filter, qos] of this.subscriptions) {
      if (topicMatches(filter, topic)) {
        found = qos;
        matches++;
      }
    }
    return matches === 1 && found !== undefined ? found : 1;
  }

  /** Counts a publish handed on; pauses the socket when too many wait for the queue. */
  beginInflight(): void {
    if (++this.inflight === this.server.maxInflight) this.client.pause();
  }

  endInflight(): void {
    if (this.inflight-- === this.server.maxInflight) this.client.resume();
  }

  /** Any packet from the device: ACTIVITY_EVENT at most once per interval, or at once after inactivity. */
  touch(now: number): void {
    this.lastActivity = now;
    if (this.inactive || now - this.lastActivityEvent >= this.server.activityReportIntervalMs) {
      this.inactive = false;
      this.lastActivityEvent = now;
      this.event('ACTIVITY_EVENT');
    }
  }

  /** Called by the transport's sweep: INACTIVITY_EVENT once the device was silent too long. */
  checkInactive(now: number): void {
    if (this.open && !this.inactive && now - this.lastActivity >= this.server.ctx.limits.inactivityTimeoutMs) {
      this.inactive = true;
      this.event('INACTIVITY_EVENT');
    }
  }

  event(type: DeviceEvent): Promise<void> {
    return this.server.ctx.toRuleEngine(deviceEventMessage(this.device, type)).catch((e: unknown) => {
      this.server.ctx.logger.warn(`mqtt: ${this.client.who()}: ${type} not queued: ${(e as Error).message}`);
    });
  }

  /** The socket closed: stop timers, leave the registry, tell the RPC service and the rule engine. */
  onConnectionClosed(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.awaitingAck?.values() ?? []) clearTimeout(w.timer);
    for (const c of this.clientRpcs?.values() ?? []) clearTimeout(c.timer);
    this.awaitingAck = undefined;
    this.clientRpcs = undefined;
    if (!this.open) return;
    const { ctx, sessions } = this.server;
    this.rpcSubscribed = false;
    const unregistered = sessions.unregister(this).catch((e: unknown) => ctx.logger.warn(`mqtt: ${this.client.who()}: unregister failed: ${(e as Error).message}`));
    ctx.rpc.onSessionClosed(this);
    this.server.track(Promise.all([unregistered, this.event('DISCONNECT_EVENT')]));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private allocatePacketId(): number {
    for (let i = 0; i < 0xffff; i++) {
      const id = this.nextPacketId;
      this.nextPacketId = id === 0xffff ? 1 : id + 1;
      if (!this.awaitingAck?.has(id)) return id;
    }
    return this.nextPacketId; // 65535 commands unacknowledged: reuse (the oldest is long timed out)
  }
}

function publishPacket(topic: string, payload: Buffer, qos: QoS, messageId?: number): IPublishPacket {
  return { cmd: 'publish', topic, payload, qos, retain: false, dup: false, messageId };
}
