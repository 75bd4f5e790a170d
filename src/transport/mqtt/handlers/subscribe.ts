// SUBSCRIBE: only the device's own filters (ThingsBoard's exact list); QoS 2 is granted as 1;
// others get 0x80. Subscribing to RPC requests makes the session rpcSubscribed: recorded in the
// registry and told to the RPC service, which then sends what is pending (after the SUBACK).
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
  sessions.update(session).catch((e: unknown) => ctx.logger.warn(`mqtt: ${client.who()}: session update failed: ${(e as Error).message}`));
  ctx.rpc.onRpcSubscribe(session);
}
