// Time series per entity (entity slot): latest value per key (HASH key -> `ts:json`) and history per
// key (ZSET score ts, member `ts:json`). A save is one Lua call (hot path: one round trip) that
// writes history and moves "latest" forward only (an older point never replaces a newer latest).
//
// TTL (seconds, per save) counts from the write, as ThingsBoard's Cassandra TTL does, and applies to
// history only; latest values do not expire (as in ThingsBoard). Expiring points are listed in a
// second ZSET (score = expiry); reads and writes of the key drop expired points first, and a history
// key holding only expiring points carries a Redis expiry, so abandoned keys vanish by themselves.
import type { EntityId } from '../msg/entity.js';
import { StoreValidationError } from './errors.js';
import type { StoreKeys } from './keys.js';
import { checkKvValue, checkTs, decodeKv, encodeKv, type KvValue } from './kv.js';
import { LuaScript } from './lua-script.js';
import type { SortOrder } from './page.js';
import { execAll, type RedisClient } from './redis-client.js';

export interface TsKvEntry {
  readonly ts: number;
  readonly value: KvValue;
}

export interface TsRecord {
  readonly ts: number;
  readonly values: Readonly<Record<string, KvValue>>;
}

export interface HistoryQuery {
  /** Inclusive */
  readonly startTs: number;
  /** Inclusive */
  readonly endTs: number;
  /** Default 100 */
  readonly limit?: number;
  /** Default DESC (newest first), as ThingsBoard */
  readonly order?: SortOrder;
}

const NOW_MS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// Drops the expired points of history h / expiry x.
const TRIM = `
local function trim(h, x)
  local gone = redis.call('ZRANGEBYSCORE', x, '-inf', now)
  if #gone == 0 then return end
  for _, ts in ipairs(gone) do redis.call('ZREMRANGEBYSCORE', h, ts, ts) end
  redis.call('ZREMRANGEBYSCORE', x, '-inf', now)
end`;

// KEYS: latest, key set, then per point (history, expiry).
// ARGV: ttl ms (0 = none), then per point (key, ts, encoded).
const SAVE = new LuaScript(`${NOW_MS}${TRIM}
local ttl = tonumber(ARGV[1])
for i = 0, (#KEYS - 2) / 2 - 1 do
  local h, x = KEYS[3 + 2 * i], KEYS[4 + 2 * i]
  local name, ts, enc = ARGV[2 + 3 * i], ARGV[3 + 3 * i], ARGV[4 + 3 * i]
  trim(h, x)
  local pttl = redis.call('PTTL', h)
  redis.call('ZREMRANGEBYSCORE', h, ts, ts)
  redis.call('ZADD', h, ts, enc)
  if ttl > 0 then
    local exp = now + ttl
    redis.call('ZADD', x, exp, ts)
    if pttl ~= -1 then
      -- every point of this key expires: the key goes with the last one
      if pttl > 0 and now + pttl > exp then exp = now + pttl end
      redis.call('PEXPIREAT', h, exp)
      redis.call('PEXPIREAT', x, exp)
    end
  else
    redis.call('ZREM', x, ts)
    redis.call('PERSIST', h)
    redis.call('PERSIST', x)
  end
  local cur = redis.call('HGET', KEYS[1], name)
  if not cur or tonumber(string.sub(cur, 1, string.find(cur, ':', 1, true) - 1)) <= tonumber(ts) then
    redis.call('HSET', KEYS[1], name, enc)
  end
  redis.call('SADD', KEYS[2], name)
end
return 1`);

// KEYS: history, expiry. ARGV: startTs, endTs, limit, order.
const RANGE = new LuaScript(`${NOW_MS}${TRIM}
trim(KEYS[1], KEYS[2])
if ARGV[4] == 'DESC' then
  return redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[2], ARGV[1], 'LIMIT', 0, ARGV[3])
end
return redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, ARGV[3])`);

export class TimeseriesRepository {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StoreKeys,
  ) {}

  /** Saves one or more records; `ttlSeconds` > 0 makes these history points expire. */
  async save(entity: EntityId, records: TsRecord | readonly TsRecord[], opts: { ttlSeconds?: number } = {}): Promise<void> {
    const ttl = opts.ttlSeconds ?? 0;
    if (!Number.isFinite(ttl) || ttl < 0) throw new StoreValidationError(`invalid TTL ${ttl}`);
    const keys = [this.keys.latest(entity), this.keys.timeseriesKeys(entity)];
    const args: (string | number)[] = [Math.round(ttl * 1000)];
    for (const record of Array.isArray(records) ? records : [records as TsRecord]) {
      checkTs(record.ts);
      for (const [key, value] of Object.entries(record.values)) {
        keys.push(this.keys.timeseries(entity, key), this.keys.timeseriesExpiry(entity, key));
        args.push(key, record.ts, encodeKv(record.ts, checkKvValue(key, value)));
      }
    }
    if (keys.length === 2) return;
    await SAVE.run(this.redis, keys, args);
  }

  /** Latest values of `keys` (all keys when omitted); missing keys are left out. */
  async getLatest(entity: EntityId, keys?: readonly string[]): Promise<Record<string, TsKvEntry>> {
    const out: Record<string, TsKvEntry> = {};
    if (keys === undefined) {
      const all = await this.redis.hgetall(this.keys.latest(entity));
      for (const key of Object.keys(all).sort()) out[key] = decodeKv(all[key] as string);
      return out;
    }
    if (keys.length === 0) return out;
    const raw = await this.redis.hmget(this.keys.latest(entity), ...keys);
    raw.forEach((stored, i) => {
      if (stored !== null) out[keys[i] as string] = decodeKv(stored);
    });
    return out;
  }

  /** History of each key in [startTs, endTs], at most `limit` points per key, expired points left out. */
  async getHistory(entity: EntityId, keys: readonly string[], query: HistoryQuery): Promise<Record<string, TsKvEntry[]>> {
    const limit = query.limit ?? 100;
    const order = query.order ?? 'DESC';
    if (!Number.isInteger(limit) || limit < 1) throw new StoreValidationError('limit must be a positive integer');
    if (order !== 'ASC' && order !== 'DESC') throw new StoreValidationError('order must be ASC or DESC');
    // Independent keys: concurrent calls share the connection, so this costs one round trip.
    const replies = await Promise.all(
      keys.map((key) =>
        RANGE.run(this.redis, [this.keys.timeseries(entity, key), this.keys.timeseriesExpiry(entity, key)], [query.startTs, query.endTs, limit, order]),
      ),
    );
    const out: Record<string, TsKvEntry[]> = {};
    keys.forEach((key, i) => {
      const points = (replies[i] as string[]).map(decodeKv);
      if (points.length > 0) out[key] = points;
    });
    return out;
  }

  /** Removes keys entirely (latest and history). */
  async delete(entity: EntityId, keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await execAll(
      this.redis
        .multi()
        .hdel(this.keys.latest(entity), ...keys)
        .srem(this.keys.timeseriesKeys(entity), ...keys)
        .del(...keys.flatMap((k) => [this.keys.timeseries(entity, k), this.keys.timeseriesExpiry(entity, k)])),
    );
  }

  /** Everything of the entity (entity deletion). */
  async deleteAll(entity: EntityId): Promise<void> {
    const keys = await this.redis.smembers(this.keys.timeseriesKeys(entity));
    await this.redis.del(
      this.keys.latest(entity),
      this.keys.timeseriesKeys(entity),
      ...keys.flatMap((k) => [this.keys.timeseries(entity, k), this.keys.timeseriesExpiry(entity, k)]),
    );
  }
}
