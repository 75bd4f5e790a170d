// A device's own attribute request (HTTP GET /attributes, CoAP GET /attributes), answered as
// ThingsBoard's device actor and JsonConverter do: no keys → every client and shared attribute;
// keys of one scope only → nothing of the other; a scope without values is left out.
import type { KvValue } from '../../store/kv.js';
import type { Store } from '../../store/store.js';
import type { AttributeKv, AttributeScope } from '../../store/attributes.js';
import type { DeviceIdentity } from '../transport-api.js';

export interface DeviceAttributesReply {
  client?: Record<string, KvValue>;
  shared?: Record<string, KvValue>;
}

export async function deviceAttributes(store: Store, device: DeviceIdentity, clientKeys: readonly string[], sharedKeys: readonly string[]): Promise<DeviceAttributesReply> {
  const entity = { entityType: 'DEVICE' as const, id: device.deviceId };
  const all = clientKeys.length === 0 && sharedKeys.length === 0;
  const read = (scope: AttributeScope, keys: readonly string[]): Promise<AttributeKv[]> =>
    all ? store.attributes.getAll(entity, scope) : store.attributes.get(entity, scope, keys);
  const [client, shared] = await Promise.all([read('CLIENT_SCOPE', clientKeys), read('SHARED_SCOPE', sharedKeys)]);
  const reply: DeviceAttributesReply = {};
  if (client.length > 0) reply.client = toObject(client);
  if (shared.length > 0) reply.shared = toObject(shared);
  return reply;
}

/** Every shared attribute of the device as key → value; null when it has none. */
export async function sharedAttributes(store: Store, device: DeviceIdentity): Promise<Record<string, KvValue> | null> {
  const shared = await store.attributes.getAll({ entityType: 'DEVICE', id: device.deviceId }, 'SHARED_SCOPE');
  return shared.length > 0 ? toObject(shared) : null;
}

function toObject(kvs: readonly AttributeKv[]): Record<string, KvValue> {
  const out: Record<string, KvValue> = {};
  for (const kv of kvs) out[kv.key] = kv.value;
  return out;
}
