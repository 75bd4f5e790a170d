// Alarms (ThingsBoard's Alarm). Per originator and type at most one uncleared ("active") alarm; its
// JSON is kept both in the alarm key and in the originator's active HASH (type -> JSON), written
// together by Lua, so "create or update the active alarm" is one read plus one compare-and-set.
import type { EntityId } from '../msg/entity.js';
import { getDocs } from './docs.js';
import { NotFoundError, StoreValidationError } from './errors.js';
import { idOf, newId, NULL_UUID, type IdOf } from './ids.js';
import { parseDoc, parseDocOrNull, type JsonValue } from './json.js';
import type { StoreKeys } from './keys.js';
import { LuaScript } from './lua-script.js';
import { checkPageLink, pageInMemory, type PageData, type PageLink } from './page.js';
import type { RedisClient } from './redis-client.js';
import { retryStale, STALE } from './retry.js';

export const ALARM_SEVERITIES = ['CRITICAL', 'MAJOR', 'MINOR', 'WARNING', 'INDETERMINATE'] as const;
export type AlarmSeverity = (typeof ALARM_SEVERITIES)[number];
export type AlarmStatus = 'ACTIVE_UNACK' | 'ACTIVE_ACK' | 'CLEARED_UNACK' | 'CLEARED_ACK';
export type AlarmSearchStatus = 'ANY' | 'ACTIVE' | 'CLEARED' | 'ACK' | 'UNACK';

export interface Alarm {
  readonly id: IdOf<'ALARM'>;
  readonly createdTime: number;
  readonly tenantId: IdOf<'TENANT'>;
  readonly customerId: IdOf<'CUSTOMER'>;
  readonly type: string;
  /** ThingsBoard repeats the type as name. */
  readonly name: string;
  readonly originator: EntityId;
  readonly severity: AlarmSeverity;
  readonly acknowledged: boolean;
  readonly cleared: boolean;
  /** Derived from cleared/acknowledged. */
  readonly status: AlarmStatus;
  readonly startTs: number;
  readonly endTs: number;
  readonly ackTs: number;
  readonly clearTs: number;
  readonly details: JsonValue | null;
  readonly propagate: boolean;
  readonly propagateToOwner: boolean;
  readonly propagateToTenant: boolean;
  readonly propagateRelationTypes: readonly string[];
}

export interface AlarmInput {
  readonly type: string;
  readonly originator: EntityId;
  readonly severity: AlarmSeverity;
  readonly details?: JsonValue | null;
  /** Default now. For a new alarm: startTs and endTs; for an update: endTs. */
  readonly ts?: number;
  readonly customerId?: string;
  readonly propagate?: boolean;
  readonly propagateToOwner?: boolean;
  readonly propagateToTenant?: boolean;
  readonly propagateRelationTypes?: readonly string[];
}

export interface AlarmResult {
  readonly alarm: Alarm;
  /** A new alarm was created. */
  readonly created: boolean;
  /** The operation changed something (false: e.g. clearing a cleared alarm). */
  readonly modified: boolean;
  readonly old: Alarm | null;
}

export interface AlarmQuery extends PageLink {
  readonly searchStatus?: AlarmSearchStatus;
  readonly status?: AlarmStatus;
}

// KEYS: active hash, alarm doc, originator index. ARGV: type, doc, id, createdTime.
const CREATE = new LuaScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
return 1`);

// KEYS: active hash, alarm doc. ARGV: type, expected doc, next doc, next is active ('1'/'0').
// An uncleared alarm is in the active hash as well; both copies change together.
const UPDATE = new LuaScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
local active = redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2]
redis.call('SET', KEYS[2], ARGV[3])
if active then
  if ARGV[4] == '1' then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) else redis.call('HDEL', KEYS[1], ARGV[1]) end
end
return 1`);

// KEYS: active hash, alarm doc, originator index. ARGV: type, expected doc, id.
const DELETE = new LuaScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[3])
return 1`);

export function alarmStatus(cleared: boolean, acknowledged: boolean): AlarmStatus {
  return cleared ? (acknowledged ? 'CLEARED_ACK' : 'CLEARED_UNACK') : acknowledged ? 'ACTIVE_ACK' : 'ACTIVE_UNACK';
}

export class AlarmRepository {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StoreKeys,
  ) {}

  /**
   * ThingsBoard's createOrUpdateActiveAlarm: if the originator has an uncleared alarm of this type,
   * update its severity, details and endTs; otherwise create a new ACTIVE_UNACK alarm.
   */
  async createOrUpdateActive(tenantId: string, input: AlarmInput): Promise<AlarmResult> {
    if (typeof input.type !== 'string' || input.type === '') throw new StoreValidationError('Alarm type should be specified!');
    if (!ALARM_SEVERITIES.includes(input.severity)) throw new StoreValidationError(`invalid alarm severity ${String(input.severity)}`);
    const originator = idOf(input.originator.entityType, input.originator.id);
    const activeKey = this.keys.activeAlarms(tenantId, originator);
    return retryStale('create or update alarm', async () => {
      const ts = input.ts ?? Date.now();
      const before = await this.redis.hget(activeKey, input.type);
      if (before !== null) {
        const cur = parseDoc<Alarm>(before);
        const next: Alarm = {
          ...cur,
          severity: input.severity,
          details: input.details !== undefined ? input.details : cur.details,
          endTs: Math.max(ts, cur.startTs),
          ...propagation(input, cur),
        };
        const ok = await UPDATE.run(this.redis, [activeKey, this.keys.alarm(tenantId, cur.id.id)], [cur.type, before, JSON.stringify(next), '1']);
        return ok === 1 ? { alarm: next, created: false, modified: true, old: cur } : STALE;
      }
      const alarm: Alarm = {
        id: newId('ALARM'),
        createdTime: Date.now(),
        tenantId: idOf('TENANT', tenantId),
        customerId: idOf('CUSTOMER', input.customerId ?? NULL_UUID),
        type: input.type,
        name: input.type,
        originator,
        severity: input.severity,
        acknowledged: false,
        cleared: false,
        status: 'ACTIVE_UNACK',
        startTs: ts,
        endTs: ts,
        ackTs: 0,
        clearTs: 0,
        details: input.details ?? null,
        ...propagation(input, undefined),
      };
      const ok = await CREATE.run(
        this.redis,
        [activeKey, this.keys.alarm(tenantId, alarm.id.id), this.keys.originatorAlarms(tenantId, originator)],
        [alarm.type, JSON.stringify(alarm), alarm.id.id, alarm.createdTime],
      );
      return ok === 1 ? { alarm, created: true, modified: true, old: null } : STALE;
    });
  }

  async get(tenantId: string, alarmId: string): Promise<Alarm | null> {
    return parseDocOrNull<Alarm>(await this.redis.get(this.keys.alarm(tenantId, alarmId)));
  }

  /** The uncleared alarm of this type, if any. */
  async findActive(tenantId: string, originator: EntityId, type: string): Promise<Alarm | null> {
    return parseDocOrNull<Alarm>(await this.redis.hget(this.keys.activeAlarms(tenantId, originator), type));
  }

  /** Clears the alarm (it stops being the active one); details replace the old ones when given. */
  async clear(tenantId: string, alarmId: string, opts: { ts?: number; details?: JsonValue | null } = {}): Promise<AlarmResult> {
    return this.change(tenantId, alarmId, (cur) =>
      cur.cleared
        ? null
        : { cleared: true, clearTs: opts.ts ?? Date.now(), ...(opts.details !== undefined ? { details: opts.details } : {}) },
    );
  }

  async acknowledge(tenantId: string, alarmId: string, opts: { ts?: number } = {}): Promise<AlarmResult> {
    return this.change(tenantId, alarmId, (cur) => (cur.acknowledged ? null : { acknowledged: true, ackTs: opts.ts ?? Date.now() }));
  }

  /** Alarms of an originator, newest first by default (createdTime), filtered by status. */
  async listByOriginator(tenantId: string, originator: EntityId, query: AlarmQuery): Promise<PageData<Alarm>> {
    checkPageLink(query, ['createdTime', 'startTs', 'endTs', 'severity', 'type']);
    const ids = await this.redis.zrange(this.keys.originatorAlarms(tenantId, originator), 0, -1);
    const all = await getDocs<Alarm>(this.redis, ids.map((id) => this.keys.alarm(tenantId, id)));
    const wanted = all.filter((a) => matchesStatus(a, query));
    return pageInMemory(wanted, { ...query, sortOrder: query.sortOrder ?? 'DESC' }, {
      text: (a) => a.type,
      sortKeys: {
        createdTime: (a) => a.createdTime,
        startTs: (a) => a.startTs,
        endTs: (a) => a.endTs,
        severity: (a) => ALARM_SEVERITIES.length - ALARM_SEVERITIES.indexOf(a.severity),
        type: (a) => a.type,
      },
      defaultSort: 'createdTime',
    });
  }

  async delete(tenantId: string, alarmId: string): Promise<Alarm> {
    return retryStale('delete alarm', async () => {
      const before = await this.redis.get(this.keys.alarm(tenantId, alarmId));
      if (before === null) throw new NotFoundError('ALARM', alarmId);
      const cur = parseDoc<Alarm>(before);
      const ok = await DELETE.run(
        this.redis,
        [this.keys.activeAlarms(tenantId, cur.originator), this.keys.alarm(tenantId, alarmId), this.keys.originatorAlarms(tenantId, cur.originator)],
        [cur.type, before, alarmId],
      );
      return ok === 1 ? cur : STALE;
    });
  }

  /** Every alarm of the originator (entity deletion). */
  async deleteAllOf(tenantId: string, originator: EntityId): Promise<void> {
    const index = this.keys.originatorAlarms(tenantId, originator);
    const ids = await this.redis.zrange(index, 0, -1);
    await this.redis.del(index, this.keys.activeAlarms(tenantId, originator), ...ids.map((id) => this.keys.alarm(tenantId, id)));
  }

  private async change(tenantId: string, alarmId: string, patch: (cur: Alarm) => Partial<Alarm> | null): Promise<AlarmResult> {
    const key = this.keys.alarm(tenantId, alarmId);
    return retryStale('update alarm', async () => {
      const before = await this.redis.get(key);
      if (before === null) throw new NotFoundError('ALARM', alarmId);
      const cur = parseDoc<Alarm>(before);
      const p = patch(cur);
      if (p === null) return { alarm: cur, created: false, modified: false, old: cur };
      const merged = { ...cur, ...p };
      const next: Alarm = { ...merged, status: alarmStatus(merged.cleared, merged.acknowledged) };
      const ok = await UPDATE.run(
        this.redis,
        [this.keys.activeAlarms(tenantId, cur.originator), key],
        [cur.type, before, JSON.stringify(next), next.cleared ? '0' : '1'],
      );
      return ok === 1 ? { alarm: next, created: false, modified: true, old: cur } : STALE;
    });
  }
}

function propagation(input: AlarmInput, cur: Alarm | undefined): Pick<Alarm, 'propagate' | 'propagateToOwner' | 'propagateToTenant' | 'propagateRelationTypes'> {
  return {
    propagate: input.propagate ?? cur?.propagate ?? false,
    propagateToOwner: input.propagateToOwner ?? cur?.propagateToOwner ?? false,
    propagateToTenant: input.propagateToTenant ?? cur?.propagateToTenant ?? false,
    propagateRelationTypes: input.propagateRelationTypes ?? cur?.propagateRelationTypes ?? [],
  };
}

function matchesStatus(a: Alarm, q: AlarmQuery): boolean {
  if (q.status !== undefined && a.status !== q.status) return false;
  switch (q.searchStatus ?? 'ANY') {
    case 'ACTIVE':
      return !a.cleared;
    case 'CLEARED':
      return a.cleared;
    case 'ACK':
      return a.acknowledged;
    case 'UNACK':
      return !a.acknowledged;
    default:
      return true;
  }
}
