import { defineNode, FAILURE, NodeConfigError, requireStore, SUCCESS, tell, tellSuccess, type JsonObject } from '../../engine/node-api.js';
import { MsgType } from '../../msg/msg-types.js';
import { isPlainObject, parseMsgData, transformMsg, type TbMsg } from '../../msg/tb-msg.js';
import { entityKey } from '../../store/ids.js';
import type { KvValue } from '../../store/kv.js';
import { setOwn } from '../transform/TbCopyKeysNode.js';
import { orFailure, tenantOf } from './entity-data-fetch.js';

export const OTHER = 'Other';

export interface CalculateDeltaNodeConfig {
  /** Key of the reading in the message data. */
  inputValueKey: string;
  /** Key the delta is written to in the message data. */
  outputValueKey: string;
  /** Keep the previous reading per originator in memory; else read the latest time series each time. */
  useCache: boolean;
  addPeriodBetweenMsgs: boolean;
  /** Key of the milliseconds since the previous reading (addPeriodBetweenMsgs). */
  periodValueKey: string;
  /** Decimal places of the delta (half-up), 0..15; absent: no rounding. */
  round?: number;
  tellFailureIfDeltaIsNegative: boolean;
  /** A zero delta passes the message unchanged (no delta or period keys). */
  excludeZeroDeltas: boolean;
}

interface Reading {
  readonly ts: number;
  readonly value: number;
}

// ThingsBoard keeps the cache in soft references (dropped under memory pressure); a bounded map
// with least-recently-updated eviction keeps memory bounded here.
const MAX_CACHED_ORIGINATORS = 100_000;

/** Version 0 → 1 adds excludeZeroDeltas: false. */
function upgrade(fromVersion: number, config: JsonObject): JsonObject {
  if (fromVersion !== 0 || 'excludeZeroDeltas' in config) return config;
  return { ...config, excludeZeroDeltas: false };
}

/** The reading in the message: a number, or a string that parses as one (Jackson's asDouble); anything else is refused. */
function currentReading(value: unknown, key: string): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    const n = parseNumber(value);
    if (n !== undefined) return n;
  }
  if (typeof value === 'boolean') throw new Error('Calculation failed. Boolean values are not supported!');
  if (typeof value === 'object' && value !== null) throw new Error('Calculation failed. JSON values are not supported!');
  throw new Error(`Calculation failed. Unable to parse value [${String(value)}] of input key [${key}] to Double`);
}

/** The previous reading from the store (ThingsBoard's extractValue and texts). */
function storedReading(ts: number, value: KvValue, key: string): Reading {
  if (typeof value === 'number') return { ts, value };
  if (typeof value === 'string') {
    const n = parseNumber(value);
    if (n === undefined) throw new Error(`Calculation failed. Unable to parse value [${value}] of telemetry [${key}] to Double`);
    return { ts, value: n };
  }
  if (typeof value === 'boolean') throw new Error('Calculation failed. Boolean values are not supported!');
  throw new Error('Calculation failed. JSON values are not supported!');
}

function parseNumber(text: string): number | undefined {
  if (text.trim() === '') return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/** ThingsBoard's TbMsg.getMetaDataTs: metadata "ts" when it is an integer, else the message ts. */
function metaDataTs(msg: TbMsg): number {
  const text = msg.metaData.ts;
  return text !== undefined && /^[+-]?\d+$/.test(text) ? Number(text) : msg.ts;
}

/**
 * Java's BigDecimal.valueOf(x).setScale(scale, HALF_UP): rounds the shortest decimal text of x
 * (not its binary value, so 1.005 → 1.01 at 2 places).
 */
export function roundHalfUp(x: number, scale: number): number {
  if (!Number.isFinite(x)) return x;
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(Math.abs(x)));
  if (!m) return x;
  let digits = (m[1] ?? '') + (m[2] ?? '');
  let point = (m[1] ?? '').length + Number(m[3] ?? 0);
  if (point < 0) {
    digits = '0'.repeat(-point) + digits;
    point = 0;
  }
  if (point > digits.length) digits += '0'.repeat(point - digits.length);
  const keep = point + scale;
  if (keep >= digits.length) return x;
  let n = BigInt(digits.slice(0, keep) || '0');
  if ((digits[keep] ?? '0') >= '5') n += 1n;
  const text = n.toString().padStart(scale + 1, '0');
  const rounded = Number(scale > 0 ? `${text.slice(0, text.length - scale)}.${text.slice(text.length - scale)}` : text);
  return x < 0 ? -rounded : rounded;
}

/**
 * For POST_TELEMETRY_REQUEST messages whose data holds inputValueKey: adds the difference to
 * the originator's previous reading (0 for the first) as outputValueKey, and optionally the
 * milliseconds since it. Messages of one originator are handled one at a time, in order, as
 * ThingsBoard's per-originator queue does. Other messages: "Other".
 */
export const CalculateDeltaNode = defineNode<CalculateDeltaNodeConfig>({
  type: 'org.thingsboard.rule.engine.metadata.CalculateDeltaNode',
  category: 'ENRICHMENT',
  uiName: 'calculate delta',
  version: 1,
  relations: [SUCCESS, FAILURE, OTHER],
  configSchema: {
    type: 'object',
    properties: {
      inputValueKey: { type: 'string', default: 'pulseCounter' },
      outputValueKey: { type: 'string', default: 'delta' },
      useCache: { type: 'boolean', default: true },
      addPeriodBetweenMsgs: { type: 'boolean', default: false },
      periodValueKey: { type: 'string', default: 'periodInMs' },
      round: { type: 'integer', minimum: 0, maximum: 15 },
      tellFailureIfDeltaIsNegative: { type: 'boolean', default: true },
      excludeZeroDeltas: { type: 'boolean', default: false },
    },
  },
  defaultConfig: {
    inputValueKey: 'pulseCounter',
    outputValueKey: 'delta',
    useCache: true,
    addPeriodBetweenMsgs: false,
    periodValueKey: 'periodInMs',
    tellFailureIfDeltaIsNegative: true,
    excludeZeroDeltas: false,
  },
  upgrade,
  create(config, init) {
    // ThingsBoard's init checks and texts.
    if (config.inputValueKey.trim() === '') throw new NodeConfigError('Input value key should be specified!', '/inputValueKey');
    if (config.outputValueKey.trim() === '') throw new NodeConfigError('Output value key should be specified!', '/outputValueKey');
    if (config.addPeriodBetweenMsgs && config.periodValueKey.trim() === '') {
      throw new NodeConfigError('Period value key should be specified!', '/periodValueKey');
    }
    const store = requireStore(init);
    const key = config.inputValueKey;
    const cache = new Map<string, Reading>();
    /** Per originator: the tail of its chain of pending messages. */
    const queues = new Map<string, Promise<unknown>>();

    function remember(originator: string, reading: Reading): void {
      cache.delete(originator);
      cache.set(originator, reading);
      if (cache.size > MAX_CACHED_ORIGINATORS) cache.delete(cache.keys().next().value as string);
    }

    async function previous(msg: TbMsg, originator: string): Promise<Reading | undefined> {
      const cached = config.useCache ? cache.get(originator) : undefined;
      if (cached) return cached;
      const latest = (await store.timeseries.getLatest(msg.originator, [key]))[key];
      return latest ? storedReading(latest.ts, latest.value, key) : undefined;
    }

    async function process(msg: TbMsg, data: Record<string, unknown>, originator: string) {
      tenantOf(msg);
      const current = currentReading(data[key], key);
      const prev = await previous(msg, originator);
      const ts = metaDataTs(msg);
      // Cached before the checks below, as ThingsBoard: a negative delta still moves the baseline.
      if (config.useCache) remember(originator, { ts, value: current });
      const delta = prev ? current - prev.value : 0;
      if (config.tellFailureIfDeltaIsNegative && delta < 0) throw new Error('Delta value is negative!');
      if (config.excludeZeroDeltas && delta === 0) return tellSuccess(msg);
      setOwn(data, config.outputValueKey, config.round === undefined ? delta : roundHalfUp(delta, config.round));
      if (config.addPeriodBetweenMsgs) setOwn(data, config.periodValueKey, prev ? ts - prev.ts : 0);
      return tellSuccess(transformMsg(msg, { data: JSON.stringify(data) }));
    }

    return {
      onMsg(msg) {
        if (msg.type !== MsgType.POST_TELEMETRY_REQUEST) return tell(msg, OTHER);
        const data = parseMsgData(msg);
        if (!isPlainObject(data) || !Object.prototype.hasOwnProperty.call(data, key)) return tell(msg, OTHER);
        const originator = entityKey(msg.originator);
        const before = queues.get(originator) ?? Promise.resolve();
        const result = before.then(() => orFailure(msg, () => process(msg, data, originator)));
        queues.set(originator, result);
        // The last message of an originator removes its queue entry.
        void result.then(() => {
          if (queues.get(originator) === result) queues.delete(originator);
        });
        return result;
      },
      destroy() {
        cache.clear();
        queues.clear();
      },
    };
  },
});
