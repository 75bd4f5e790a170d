// Attributes per entity and scope: one HASH per scope in the entity's slot, field = key, value =
// `lastUpdateTs:json`. A save of many keys is one HSET (hot path: one round trip).
import type { EntityId } from '../msg/entity.js';
import { StoreValidationError } from './errors.js';
import type { StoreKeys } from './keys.js';
import { checkKvValue, checkTs, decodeKv, encodeKv, type KvValue } from './kv.js';
import type { RedisClient } from './redis-client.js';

export const ATTRIBUTE_SCOPES = ['CLIENT_SCOPE', 'SHARED_SCOPE', 'SERVER_SCOPE'] as const;
export type AttributeScope = (typeof ATTRIBUTE_SCOPES)[number];

export interface AttributeKv {
  readonly key: string;
  readonly value: KvValue;
  readonly lastUpdateTs: number;
}

export type AttributeValues = Readonly<Record<string, KvValue>> | readonly { readonly key: string; readonly value: KvValue }[];

export class AttributeRepository {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StoreKeys,
  ) {}

  /** Saves (upserts) the values with lastUpdateTs = ts. */
  async save(entity: EntityId, scope: AttributeScope, values: AttributeValues, ts: number = Date.now()): Promise<void> {
    checkScope(scope);
    checkTs(ts);
    const entries = Array.isArray(values) ? values.map((e) => [e.key, e.value] as const) : Object.entries(values);
    if (entries.length === 0) return;
    const fields: string[] = [];
    for (const [key, value] of entries) fields.push(key, encodeKv(ts, checkKvValue(key, value)));
    await this.redis.hset(this.keys.attributes(entity, scope), ...fields);
  }

  /** The attributes among `keys` that exist, in the order asked. */
  async get(entity: EntityId, scope: AttributeScope, keys: readonly string[]): Promise<AttributeKv[]> {
    checkScope(scope);
    if (keys.length === 0) return [];
    const raw = await this.redis.hmget(this.keys.attributes(entity, scope), ...keys);
    const out: AttributeKv[] = [];
    raw.forEach((stored, i) => {
      if (stored !== null) out.push(toKv(keys[i] as string, stored));
    });
    return out;
  }

  /** All attributes of the scope, sorted by key. */
  async getAll(entity: EntityId, scope: AttributeScope): Promise<AttributeKv[]> {
    checkScope(scope);
    const raw = await this.redis.hgetall(this.keys.attributes(entity, scope));
    return Object.keys(raw)
      .sort()
      .map((key) => toKv(key, raw[key] as string));
  }

  /** Returns how many existed. */
  async delete(entity: EntityId, scope: AttributeScope, keys: readonly string[]): Promise<number> {
    checkScope(scope);
    if (keys.length === 0) return 0;
    return this.redis.hdel(this.keys.attributes(entity, scope), ...keys);
  }

  /** All scopes (entity deletion). */
  async deleteAll(entity: EntityId): Promise<void> {
    await this.redis.del(...ATTRIBUTE_SCOPES.map((scope) => this.keys.attributes(entity, scope)));
  }
}

function toKv(key: string, stored: string): AttributeKv {
  const { ts, value } = decodeKv(stored);
  return { key, value, lastUpdateTs: ts };
}

function checkScope(scope: string): void {
  if (!(ATTRIBUTE_SCOPES as readonly string[]).includes(scope)) throw new StoreValidationError(`invalid attribute scope ${scope}`);
}
