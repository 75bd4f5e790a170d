// ThingsBoard's TbAbstractGetAttributesNode, shared by the originator attributes and related
// device attributes nodes: client/shared/server attributes and latest time series of one entity
// into the message metadata (prefixes cs_/shared_/ss_, latest values without one) or data.
import type { SchemaObject } from 'ajv';
import { tellFailure, tellSuccess, type JsonObject, type NodeOutput } from '../../engine/node-api.js';
import { processPatterns } from '../../engine/patterns.js';
import type { EntityId } from '../../msg/entity.js';
import type { TbMsg } from '../../msg/tb-msg.js';
import type { AttributeKv, AttributeScope } from '../../store/attributes.js';
import type { TsKvEntry } from '../../store/timeseries.js';
import type { Store } from '../../store/store.js';
import { dataObjectOf, Enrichment, FETCH_TO_SCHEMA, orFailure, tenantOf, type FetchTo } from './entity-data-fetch.js';

export interface GetAttributesConfig {
  /** Key names; `${metadataKey}` and `$[data.path]` patterns are resolved per message. */
  clientAttributeNames: string[];
  sharedAttributeNames: string[];
  serverAttributeNames: string[];
  latestTsKeyNames: string[];
  /** A missing key sends the (still enriched) message to Failure. */
  tellFailureIfAbsent: boolean;
  /** A latest value is written as {"ts":…,"value":…}. */
  getLatestValueWithTs: boolean;
  fetchTo: FetchTo;
}

export function defaultGetAttributesConfig(): GetAttributesConfig {
  return {
    clientAttributeNames: [],
    sharedAttributeNames: [],
    serverAttributeNames: [],
    latestTsKeyNames: [],
    tellFailureIfAbsent: true,
    getLatestValueWithTs: false,
    fetchTo: 'METADATA',
  };
}

const NAMES: SchemaObject = { type: 'array', items: { type: 'string' }, default: [] };

export const GET_ATTRIBUTES_PROPERTIES: Record<string, SchemaObject> = {
  clientAttributeNames: NAMES,
  sharedAttributeNames: NAMES,
  serverAttributeNames: NAMES,
  latestTsKeyNames: NAMES,
  tellFailureIfAbsent: { type: 'boolean', default: true },
  getLatestValueWithTs: { type: 'boolean', default: false },
  fetchTo: FETCH_TO_SCHEMA,
};

/**
 * Version 0 → 1: boolean `fetchToData` → `fetchTo` DATA/METADATA; absent or null → METADATA, as
 * ThingsBoard. A v0 config that already has a valid `fetchTo` (and no `fetchToData`) keeps it,
 * where ThingsBoard would overwrite it with METADATA.
 */
export function upgradeFetchToData(fromVersion: number, config: JsonObject): JsonObject {
  if (fromVersion !== 0) return config;
  const out: JsonObject = { ...config };
  const value = out.fetchToData;
  delete out.fetchToData;
  if (value === true || value === 'true') out.fetchTo = 'DATA';
  else if (value === false || value === 'false') out.fetchTo = 'METADATA';
  else if (value !== undefined && value !== null) {
    throw new Error(`property to update: 'fetchToData' has unexpected value: ${JSON.stringify(value)}. Allowed values: true or false!`);
  } else if (out.fetchTo !== 'DATA' && out.fetchTo !== 'METADATA') out.fetchTo = 'METADATA';
  return out;
}

const SCOPES: readonly { scope: AttributeScope; names: 'clientAttributeNames' | 'sharedAttributeNames' | 'serverAttributeNames'; prefix: string }[] = [
  { scope: 'CLIENT_SCOPE', names: 'clientAttributeNames', prefix: 'cs_' },
  { scope: 'SHARED_SCOPE', names: 'sharedAttributeNames', prefix: 'shared_' },
  { scope: 'SERVER_SCOPE', names: 'serverAttributeNames', prefix: 'ss_' },
];

/** ThingsBoard's reportFailures text: one line per scope (or LATEST_TS) with the missing keys. */
export function missingKeysError(missing: readonly { scope: string; keys: readonly string[] }[]): string {
  let text = 'The following attribute/telemetry keys is not present in the DB: \n';
  for (const m of missing) text += `\t[${m.scope}]:[${m.keys.join(', ')}]\n`;
  return text;
}

/**
 * Reads the configured keys of `entity` and writes them into the message. Scopes are written
 * in ThingsBoard's order (client, shared, server, latest). With tellFailureIfAbsent, any missing
 * key sends the enriched message to Failure naming the missing keys per scope.
 */
export async function enrichWithAttributes(
  store: Store,
  entity: EntityId,
  msg: TbMsg,
  config: GetAttributesConfig,
  data: Record<string, unknown> | null,
): Promise<NodeOutput> {
  const latestKeys = processPatterns(config.latestTsKeyNames, msg);
  const scoped = SCOPES.map((s) => ({ ...s, keys: processPatterns(config[s.names], msg) }));
  // Independent reads on one connection: one round trip in all.
  const noAttrs: AttributeKv[] = [];
  const noLatest: Record<string, TsKvEntry> = {};
  const [attrs, latest] = await Promise.all([
    Promise.all(scoped.map((s) => (s.keys.length === 0 ? noAttrs : store.attributes.get(entity, s.scope, s.keys)))),
    latestKeys.length === 0 ? noLatest : store.timeseries.getLatest(entity, latestKeys),
  ]);

  const out = new Enrichment(msg, config.fetchTo, data);
  const missing: { scope: string; keys: string[] }[] = [];
  scoped.forEach((s, i) => {
    const found = attrs[i] ?? [];
    for (const kv of found) out.putKv(s.prefix + kv.key, kv.value);
    if (config.tellFailureIfAbsent && found.length !== s.keys.length) {
      const present = new Set(found.map((kv) => kv.key));
      missing.push({ scope: s.scope, keys: s.keys.filter((k) => !present.has(k)) });
    }
  });
  const absentTs: string[] = [];
  for (const key of latestKeys) {
    const entry = latest[key];
    if (!entry) {
      if (config.tellFailureIfAbsent) absentTs.push(key);
    } else if (config.getLatestValueWithTs) {
      // A JSON object: nested in data, its text in metadata.
      out.putKv(key, { ts: entry.ts, value: entry.value });
    } else {
      out.putKv(key, entry.value);
    }
  }
  if (absentTs.length > 0) missing.push({ scope: 'LATEST_TS', keys: absentTs });
  const enriched = out.build();
  return missing.length === 0 ? tellSuccess(enriched) : tellFailure(enriched, missingKeysError(missing));
}

/**
 * onMsg of an attributes node: the body is checked first (fetchTo DATA, ThingsBoard's order),
 * then `findEntity` names the entity to read (or throws the node's not-found text).
 */
export function attributesOnMsg(
  store: Store,
  config: GetAttributesConfig,
  findEntity: (tenantId: string, msg: TbMsg) => Promise<EntityId>,
): (msg: TbMsg) => Promise<NodeOutput> {
  return (msg) =>
    orFailure(msg, async () => {
      const tenantId = tenantOf(msg);
      const data = config.fetchTo === 'DATA' ? dataObjectOf(msg) : null;
      const entity = await findEntity(tenantId, msg);
      return enrichWithAttributes(store, entity, msg, config, data);
    });
}
