import type { SchemaObject } from 'ajv';
import {
  defineNode,
  FAILURE,
  type JsonObject,
  NodeConfigError,
  requireStore,
  SUCCESS,
  tellFailure,
  tellSuccess,
} from '../../engine/node-api.js';
import type { EntityId } from '../../msg/entity.js';
import { MsgType } from '../../msg/msg-types.js';
import { isPlainObject, type TbMsg } from '../../msg/tb-msg.js';
import { checkKvValue, checkTs, encodeKv, type KvValue } from '../../store/kv.js';
import { LuaScript } from '../../store/lua-script.js';
import type { Store } from '../../store/store.js';
import type { TsRecord } from '../../store/timeseries.js';

// ---------------------------------------------------------------------------------------------
// Shared by the store nodes (attributes, relations, alarms import these).

/** The tenant a store node works in; a message without one is a bug upstream, reported as Failure. */
export function tenantOf(msg: TbMsg): string {
  if (!msg.tenantId) throw new Error(`Message ${msg.id} has no tenantId: store nodes need the tenant of the message`);
  return msg.tenantId;
}

/** ThingsBoard's TbMsg.getMetaDataTs(): metadata.ts when it parses as a long, else the message ts. */
export function metaDataTs(msg: TbMsg): number {
  const text = msg.metaData.ts;
  if (text !== undefined && /^[-+]?\d+$/.test(text)) {
    const ts = Number(text);
    if (Number.isSafeInteger(ts)) return ts;
  }
  return msg.ts;
}

// ---------------------------------------------------------------------------------------------
// ThingsBoard's JsonConverter (the transport's and the save nodes' reading of key-value JSON).

/** commons-lang NumberUtils.isParsable: optional '-', digits with at most one '.', no trailing '.', no exponent. */
const PARSABLE = /^-?(?:\d+(?:\.\d*)?|\.\d+)$/;

/**
 * A string value as ThingsBoard's type cast (json.type_cast_enabled, default true) stores it:
 * "25" → 25, "1.5" → 1.5, other strings unchanged. Integers beyond 2^53 and decimals with more
 * than 16 fraction digits stay strings (ThingsBoard keeps longs up to 2^63; JS numbers cannot).
 */
function castString(value: string): KvValue {
  if (!PARSABLE.test(value) || value.endsWith('.')) return value;
  const dot = value.indexOf('.');
  if (dot < 0) {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value;
  }
  if (value.length - dot - 1 > 16) return value;
  return Number(value);
}

/** JsonConverter.parseValues: one entry per key; null values are refused as ThingsBoard does. */
export function convertToKvEntries(values: Record<string, unknown>): { key: string; value: KvValue }[] {
  const out: { key: string; value: KvValue }[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (typeof value === 'string') out.push({ key, value: castString(value) });
    else if (typeof value === 'boolean' || typeof value === 'number' || (typeof value === 'object' && value !== null)) {
      out.push({ key, value: value as KvValue });
    } else throw new Error(`Can't parse value: ${JSON.stringify(value) ?? String(value)}`);
  }
  return out;
}

/** msg.data parsed as JSON, or an Error naming the data. */
export function parseJsonData(msg: TbMsg): unknown {
  try {
    return JSON.parse(msg.data) as unknown;
  } catch {
    throw new Error(`Msg data is not a valid JSON: ${msg.data.length > 200 ? `${msg.data.slice(0, 200)}…` : msg.data}`);
  }
}

/** Gson's getAsJsonObject() failure text. */
export function notAnObject(value: unknown): Error {
  return new Error(`Not a JSON Object: ${JSON.stringify(value)}`);
}

/**
 * JsonConverter.convertToTelemetry: `{k: v}` (at systemTs), `{ts, values}`, or an array of
 * either. Points of the same ts are merged (a repeated key: the last value wins).
 */
export function convertToTelemetry(data: unknown, systemTs: number): TsRecord[] {
  const byTs = new Map<number, Record<string, KvValue>>();
  const add = (ts: number, values: Record<string, unknown>) => {
    for (const { key, value } of convertToKvEntries(values)) {
      let record = byTs.get(ts);
      if (!record) {
        // No prototype: a "__proto__" key stays an ordinary key.
        record = Object.create(null) as Record<string, KvValue>;
        byTs.set(ts, record);
      }
      record[key] = value;
    }
  };
  const parseObject = (jo: Record<string, unknown>) => {
    if (Object.hasOwn(jo, 'ts') && Object.hasOwn(jo, 'values')) {
      if (!isPlainObject(jo.values)) throw notAnObject(jo.values);
      add(tsOf(jo.ts), jo.values);
    } else add(systemTs, jo);
  };
  if (isPlainObject(data)) parseObject(data);
  else if (Array.isArray(data)) {
    for (const element of data) {
      if (!isPlainObject(element)) throw new Error(`Can't parse value: ${JSON.stringify(element)}`);
      parseObject(element);
    }
  } else throw new Error(`Can't parse value: ${JSON.stringify(data)}`);
  return [...byTs].map(([ts, values]) => ({ ts, values }));
}

/** Gson's getAsLong(): a number, or a string holding one. */
function tsOf(value: unknown): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw new Error(`Can't parse value: ts ${JSON.stringify(value)}`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Processing settings (ThingsBoard 4.x TimeseriesProcessingSettings / AttributesProcessingSettings).

export type ProcessingStrategyConfig =
  | { readonly type: 'ON_EVERY_MESSAGE' }
  | { readonly type: 'SKIP' }
  | { readonly type: 'DEDUPLICATE'; readonly deduplicationIntervalSecs: number };

export type BasicProcessingSettings =
  | { readonly type: 'ON_EVERY_MESSAGE' }
  | { readonly type: 'WEBSOCKETS_ONLY' }
  | { readonly type: 'DEDUPLICATE'; readonly deduplicationIntervalSecs: number };

export type AdvancedProcessingSettings<A extends string> = { readonly type: 'ADVANCED' } & { readonly [K in A]: ProcessingStrategyConfig };

export type ProcessingSettings<A extends string> = BasicProcessingSettings | AdvancedProcessingSettings<A>;

const STRATEGY_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['type'],
  properties: {
    type: { type: 'string', enum: ['ON_EVERY_MESSAGE', 'DEDUPLICATE', 'SKIP'] },
    deduplicationIntervalSecs: { type: 'integer' },
  },
  if: { required: ['type'], properties: { type: { const: 'DEDUPLICATE' } } },
  then: { required: ['deduplicationIntervalSecs'] },
};

/** The schema of processingSettings whose ADVANCED form has one strategy per action. */
export function processingSettingsSchema(actions: readonly string[]): SchemaObject {
  return {
    type: 'object',
    required: ['type'],
    properties: {
      type: { type: 'string', enum: ['ON_EVERY_MESSAGE', 'WEBSOCKETS_ONLY', 'DEDUPLICATE', 'ADVANCED'] },
      deduplicationIntervalSecs: { type: 'integer' },
      ...Object.fromEntries(actions.map((a) => [a, STRATEGY_SCHEMA])),
    },
    allOf: [
      { if: { required: ['type'], properties: { type: { const: 'DEDUPLICATE' } } }, then: { required: ['deduplicationIntervalSecs'] } },
      { if: { required: ['type'], properties: { type: { const: 'ADVANCED' } } }, then: { required: [...actions] } },
    ],
    default: { type: 'ON_EVERY_MESSAGE' },
  };
}

type ShouldProcess = (ts: number, originatorId: string) => boolean;

const MAX_DEDUPLICATION_INTERVAL_SECS = 86_400;
const MAX_TOTAL_INTERVALS_SECS = 2 * 86_400;
const MAX_NUMBER_OF_INTERVALS = 100;

/**
 * ThingsBoard's DeduplicateProcessingStrategy: the first message of each originator in each
 * interval (ts / interval) passes. In memory per node, like ThingsBoard's cache; the last
 * min(2 days / interval, 100) intervals are remembered.
 */
function deduplicator(intervalSecs: number, pointer: string): ShouldProcess {
  if (!Number.isInteger(intervalSecs) || intervalSecs < 1 || intervalSecs > MAX_DEDUPLICATION_INTERVAL_SECS) {
    throw new NodeConfigError(
      `Deduplication interval must be at least 1 second(s) and at most ${MAX_DEDUPLICATION_INTERVAL_SECS} second(s), was ${intervalSecs} second(s)`,
      `${pointer}/deduplicationIntervalSecs`,
    );
  }
  const intervalMs = intervalSecs * 1000;
  const maxIntervals = Math.min(Math.floor(MAX_TOTAL_INTERVALS_SECS / intervalSecs), MAX_NUMBER_OF_INTERVALS);
  const seen = new Map<number, Set<string>>();
  return (ts, originatorId) => {
    const interval = Math.floor(ts / intervalMs);
    let originators = seen.get(interval);
    if (originators) seen.delete(interval);
    else originators = new Set();
    // Re-inserted on each use: the Map's first key is the least recently used interval.
    seen.set(interval, originators);
    if (seen.size > maxIntervals) seen.delete(seen.keys().next().value as number);
    if (originators.has(originatorId)) return false;
    originators.add(originatorId);
    return true;
  };
}

function strategyOf(config: ProcessingStrategyConfig, pointer: string): ShouldProcess {
  switch (config.type) {
    case 'ON_EVERY_MESSAGE':
      return () => true;
    case 'SKIP':
      return () => false;
    case 'DEDUPLICATE':
      return deduplicator(config.deduplicationIntervalSecs, pointer);
  }
}

/**
 * Which actions run for a message (ThingsBoard's determineSaveStrategy): all of them
 * (ON_EVERY_MESSAGE), only "webSockets" (WEBSOCKETS_ONLY), all or none (DEDUPLICATE), or each
 * by its own strategy (ADVANCED). Throws NodeConfigError for a bad deduplication interval.
 */
export function processingDecider<A extends string>(
  settings: ProcessingSettings<A>,
  actions: readonly A[],
): (ts: number, originatorId: string) => Record<A, boolean> {
  const all = (value: boolean) => Object.fromEntries(actions.map((a) => [a, value])) as Record<A, boolean>;
  switch (settings.type) {
    case 'ON_EVERY_MESSAGE': {
      const yes = all(true);
      return () => yes;
    }
    case 'WEBSOCKETS_ONLY': {
      const wsOnly = Object.fromEntries(actions.map((a) => [a, a === 'webSockets'])) as Record<A, boolean>;
      return () => wsOnly;
    }
    case 'DEDUPLICATE': {
      const first = deduplicator(settings.deduplicationIntervalSecs, '/processingSettings');
      return (ts, id) => all(first(ts, id));
    }
    case 'ADVANCED': {
      const advanced = settings as AdvancedProcessingSettings<A>;
      const each = actions.map((a) => [a, strategyOf(advanced[a], `/processingSettings/${a}`)] as const);
      // Every strategy is asked, as in ThingsBoard, so that each deduplicator sees every message.
      return (ts, id) => Object.fromEntries(each.map(([a, should]) => [a, should(ts, id)])) as Record<A, boolean>;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Time-series writes that TimeseriesRepository does not offer (ADVANCED with latest or
// timeseries = SKIP). They follow the repository's key layout and value encoding exactly;
// TODO(store): move them into TimeseriesRepository.save as options.

// KEYS: key set, then per point (history, expiry). ARGV: ttl ms (0 = none), then per point (key, ts, encoded).
const SAVE_HISTORY_ONLY = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i = 0, (#KEYS - 1) / 2 - 1 do
  local h, x = KEYS[2 + 2 * i], KEYS[3 + 2 * i]
  local name, ts, enc = ARGV[2 + 3 * i], ARGV[3 + 3 * i], ARGV[4 + 3 * i]
  local gone = redis.call('ZRANGEBYSCORE', x, '-inf', now)
  if #gone > 0 then
    for _, g in ipairs(gone) do redis.call('ZREMRANGEBYSCORE', h, g, g) end
    redis.call('ZREMRANGEBYSCORE', x, '-inf', now)
  end
  local pttl = redis.call('PTTL', h)
  redis.call('ZREMRANGEBYSCORE', h, ts, ts)
  redis.call('ZADD', h, ts, enc)
  if ttl > 0 then
    local exp = now + ttl
    redis.call('ZADD', x, exp, ts)
    if pttl ~= -1 then
      if pttl > 0 and now + pttl > exp then exp = now + pttl end
      redis.call('PEXPIREAT', h, exp)
      redis.call('PEXPIREAT', x, exp)
    end
  else
    redis.call('ZREM', x, ts)
    redis.call('PERSIST', h)
    redis.call('PERSIST', x)
  end
  redis.call('SADD', KEYS[1], name)
end
return 1`);

// KEYS: latest hash. ARGV: per point (key, ts, encoded). Latest only moves forward.
const SAVE_LATEST_ONLY = new LuaScript(`
for i = 1, #ARGV, 3 do
  local name, ts, enc = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local cur = redis.call('HGET', KEYS[1], name)
  if not cur or tonumber(string.sub(cur, 1, string.find(cur, ':', 1, true) - 1)) <= tonumber(ts) then
    redis.call('HSET', KEYS[1], name, enc)
  end
end
return 1`);

function points(records: readonly TsRecord[]): { key: string; ts: number; encoded: string }[] {
  return records.flatMap((r) => {
    checkTs(r.ts);
    return Object.entries(r.values).map(([key, value]) => ({ key, ts: r.ts, encoded: encodeKv(r.ts, checkKvValue(key, value)) }));
  });
}

async function saveHistoryOnly(store: Store, entity: EntityId, records: readonly TsRecord[], ttlSeconds: number): Promise<void> {
  if (!Number.isFinite(ttlSeconds) || ttlSeconds < 0) throw new Error(`invalid TTL ${ttlSeconds}`);
  const ps = points(records);
  if (ps.length === 0) return;
  const keys = [store.keys.timeseriesKeys(entity), ...ps.flatMap((p) => [store.keys.timeseries(entity, p.key), store.keys.timeseriesExpiry(entity, p.key)])];
  await SAVE_HISTORY_ONLY.run(store.redis, keys, [Math.round(ttlSeconds * 1000), ...ps.flatMap((p) => [p.key, p.ts, p.encoded])]);
}

async function saveLatestOnly(store: Store, entity: EntityId, records: readonly TsRecord[]): Promise<void> {
  const ps = points(records);
  if (ps.length === 0) return;
  await SAVE_LATEST_ONLY.run(store.redis, [store.keys.latest(entity)], ps.flatMap((p) => [p.key, p.ts, p.encoded]));
}

// ---------------------------------------------------------------------------------------------

const TS_ACTIONS = ['timeseries', 'latest', 'webSockets', 'calculatedFields'] as const;
type TsAction = (typeof TS_ACTIONS)[number];

export interface TbMsgTimeseriesNodeConfig {
  /** Seconds; 0 = keep forever (ThingsBoard would use the tenant profile's default, which rpc-chains does not have). */
  defaultTTL: number;
  /** Use the server's clock instead of metadata.ts. */
  useServerTs: boolean;
  processingSettings: ProcessingSettings<TsAction>;
}

/**
 * Saves the time series of a POST_TELEMETRY_REQUEST for the originator, then Success. The data
 * is `{k: v}` (at metadata.ts, or now with useServerTs), `{ts, values}` or an array of those.
 * TTL: metadata.TTL, else defaultTTL (seconds; history only). Processing settings decide which
 * of history ("timeseries") and latest values are written; DEDUPLICATE keeps the first message
 * per originator and interval (in memory, per node, as ThingsBoard). rpc-chains has no WebSocket
 * subscriptions or calculated fields: those two actions only count in ThingsBoard's
 * short-circuit (nothing to do at all → Success without reading the data).
 */
export const TbMsgTimeseriesNode = defineNode<TbMsgTimeseriesNodeConfig>({
  type: 'org.thingsboard.rule.engine.telemetry.TbMsgTimeseriesNode',
  category: 'ACTION',
  uiName: 'save time series',
  version: 1,
  relations: [SUCCESS, FAILURE],
  configSchema: {
    type: 'object',
    properties: {
      defaultTTL: { type: 'integer', minimum: 0, default: 0 },
      useServerTs: { type: 'boolean', default: false },
      processingSettings: processingSettingsSchema(TS_ACTIONS),
    },
  },
  defaultConfig: { defaultTTL: 0, useServerTs: false, processingSettings: { type: 'ON_EVERY_MESSAGE' } },
  upgrade(fromVersion, config) {
    if (fromVersion !== 0) return config;
    // 0→1: skipLatestPersistence becomes processing settings (ThingsBoard compares its text with "true").
    const { skipLatestPersistence, ...out }: JsonObject = config;
    out.processingSettings =
      String(skipLatestPersistence) === 'true'
        ? {
            type: 'ADVANCED',
            timeseries: { type: 'ON_EVERY_MESSAGE' },
            latest: { type: 'SKIP' },
            webSockets: { type: 'ON_EVERY_MESSAGE' },
            calculatedFields: { type: 'ON_EVERY_MESSAGE' },
          }
        : { type: 'ON_EVERY_MESSAGE' };
    return out;
  },
  create(config, init) {
    const store = requireStore(init);
    const decide = processingDecider(config.processingSettings, TS_ACTIONS);
    return {
      async onMsg(msg) {
        if (msg.type !== MsgType.POST_TELEMETRY_REQUEST) return tellFailure(msg, `Unsupported msg type: ${msg.type}`);
        try {
          tenantOf(msg);
          const ts = config.useServerTs ? init.services.now() : metaDataTs(msg);
          const todo = decide(ts, msg.originator.id);
          if (!todo.timeseries && !todo.latest && !todo.webSockets && !todo.calculatedFields) return tellSuccess(msg);
          const records = convertToTelemetry(parseJsonData(msg), ts);
          if (records.length === 0) return tellFailure(msg, `Msg body is empty: ${msg.data}`);
          const ttl = ttlOf(msg, config.defaultTTL);
          if (todo.timeseries && todo.latest) await store.timeseries.save(msg.originator, records, { ttlSeconds: ttl });
          else if (todo.timeseries) await saveHistoryOnly(store, msg.originator, records, ttl);
          else if (todo.latest) await saveLatestOnly(store, msg.originator, records);
          return tellSuccess(msg);
        } catch (e) {
          return tellFailure(msg, e);
        }
      },
    };
  },
});

/** metadata.TTL (seconds) when set, else the node's default. */
function ttlOf(msg: TbMsg, defaultTTL: number): number {
  const text = msg.metaData.TTL;
  if (text === undefined || text === '') return defaultTTL;
  if (!/^[-+]?\d+$/.test(text)) throw new Error(`metadata.TTL "${text}" is not a whole number of seconds`);
  return Number(text);
}
