// SUBSCRIBE: only the device's own filters (ThingsBoard's exact list); QoS 2 is granted as 1;
// others get 0x80. Subscribing to RPC requests makes the session rpcSubscribed: recorded in the
// registry, then told to the RPC service, which sends what is pending (after the SUBACK).
//
// The SUBACK does not wait for Redis (as ThingsBoard's does not wait for the core): the grant is
// kept by this session, which lives as long as the connection, and the registry writes it until
// Redis takes it. During a Redis outage the RPC service hears of the subscription once Redis is
// back, so commands reach the device then; nothing granted is forgotten.
import type { ISubscribePacket, QoS } from 'mqtt-packet';
import type { MqttClient } from '../client.js';
import { SUBACK_FAILURE } from '../reason-codes.js';
import type { MqttDeviceSession } from '../session.js';
import { parseSubscriptionTopic } from '../topics.js';

export function handleSubscribe(client: MqttClient, session: MqttDeviceSession, packet: ISubscribePacket): void {
  const { ctx, sessions, metrics } = client.server;
  session.touch(Date.now());
  let rpc = false;
  const granted = packet.subscriptions.map((sub): number => {
    const topic = parseSubscriptionTopic(sub.topic);
    if (topic.kind === 'refused') {
      metrics.refusedSubscriptions++;
      ctx.logger.warn(`mqtt: ${client.who()}: subscription to "${sub.topic}" refused: not one of the device's own topics`);
      return SUBACK_FAILURE;
    }
    const qos: QoS = sub.qos >= 1 ? 1 : 0;
    session.subscriptions.set(sub.topic, qos);
    if (topic.kind === 'attributes') session.attributesVariant = topic.variant;
    if (topic.kind === 'rpcRequests') {
      session.rpcVariant = topic.variant;
      rpc = true;
    }
    return qos;
  });
  client.write({ cmd: 'suback', messageId: packet.messageId, granted });
  if (!rpc) return;
  session.rpcSubscribed = true;
  // After the registry has it: the RPC service reads subscribed sessions from there.
  void sessions.update(session).then((stored) => {
    if (stored && session.rpcSubscribed && !session.isClosed) ctx.rpc.onRpcSubscribe(session);
  });
}
