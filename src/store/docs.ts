// JSON documents in Redis strings: batch reads, compare-and-set, and saves guarded by a unique name.
import { parseDoc } from './json.js';
import { LuaScript } from './lua-script.js';
import type { RedisClient } from './redis-client.js';

/** MGET of same-tag keys; missing documents are skipped. */
export async function getDocs<T>(redis: RedisClient, keys: readonly string[]): Promise<T[]> {
  if (keys.length === 0) return [];
  const raw = await redis.mget(...keys);
  const out: T[] = [];
  for (const text of raw) if (text !== null) out.push(parseDoc<T>(text));
  return out;
}

const CAS_SET = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1`);

/** Replaces the document only if it still is `expected` (the exact text that was read). */
export async function casSet(redis: RedisClient, key: string, expected: string, next: string): Promise<boolean> {
  return (await CAS_SET.run(redis, [key], [expected, next])) === 1;
}

const SAVE_NAMED = new LuaScript(`
local cur = redis.call('GET', KEYS[1])
if ARGV[2] == '' then
  if cur then return 'EXISTS' end
elseif cur ~= ARGV[2] then
  return 'STALE'
end
if ARGV[4] ~= ARGV[5] then
  local holder = redis.call('HGET', KEYS[2], ARGV[5])
  if holder and holder ~= ARGV[1] then return 'DUPLICATE' end
  if ARGV[4] ~= '' and redis.call('HGET', KEYS[2], ARGV[4]) == ARGV[1] then redis.call('HDEL', KEYS[2], ARGV[4]) end
  redis.call('HSET', KEYS[2], ARGV[5], ARGV[1])
end
if ARGV[2] == '' then redis.call('ZADD', KEYS[3], ARGV[6], ARGV[1]) end
redis.call('SET', KEYS[1], ARGV[3])
if ARGV[7] == 'nx' then redis.call('SET', KEYS[4], ARGV[1], 'NX')
elseif ARGV[7] == 'set' then redis.call('SET', KEYS[4], ARGV[1]) end
return 'OK'`);

export type NamedSaveResult = 'OK' | 'EXISTS' | 'STALE' | 'DUPLICATE';

export interface NamedDocKeys {
  readonly doc: string;
  /** HASH name -> id */
  readonly names: string;
  /** ZSET createdTime -> id */
  readonly byCreated: string;
  /** STRING pointer (default/root id), same tag */
  readonly pointer?: string;
}

export interface NamedDocWrite {
  readonly id: string;
  /** The document text read before (update), or undefined (create). */
  readonly expected?: string;
  readonly next: string;
  readonly oldName?: string;
  readonly newName: string;
  readonly createdTime: number;
  /** nx: point at this document when nothing is pointed at; set: always. */
  readonly pointer?: 'nx' | 'set';
}

/** Creates or updates a document whose name is unique in its index, in one atomic step. */
export async function saveNamedDoc(redis: RedisClient, keys: NamedDocKeys, w: NamedDocWrite): Promise<NamedSaveResult> {
  const reply = await SAVE_NAMED.run(
    redis,
    [keys.doc, keys.names, keys.byCreated, keys.pointer ?? keys.doc],
    [w.id, w.expected ?? '', w.next, w.oldName ?? '', w.newName, w.createdTime, w.pointer ?? ''],
  );
  return String(reply) as NamedSaveResult;
}
