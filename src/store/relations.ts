// Entity relations, indexed both ways in the tenant slot: per (group, entity) a "from" ZSET and a
// "to" ZSET whose scores are a per-tenant creation counter, so every listing and query comes back
// in creation order (oldest first). findByQuery is ThingsBoard's BaseRelationService BFS.
import { isEntityType, type EntityId, type EntityType } from '../msg/entity.js';
import { StoreValidationError } from './errors.js';
import { entityKey, idOf } from './ids.js';
import { parseDoc, type JsonValue } from './json.js';
import type { StoreKeys } from './keys.js';
import { LuaScript } from './lua-script.js';
import { execAll, type RedisClient } from './redis-client.js';

export const RELATION_TYPE_GROUPS = ['COMMON', 'DASHBOARD', 'RULE_CHAIN', 'RULE_NODE', 'EDGE', 'EDGE_AUTO_ASSIGN_RULE_CHAIN'] as const;
export type RelationTypeGroup = (typeof RELATION_TYPE_GROUPS)[number];
export type SearchDirection = 'FROM' | 'TO';

export interface EntityRelation {
  readonly from: EntityId;
  readonly to: EntityId;
  readonly type: string;
  readonly typeGroup: RelationTypeGroup;
  readonly additionalInfo: JsonValue | null;
}

export interface RelationInput {
  readonly from: EntityId;
  readonly to: EntityId;
  readonly type: string;
  /** Default COMMON */
  readonly typeGroup?: RelationTypeGroup;
  readonly additionalInfo?: JsonValue | null;
}

export interface RelationEntityTypeFilter {
  /** Case-sensitive; empty or missing = any type. */
  readonly relationType?: string | null;
  /** Types of the far end (`to` for FROM, `from` for TO); empty or missing = any. */
  readonly entityTypes?: readonly EntityType[] | null;
  /** Ignored, as in ThingsBoard's findByQuery. */
  readonly negate?: boolean;
}

export interface RelationsQuery {
  readonly direction: SearchDirection;
  /** Default 1; <= 0 means unlimited. */
  readonly maxLevel?: number;
  /** Default COMMON */
  readonly relationTypeGroup?: RelationTypeGroup;
  readonly filters?: readonly RelationEntityTypeFilter[] | null;
  readonly fetchLastLevelOnly?: boolean;
}

// KEYS: from index, to index, from info, to info, seq. ARGV: from member, to member, info ('' none).
const SAVE = new LuaScript(`
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
local created = 0
if not score then
  score = redis.call('INCR', KEYS[5])
  created = 1
end
redis.call('ZADD', KEYS[1], score, ARGV[1])
redis.call('ZADD', KEYS[2], score, ARGV[2])
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
  redis.call('HSET', KEYS[4], ARGV[2], ARGV[3])
else
  redis.call('HDEL', KEYS[3], ARGV[1])
  redis.call('HDEL', KEYS[4], ARGV[2])
end
return created`);

// KEYS: from index, to index, from info, to info. ARGV: from member, to member.
const DELETE = new LuaScript(`
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[2])
return removed`);

/** A relation with its creation sequence number. */
interface Found {
  readonly relation: EntityRelation;
  readonly seq: number;
}

/** Member of an index: the relation type and the far end. */
function member(type: string, far: EntityId): string {
  return JSON.stringify([type, far.entityType, far.id]);
}

export class RelationRepository {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StoreKeys,
  ) {}

  /** Creates or updates (additionalInfo) a relation; true when it is new. */
  async save(tenantId: string, input: RelationInput): Promise<boolean> {
    const group = input.typeGroup ?? 'COMMON';
    checkRelation(input.from, input.to, input.type, group);
    const info = input.additionalInfo === undefined || input.additionalInfo === null ? '' : JSON.stringify(input.additionalInfo);
    const created = await SAVE.run(
      this.redis,
      [...this.relationKeys(tenantId, group, input.from, input.to), this.keys.relationSeq(tenantId)],
      [member(input.type, input.to), member(input.type, input.from), info],
    );
    return created === 1;
  }

  /** True when the relation existed. */
  async delete(tenantId: string, from: EntityId, to: EntityId, type: string, typeGroup: RelationTypeGroup = 'COMMON'): Promise<boolean> {
    checkRelation(from, to, type, typeGroup);
    const removed = await DELETE.run(this.redis, this.relationKeys(tenantId, typeGroup, from, to), [member(type, to), member(type, from)]);
    return removed === 1;
  }

  async get(tenantId: string, from: EntityId, to: EntityId, type: string, typeGroup: RelationTypeGroup = 'COMMON'): Promise<EntityRelation | null> {
    const m = member(type, to);
    const [score, info] = (await execAll(
      this.redis
        .multi()
        .zscore(this.keys.relationsFrom(tenantId, typeGroup, from), m)
        .hget(this.keys.relationInfoFrom(tenantId, typeGroup, from), m),
    )) as [string | null, string | null];
    if (score === null) return null;
    return { from: idOf(from.entityType, from.id), to: idOf(to.entityType, to.id), type, typeGroup, additionalInfo: info === null ? null : parseDoc<JsonValue>(info) };
  }

  async findByFrom(tenantId: string, from: EntityId, typeGroup: RelationTypeGroup = 'COMMON'): Promise<EntityRelation[]> {
    const [found] = await this.fetch(tenantId, 'FROM', typeGroup, [from]);
    return (found ?? []).map((f) => f.relation);
  }

  async findByFromAndType(tenantId: string, from: EntityId, type: string, typeGroup: RelationTypeGroup = 'COMMON'): Promise<EntityRelation[]> {
    return (await this.findByFrom(tenantId, from, typeGroup)).filter((r) => r.type === type);
  }

  async findByTo(tenantId: string, to: EntityId, typeGroup: RelationTypeGroup = 'COMMON'): Promise<EntityRelation[]> {
    const [found] = await this.fetch(tenantId, 'TO', typeGroup, [to]);
    return (found ?? []).map((f) => f.relation);
  }

  async findByToAndType(tenantId: string, to: EntityId, type: string, typeGroup: RelationTypeGroup = 'COMMON'): Promise<EntityRelation[]> {
    return (await this.findByTo(tenantId, to, typeGroup)).filter((r) => r.type === type);
  }

  /**
   * ThingsBoard's findByQuery: a BFS from `root` following every relation type of the group, each
   * entity visited once (the root itself is not marked, as in ThingsBoard), up to maxLevel. With
   * fetchLastLevelOnly, a branch contributes the relations of level maxLevel, or, where it ends
   * earlier, the relations that led to its leaf. The filters are applied to the collected relations
   * (any filter matching keeps a relation). The result is in creation order, oldest first; one
   * round trip per level.
   */
  async findByQuery(tenantId: string, root: EntityId, query: RelationsQuery): Promise<EntityRelation[]> {
    const group = query.relationTypeGroup ?? 'COMMON';
    const maxLevel = query.maxLevel === undefined ? 1 : query.maxLevel > 0 ? query.maxLevel : Number.POSITIVE_INFINITY;
    const lastOnly = query.fetchLastLevelOnly === true;
    const far = (r: EntityRelation) => (query.direction === 'FROM' ? r.to : r.from);

    const visited = new Set<string>();
    const result = new Map<string, Found>();
    const add = (found: readonly Found[]) => {
      for (const f of found) result.set(relationKey(f.relation), f);
    };
    let tasks: { entity: EntityId; prev: Found[] }[] = [{ entity: root, prev: [] }];
    for (let level = 1; tasks.length > 0; level++) {
      const fetched = await this.fetch(tenantId, query.direction, group, tasks.map((t) => t.entity));
      const next: typeof tasks = [];
      tasks.forEach((task, i) => {
        const relations = fetched[i] ?? [];
        const children = new Map<string, { entity: EntityId; prev: Found[] }>();
        for (const f of relations) {
          const child = far(f.relation);
          const key = entityKey(child);
          if (!visited.has(key)) {
            visited.add(key);
            children.set(key, { entity: child, prev: [] });
          }
          if (lastOnly) children.get(key)?.prev.push(f);
        }
        if (!lastOnly) add(relations);
        else if (relations.length === 0) add(task.prev);
        else if (level === maxLevel) add(relations);
        if (level + 1 <= maxLevel) next.push(...children.values());
      });
      tasks = next;
    }

    const filters = query.filters ?? [];
    return [...result.values()]
      .filter((f) => filters.length === 0 || filters.some((flt) => matches(flt, f.relation, far(f.relation))))
      .sort((a, b) => a.seq - b.seq)
      .map((f) => f.relation);
  }

  /** Removes every relation from or to the entity, in every group (entity deletion). */
  async deleteAll(tenantId: string, entity: EntityId): Promise<void> {
    const read = this.redis.pipeline();
    for (const group of RELATION_TYPE_GROUPS) {
      read.zrange(this.keys.relationsFrom(tenantId, group, entity), 0, -1);
      read.zrange(this.keys.relationsTo(tenantId, group, entity), 0, -1);
    }
    const lists = (await execAll(read)) as string[][];
    const write = this.redis.multi();
    RELATION_TYPE_GROUPS.forEach((group, g) => {
      for (const m of lists[2 * g] ?? []) {
        const [type, farType, farId] = parseDoc<[string, EntityType, string]>(m);
        const other = idOf(farType, farId);
        const back = member(type, entity);
        write.zrem(this.keys.relationsTo(tenantId, group, other), back).hdel(this.keys.relationInfoTo(tenantId, group, other), back);
      }
      for (const m of lists[2 * g + 1] ?? []) {
        const [type, farType, farId] = parseDoc<[string, EntityType, string]>(m);
        const other = idOf(farType, farId);
        const back = member(type, entity);
        write.zrem(this.keys.relationsFrom(tenantId, group, other), back).hdel(this.keys.relationInfoFrom(tenantId, group, other), back);
      }
      write.del(
        this.keys.relationsFrom(tenantId, group, entity),
        this.keys.relationsTo(tenantId, group, entity),
        this.keys.relationInfoFrom(tenantId, group, entity),
        this.keys.relationInfoTo(tenantId, group, entity),
      );
    });
    await execAll(write);
  }

  /** The relations of each entity in one direction, oldest first: one pipeline. */
  private async fetch(tenantId: string, direction: SearchDirection, group: RelationTypeGroup, entities: readonly EntityId[]): Promise<Found[][]> {
    const batch = this.redis.pipeline();
    for (const e of entities) {
      if (direction === 'FROM') {
        batch.zrange(this.keys.relationsFrom(tenantId, group, e), 0, -1, 'WITHSCORES').hgetall(this.keys.relationInfoFrom(tenantId, group, e));
      } else {
        batch.zrange(this.keys.relationsTo(tenantId, group, e), 0, -1, 'WITHSCORES').hgetall(this.keys.relationInfoTo(tenantId, group, e));
      }
    }
    const replies = await execAll(batch);
    return entities.map((given, i) => {
      const e = idOf(given.entityType, given.id);
      const flat = replies[2 * i] as string[];
      const infos = replies[2 * i + 1] as Record<string, string>;
      const found: Found[] = [];
      for (let j = 0; j < flat.length; j += 2) {
        const m = flat[j] as string;
        const [type, farType, farId] = parseDoc<[string, EntityType, string]>(m);
        const other = idOf(farType, farId);
        const info = infos[m];
        found.push({
          relation: {
            from: direction === 'FROM' ? e : other,
            to: direction === 'FROM' ? other : e,
            type,
            typeGroup: group,
            additionalInfo: info === undefined ? null : parseDoc<JsonValue>(info),
          },
          seq: Number(flat[j + 1]),
        });
      }
      return found;
    });
  }

  private relationKeys(tenantId: string, group: RelationTypeGroup, from: EntityId, to: EntityId): string[] {
    return [
      this.keys.relationsFrom(tenantId, group, from),
      this.keys.relationsTo(tenantId, group, to),
      this.keys.relationInfoFrom(tenantId, group, from),
      this.keys.relationInfoTo(tenantId, group, to),
    ];
  }
}

function matches(filter: RelationEntityTypeFilter, relation: EntityRelation, far: EntityId): boolean {
  if (filter.relationType && filter.relationType !== relation.type) return false;
  return !filter.entityTypes || filter.entityTypes.length === 0 || filter.entityTypes.includes(far.entityType);
}

function relationKey(r: EntityRelation): string {
  return JSON.stringify([r.typeGroup, r.type, entityKey(r.from), entityKey(r.to)]);
}

function checkRelation(from: EntityId, to: EntityId, type: string, group: string): void {
  if (!from || !isEntityType(from.entityType) || !from.id) throw new StoreValidationError('Relation should contain from entity!');
  if (!to || !isEntityType(to.entityType) || !to.id) throw new StoreValidationError('Relation should contain to entity!');
  if (typeof type !== 'string' || type === '') throw new StoreValidationError('Relation type should be specified!');
  if (!(RELATION_TYPE_GROUPS as readonly string[]).includes(group)) throw new StoreValidationError('Relation type group should be specified!');
}
