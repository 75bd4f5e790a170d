// ThingsBoard's device MQTT topics (MqttTopics.java, spec/rpc.md §7.1): the v1 forms under
// `v1/devices/me/` and the short v2 forms (`v2/...`, with `/j/` for JSON; `/p/` protobuf is not
// supported here). A device answers and is answered on the variant it used.

/** v1 = `v1/devices/me/...`, v2 = `v2/...` (device profile payload, JSON here), v2j = `v2/.../j/...`. */
export type TopicVariant = 'v1' | 'v2' | 'v2j';

/** What a device may publish to. */
export type PublishTopic =
  | { readonly kind: 'telemetry' }
  | { readonly kind: 'attributes' }
  | { readonly kind: 'attributesRequest'; readonly variant: TopicVariant; readonly id: string }
  | { readonly kind: 'rpcResponse'; readonly id: string }
  | { readonly kind: 'rpcRequest'; readonly variant: TopicVariant; readonly id: string }
  /** Protobuf (`/p`) forms: recognised, not supported. */
  | { readonly kind: 'unsupported' }
  /** Inside the device API but not a known topic: ThingsBoard acknowledges and ignores it. */
  | { readonly kind: 'unknown' }
  /** Outside this device's API (another device, gateway API, anything else). */
  | { readonly kind: 'foreign' };

/** What a device may subscribe to; the others are refused. */
export type SubscriptionTopic =
  | { readonly kind: 'attributes'; readonly variant: TopicVariant }
  | { readonly kind: 'rpcRequests'; readonly variant: TopicVariant }
  /** Response filters (attribute responses, client-side RPC replies): accepted, nothing to register. */
  | { readonly kind: 'responses' }
  | { readonly kind: 'refused' };

const V1 = 'v1/devices/me/';

export const TOPICS = {
  telemetry: 'v1/devices/me/telemetry',
  attributes: 'v1/devices/me/attributes',
  attributesRequest: 'v1/devices/me/attributes/request/',
  attributesResponse: 'v1/devices/me/attributes/response/',
  rpcRequest: 'v1/devices/me/rpc/request/',
  rpcResponse: 'v1/devices/me/rpc/response/',
} as const;

// Topic tables are Maps, not object literals: a device's topic "constructor" or "__proto__" must
// not find an Object.prototype member.

/** Exact publish topics → kind. */
const PUBLISH_EXACT: ReadonlyMap<string, PublishTopic> = new Map<string, PublishTopic>([
  ['v1/devices/me/telemetry', { kind: 'telemetry' }],
  ['v1/devices/me/attributes', { kind: 'attributes' }],
  ['v2/t', { kind: 'telemetry' }],
  ['v2/t/j', { kind: 'telemetry' }],
  ['v2/a', { kind: 'attributes' }],
  ['v2/a/j', { kind: 'attributes' }],
  ['v2/t/p', { kind: 'unsupported' }],
  ['v2/a/p', { kind: 'unsupported' }],
]);

/** Prefixed publish topics, most specific first (`v2/r/req/j/` before `v2/r/req/`). */
const PUBLISH_PREFIXES: readonly (readonly [string, (id: string) => PublishTopic])[] = [
  ['v1/devices/me/rpc/request/', (id) => ({ kind: 'rpcRequest', variant: 'v1', id })],
  ['v1/devices/me/rpc/response/', (id) => ({ kind: 'rpcResponse', id })],
  ['v1/devices/me/attributes/request/', (id) => ({ kind: 'attributesRequest', variant: 'v1', id })],
  ['v2/r/req/j/', (id) => ({ kind: 'rpcRequest', variant: 'v2j', id })],
  ['v2/r/req/p/', () => ({ kind: 'unsupported' })],
  ['v2/r/req/', (id) => ({ kind: 'rpcRequest', variant: 'v2', id })],
  ['v2/r/res/j/', (id) => ({ kind: 'rpcResponse', id })],
  ['v2/r/res/p/', () => ({ kind: 'unsupported' })],
  ['v2/r/res/', (id) => ({ kind: 'rpcResponse', id })],
  ['v2/a/req/j/', (id) => ({ kind: 'attributesRequest', variant: 'v2j', id })],
  ['v2/a/req/p/', () => ({ kind: 'unsupported' })],
  ['v2/a/req/', (id) => ({ kind: 'attributesRequest', variant: 'v2', id })],
];

export function parsePublishTopic(topic: string): PublishTopic {
  const exact = PUBLISH_EXACT.get(topic);
  if (exact) return exact;
  for (const [prefix, make] of PUBLISH_PREFIXES) if (topic.startsWith(prefix)) return make(topic.slice(prefix.length));
  return topic.startsWith(V1) || topic.startsWith('v2/') ? { kind: 'unknown' } : { kind: 'foreign' };
}

const SUBSCRIPTIONS: ReadonlyMap<string, SubscriptionTopic> = new Map<string, SubscriptionTopic>([
  ['v1/devices/me/attributes', { kind: 'attributes', variant: 'v1' }],
  ['v2/a', { kind: 'attributes', variant: 'v2' }],
  ['v2/a/j', { kind: 'attributes', variant: 'v2j' }],
  ['v1/devices/me/rpc/request/+', { kind: 'rpcRequests', variant: 'v1' }],
  ['v2/r/req/+', { kind: 'rpcRequests', variant: 'v2' }],
  ['v2/r/req/j/+', { kind: 'rpcRequests', variant: 'v2j' }],
  ['v1/devices/me/rpc/response/+', { kind: 'responses' }],
  ['v2/r/res/+', { kind: 'responses' }],
  ['v2/r/res/j/+', { kind: 'responses' }],
  ['v1/devices/me/attributes/response/+', { kind: 'responses' }],
  ['v2/a/res/+', { kind: 'responses' }],
  ['v2/a/res/j/+', { kind: 'responses' }],
]);

/** ThingsBoard accepts exactly these filters (no `#`, no other wildcards). */
export function parseSubscriptionTopic(filter: string): SubscriptionTopic {
  return SUBSCRIPTIONS.get(filter) ?? { kind: 'refused' };
}

const BASES: Readonly<Record<TopicVariant, { rpcRequest: string; rpcResponse: string; attributes: string; attributesResponse: string }>> = {
  v1: { rpcRequest: TOPICS.rpcRequest, rpcResponse: TOPICS.rpcResponse, attributes: TOPICS.attributes, attributesResponse: TOPICS.attributesResponse },
  v2: { rpcRequest: 'v2/r/req/', rpcResponse: 'v2/r/res/', attributes: 'v2/a', attributesResponse: 'v2/a/res/' },
  v2j: { rpcRequest: 'v2/r/req/j/', rpcResponse: 'v2/r/res/j/', attributes: 'v2/a/j', attributesResponse: 'v2/a/res/j/' },
};

export const rpcRequestTopic = (variant: TopicVariant, id: number): string => BASES[variant].rpcRequest + id;
export const rpcResponseTopic = (variant: TopicVariant, id: number): string => BASES[variant].rpcResponse + id;
export const attributesTopic = (variant: TopicVariant): string => BASES[variant].attributes;
export const attributesResponseTopic = (variant: TopicVariant, id: number): string => BASES[variant].attributesResponse + id;

/** A request id from a topic suffix: a non-negative int, as ThingsBoard's Integer.parseInt needs. */
export function parseRequestId(text: string): number | null {
  if (!/^\d{1,10}$/.test(text)) return null;
  const n = Number(text);
  return n <= 0x7fffffff ? n : null;
}

/** MQTT filter match (`+` one level, `#` the rest), for the QoS of a server publish. */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter === topic) return true;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}
