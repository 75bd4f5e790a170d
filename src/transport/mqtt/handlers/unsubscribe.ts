// UNSUBSCRIBE: dropping the last RPC request filter ends rpcSubscribed (registry + RPC service);
// dropping the last attribute filter stops shared-attribute updates.
import type { IUnsubackPacket, IUnsubscribePacket } from 'mqtt-packet';
import type { MqttClient } from '../client.js';
import { RC } from '../reason-codes.js';
import type { MqttDeviceSession } from '../session.js';
import { parseSubscriptionTopic } from '../topics.js';

export function handleUnsubscribe(client: MqttClient, session: MqttDeviceSession, packet: IUnsubscribePacket): void {
  const { ctx, sessions } = client.server;
  session.touch(Date.now());
  const reasons = packet.unsubscriptions.map((filter) => (session.subscriptions.delete(filter) ? RC.success : RC.noSubscriptionExisted));
  const left = [...session.subscriptions.keys()].map(parseSubscriptionTopic);
  const attributes = left.find((t) => t.kind === 'attributes');
  session.attributesVariant = attributes?.kind === 'attributes' ? attributes.variant : null;
  const rpc = left.find((t) => t.kind === 'rpcRequests');
  if (rpc?.kind === 'rpcRequests') session.rpcVariant = rpc.variant;
  const unsuback: IUnsubackPacket = { cmd: 'unsuback', messageId: packet.messageId, granted: client.v5 ? reasons : [] };
  client.write(unsuback);
  if (!session.rpcSubscribed || rpc) return;
  session.rpcSubscribed = false;
  // Written until Redis takes it (the registry logs failures); the RPC service stops at once.
  void sessions.update(session);
  ctx.rpc.onRpcUnsubscribe(session);
}
