// Attribute request: `{"clientKeys":"a,b","sharedKeys":"c"}` on `.../attributes/request/{id}` →
// `{"client":{...},"shared":{...}}` on `.../attributes/response/{id}`, read from the Store. As in
// ThingsBoard's device actor: no keys at all → every client and shared attribute; keys for one
// scope only → that scope only; an empty section is left out.
import type { IPublishPacket } from 'mqtt-packet';
import { isPlainObject } from '../../msg/tb-msg.js';
import type { AttributeKv, AttributeScope } from '../../store/attributes.js';
import { DevicePayloadError, parseJsonPayload } from '../device-messages.js';
import type { MqttClient } from './client.js';
import { ack, malformed } from './publish-outcome.js';
import type { MqttDeviceSession } from './session.js';
import { attributesResponseTopic, parseRequestId, type TopicVariant } from './topics.js';

export function handleAttributeRequest(
  client: MqttClient,
  session: MqttDeviceSession,
  packet: IPublishPacket,
  payload: Buffer,
  variant: TopicVariant,
  idText: string,
): void {
  const requestId = parseRequestId(idText);
  if (requestId === null) return malformed(client, packet, `attribute request topic needs an integer request id, got "${idText}"`);
  const text = payload.toString('utf8').trim();
  const body = text === '' ? {} : parseJsonPayload(text);
  if (!isPlainObject(body)) throw new DevicePayloadError('an attribute request must be a JSON object {"clientKeys", "sharedKeys"}');
  const clientKeys = keyList(body.clientKeys, 'clientKeys');
  const sharedKeys = keyList(body.sharedKeys, 'sharedKeys');
  ack(client, packet);
  const { ctx } = client.server;
  readAttributes(client, session, clientKeys, sharedKeys).then(
    (response) => {
      if (!session.isClosed) session.publish(attributesResponseTopic(variant, requestId), JSON.stringify(response));
    },
    (e: unknown) => ctx.logger.warn(`mqtt: ${client.who()}: attribute request ${requestId} failed: ${(e as Error).message}`),
  );
}

/** "a, b" → ['a', 'b']; absent → undefined. */
function keyList(value: unknown, name: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new DevicePayloadError(`"${name}" must be a comma-separated string`);
  const keys = value.split(',').map((k) => k.trim()).filter((k) => k !== '');
  return keys.length > 0 ? keys : undefined;
}

async function readAttributes(
  client: MqttClient,
  session: MqttDeviceSession,
  clientKeys: string[] | undefined,
  sharedKeys: string[] | undefined,
): Promise<{ client?: Record<string, unknown>; shared?: Record<string, unknown> }> {
  const store = client.server.ctx.store;
  const entity = { entityType: 'DEVICE' as const, id: session.device.deviceId };
  const all = clientKeys === undefined && sharedKeys === undefined;
  const read = (scope: AttributeScope, keys: string[] | undefined): Promise<AttributeKv[]> =>
    all ? store.attributes.getAll(entity, scope) : keys ? store.attributes.get(entity, scope, keys) : Promise.resolve([]);
  const [clientAttrs, sharedAttrs] = await Promise.all([read('CLIENT_SCOPE', clientKeys), read('SHARED_SCOPE', sharedKeys)]);
  const out: { client?: Record<string, unknown>; shared?: Record<string, unknown> } = {};
  if (clientAttrs.length > 0) out.client = Object.fromEntries(clientAttrs.map((a) => [a.key, a.value]));
  if (sharedAttrs.length > 0) out.shared = Object.fromEntries(sharedAttrs.map((a) => [a.key, a.value]));
  return out;
}
