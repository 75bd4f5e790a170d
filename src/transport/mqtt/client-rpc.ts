// Client-side RPC (spec/rpc.md §8): the device's request goes to the rule engine as
// TO_SERVER_RPC_REQUEST; the reply comes back through session.sendToServerRpcResponse on the
// topic variant the request used, or `{"error":"timeout"}` after limits.clientSideRpcTimeoutMs.
// The reserved method getSessionLimits is answered here and never reaches the rule engine.
import type { IPublishPacket } from 'mqtt-packet';
import { isPlainObject } from '../../msg/tb-msg.js';
import { parseJsonPayload, toServerRpcMessage } from '../device-messages.js';
import type { MqttClient } from './client.js';
import { ack, forward, malformed } from './publish-outcome.js';
import type { MqttServerContext } from './server-context.js';
import type { MqttDeviceSession } from './session.js';
import { parseRequestId, rpcResponseTopic, type TopicVariant } from './topics.js';

export const SESSION_LIMITS_METHOD = 'getSessionLimits';

export function handleClientRpcRequest(
  client: MqttClient,
  session: MqttDeviceSession,
  packet: IPublishPacket,
  payload: Buffer,
  variant: TopicVariant,
  idText: string,
): void {
  const requestId = parseRequestId(idText);
  if (requestId === null) return malformed(client, packet, `RPC request topic needs an integer request id, got "${idText}"`);
  const body = parseJsonPayload(payload.toString('utf8'));
  if (isPlainObject(body) && body.method === SESSION_LIMITS_METHOD) {
    ack(client, packet);
    session.publish(rpcResponseTopic(variant, requestId), JSON.stringify(sessionLimits(client.server)));
    return;
  }
  const { ctx } = client.server;
  const msg = toServerRpcMessage(session.device, body, { requestId, serviceId: ctx.serviceId, sessionId: session.sessionId });
  session.startClientRpc(requestId, variant);
  forward(client, session, packet, [msg], () => session.cancelClientRpc(requestId));
}

/**
 * ThingsBoard's SessionLimits JSON: maxPayloadSize, maxInflightMessages and the device rate
 * limits in its "capacity:seconds" notation (a limit that is off is left out).
 */
export function sessionLimits(server: MqttServerContext): { maxPayloadSize: number; maxInflightMessages: number; rateLimits: Record<string, string> } {
  const { limits } = server.ctx;
  const rateLimits: Record<string, string> = {};
  if (limits.deviceMsgsPerSecond > 0) rateLimits.messages = `${limits.deviceMsgsPerSecond}:1`;
  return { maxPayloadSize: limits.maxPayloadBytes, maxInflightMessages: server.maxInflight, rateLimits };
}
