// Debug and trace events per entity and type: a Redis STREAM per (entity, type), capped by XADD
// MAXLEN (one command per append), read newest first with XREVRANGE.
import type { EntityId } from '../msg/entity.js';
import { StoreValidationError } from './errors.js';
import { idOf } from './ids.js';
import { parseDoc, type JsonValue } from './json.js';
import type { StoreKeys } from './keys.js';
import type { RedisClient } from './redis-client.js';

/** ThingsBoard's event types, plus TRACE for our message traces. */
export const EVENT_TYPES = ['DEBUG_RULE_NODE', 'DEBUG_RULE_CHAIN', 'ERROR', 'LC_EVENT', 'STATS', 'TRACE'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const DEFAULT_MAX_EVENTS_PER_ENTITY = 1000;

export interface StoredEvent {
  /** Stream entry id (`<ms>-<seq>`), increasing */
  readonly id: string;
  readonly createdTime: number;
  readonly tenantId: string;
  readonly entityId: EntityId;
  readonly type: EventType;
  readonly body: JsonValue;
}

export interface EventQuery {
  /** Default 100 */
  readonly limit?: number;
  /** Inclusive, ms */
  readonly startTs?: number;
  /** Inclusive, ms */
  readonly endTs?: number;
}

export class EventRepository {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StoreKeys,
    /** Events kept per entity and type; older ones are trimmed on append. */
    readonly maxPerEntity: number = DEFAULT_MAX_EVENTS_PER_ENTITY,
  ) {
    if (!Number.isInteger(maxPerEntity) || maxPerEntity < 1) throw new StoreValidationError('maxPerEntity must be a positive integer');
  }

  /** Appends an event; returns its id. */
  async append(tenantId: string, entity: EntityId, type: EventType, body: JsonValue): Promise<string> {
    checkType(type);
    const id = await this.redis.xadd(this.keys.events(entity, type), 'MAXLEN', this.maxPerEntity, '*', 't', tenantId, 'b', JSON.stringify(body));
    return id ?? '';
  }

  /** Newest first. */
  async list(entity: EntityId, type: EventType, query: EventQuery = {}): Promise<StoredEvent[]> {
    checkType(type);
    const limit = query.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1) throw new StoreValidationError('limit must be a positive integer');
    const end = query.endTs === undefined ? '+' : `${query.endTs}-${Number.MAX_SAFE_INTEGER}`;
    const start = query.startTs === undefined ? '-' : `${query.startTs}-0`;
    const entries = await this.redis.xrevrange(this.keys.events(entity, type), end, start, 'COUNT', limit);
    const entityId = idOf(entity.entityType, entity.id);
    return entries.map(([id, fields]) => {
      const f = fieldMap(fields);
      return {
        id,
        createdTime: Number(id.slice(0, id.indexOf('-'))),
        tenantId: f.t ?? '',
        entityId,
        type,
        body: parseDoc<JsonValue>(f.b ?? 'null'),
      };
    });
  }

  /** Events of one type, or of every type. */
  async clear(entity: EntityId, type?: EventType): Promise<void> {
    const types = type === undefined ? EVENT_TYPES : [type];
    await this.redis.del(...types.map((t) => this.keys.events(entity, t)));
  }

  /** Entity deletion. */
  async deleteAll(entity: EntityId): Promise<void> {
    await this.clear(entity);
  }
}

function fieldMap(fields: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i] as string] = fields[i + 1] as string;
  return out;
}

function checkType(type: string): void {
  if (!(EVENT_TYPES as readonly string[]).includes(type)) throw new StoreValidationError(`invalid event type ${type}`);
}
