// Devices: name unique per tenant; paged lists by tenant (created time or name order) and by
// customer; deleting a device cascades to its credentials, attributes, time series, events,
// relations and alarms.
import type { AlarmRepository } from './alarms.js';
import type { AttributeRepository } from './attributes.js';
import type { DeviceCredentials } from './device-credentials.js';
import { getDocs } from './docs.js';
import { DuplicateError, NotFoundError, StoreValidationError } from './errors.js';
import type { EventRepository } from './events.js';
import { idOf, newId, NULL_UUID, type IdOf } from './ids.js';
import { parseDoc, parseDocOrNull, type JsonObject } from './json.js';
import type { StoreKeys } from './keys.js';
import { LuaScript, replyStrings } from './lua-script.js';
import { checkPageLink, matchesText, pageData, pageInMemory, pageRange, type PageData, type PageLink } from './page.js';
import { execAll, type RedisClient } from './redis-client.js';
import type { RelationRepository } from './relations.js';
import { retryStale, STALE } from './retry.js';
import type { TimeseriesRepository } from './timeseries.js';
import { TokenIndex } from './token-index.js';
import { uncachedDocs, type DocReader } from './tracked-doc-cache.js';

export interface Device {
  readonly id: IdOf<'DEVICE'>;
  readonly createdTime: number;
  readonly tenantId: IdOf<'TENANT'>;
  /** NULL_UUID when not assigned */
  readonly customerId: IdOf<'CUSTOMER'>;
  readonly name: string;
  readonly type: string;
  readonly label: string | null;
  readonly deviceProfileId: IdOf<'DEVICE_PROFILE'> | null;
  readonly additionalInfo: JsonObject | null;
  /** Bumped on every write (optimistic locking, token snapshot freshness). */
  readonly version: number;
}

export interface DeviceInput {
  readonly name: string;
  readonly type?: string;
  readonly label?: string | null;
  /** Default: the tenant's default device profile, if any. */
  readonly deviceProfileId?: string | null;
  readonly customerId?: string | null;
  readonly additionalInfo?: JsonObject | null;
}

export type DevicePatch = Partial<Omit<DeviceInput, 'customerId'>>;

/** What a device delete cascades to (the Store passes its repositories). */
export interface DeviceCascade {
  readonly relations: Pick<RelationRepository, 'deleteAll'>;
  readonly attributes: Pick<AttributeRepository, 'deleteAll'>;
  readonly timeseries: Pick<TimeseriesRepository, 'deleteAll'>;
  readonly events: Pick<EventRepository, 'deleteAll'>;
  readonly alarms: Pick<AlarmRepository, 'deleteAllOf'>;
}

// KEYS: 1 doc, 2 names, 3 byCreated, 4 byName, 5 credentials, 6 new customer doc, 7 old customer
// devices, 8 new customer devices (unused ones repeat KEYS[1]).
// ARGV: 1 id, 2 expected doc ('' = create), 3 next doc, 4 old name, 5 new name, 6 old name member,
// 7 new name member, 8 createdTime, 9 old customer ('' none), 10 new customer ('' none).
// Reply: {status, credentials JSON or ''}.
const SAVE = new LuaScript(`
local cur = redis.call('GET', KEYS[1])
if ARGV[2] == '' then
  if cur then return {'EXISTS'} end
elseif cur ~= ARGV[2] then
  return {'STALE'}
end
if ARGV[10] ~= '' and ARGV[10] ~= ARGV[9] and redis.call('EXISTS', KEYS[6]) == 0 then return {'NO_CUSTOMER'} end
if ARGV[4] ~= ARGV[5] then
  local holder = redis.call('HGET', KEYS[2], ARGV[5])
  if holder and holder ~= ARGV[1] then return {'DUPLICATE'} end
  if ARGV[4] ~= '' then
    redis.call('HDEL', KEYS[2], ARGV[4])
    redis.call('ZREM', KEYS[4], ARGV[6])
  end
  redis.call('HSET', KEYS[2], ARGV[5], ARGV[1])
  redis.call('ZADD', KEYS[4], 0, ARGV[7])
end
if ARGV[2] == '' then redis.call('ZADD', KEYS[3], ARGV[8], ARGV[1]) end
if ARGV[9] ~= ARGV[10] then
  if ARGV[9] ~= '' then redis.call('ZREM', KEYS[7], ARGV[1]) end
  if ARGV[10] ~= '' then redis.call('ZADD', KEYS[8], ARGV[8], ARGV[1]) end
end
redis.call('SET', KEYS[1], ARGV[3])
return {'OK', redis.call('GET', KEYS[5]) or ''}`);

// KEYS: 1 doc, 2 names, 3 byCreated, 4 byName, 5 credentials, 6 customer devices.
// ARGV: id, expected doc, name, name member, expected credentials ('' none).
const DELETE = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[2] then return 'STALE' end
if (redis.call('GET', KEYS[5]) or '') ~= ARGV[5] then return 'STALE' end
redis.call('DEL', KEYS[1], KEYS[5])
if redis.call('HGET', KEYS[2], ARGV[3]) == ARGV[1] then redis.call('HDEL', KEYS[2], ARGV[3]) end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[4])
redis.call('ZREM', KEYS[6], ARGV[1])
return 'OK'`);

const SORT_PROPERTIES = ['createdTime', 'name'] as const;

export class DeviceRepository {
  private readonly tokens: TokenIndex;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StoreKeys,
    private readonly cascade: DeviceCascade,
    /** Where findById() reads: a cache that Redis keeps up to date, or `redis`. */
    private readonly docs: DocReader = uncachedDocs(redis),
  ) {
    this.tokens = new TokenIndex(redis, keys);
  }

  async create(tenantId: string, input: DeviceInput): Promise<Device> {
    const name = checkName(input.name);
    const profileId = input.deviceProfileId !== undefined ? input.deviceProfileId : await this.redis.get(this.keys.defaultDeviceProfile(tenantId));
    const device: Device = {
      id: newId('DEVICE'),
      createdTime: Date.now(),
      tenantId: idOf('TENANT', tenantId),
      customerId: idOf('CUSTOMER', input.customerId ?? NULL_UUID),
      name,
      type: input.type ?? 'default',
      label: input.label ?? null,
      deviceProfileId: profileId ? idOf('DEVICE_PROFILE', profileId) : null,
      additionalInfo: input.additionalInfo ?? null,
      version: 1,
    };
    const saved = await this.write(undefined, device);
    if (saved === STALE) throw new StoreValidationError(`device ${device.id.id} already exists`);
    return device;
  }

  async findById(tenantId: string, deviceId: string): Promise<Device | null> {
    return parseDocOrNull<Device>(await this.docs.get(this.keys.device(tenantId, deviceId)));
  }

  async findByName(tenantId: string, name: string): Promise<Device | null> {
    const id = await this.redis.hget(this.keys.deviceNames(tenantId), name);
    return id === null ? null : this.findById(tenantId, id);
  }

  /** Devices of a tenant, sorted by createdTime (default) or name; textSearch matches the name. */
  async listByTenant(tenantId: string, link: PageLink): Promise<PageData<Device>> {
    checkPageLink(link, SORT_PROPERTIES);
    const byName = link.sortProperty === 'name';
    const desc = link.sortOrder === 'DESC';
    if (link.textSearch !== undefined && link.textSearch !== '') {
      // The name index holds lower-cased names: search it, then load only the matches.
      const members = await this.redis.zrange(this.keys.devicesByName(tenantId), 0, -1);
      const ids = members.filter((m) => matchesText(nameOfMember(m), link.textSearch)).map(idOfMember);
      const found = await getDocs<Device>(this.redis, ids.map((id) => this.keys.device(tenantId, id)));
      return pageInMemory(found, { ...link, textSearch: undefined }, {
        text: (d) => d.name,
        sortKeys: { createdTime: (d) => d.createdTime, name: (d) => nameMember(d.name, d.id.id) },
        defaultSort: 'createdTime',
      });
    }
    const index = byName ? this.keys.devicesByName(tenantId) : this.keys.devices(tenantId);
    const [start, stop] = pageRange(link);
    const batch = this.redis.multi().zcard(index);
    const [total, page] = (await execAll(desc ? batch.zrevrange(index, start, stop) : batch.zrange(index, start, stop))) as [number, string[]];
    const ids = byName ? page.map(idOfMember) : page;
    return pageData(await getDocs<Device>(this.redis, ids.map((id) => this.keys.device(tenantId, id))), total, link);
  }

  async listByCustomer(tenantId: string, customerId: string, link: PageLink): Promise<PageData<Device>> {
    checkPageLink(link, SORT_PROPERTIES);
    const ids = await this.redis.zrange(this.keys.customerDevices(tenantId, customerId), 0, -1);
    const all = await getDocs<Device>(this.redis, ids.map((id) => this.keys.device(tenantId, id)));
    return pageInMemory(all, link, {
      text: (d) => d.name,
      sortKeys: { createdTime: (d) => d.createdTime, name: (d) => nameMember(d.name, d.id.id) },
      defaultSort: 'createdTime',
    });
  }

  async update(tenantId: string, deviceId: string, patch: DevicePatch): Promise<Device> {
    return this.modify(tenantId, deviceId, (cur) => ({
      ...cur,
      name: patch.name !== undefined ? checkName(patch.name) : cur.name,
      type: patch.type ?? cur.type,
      label: patch.label !== undefined ? patch.label : cur.label,
      deviceProfileId:
        patch.deviceProfileId === undefined ? cur.deviceProfileId : patch.deviceProfileId === null ? null : idOf('DEVICE_PROFILE', patch.deviceProfileId),
      additionalInfo: patch.additionalInfo !== undefined ? patch.additionalInfo : cur.additionalInfo,
    }));
  }

  async assignToCustomer(tenantId: string, deviceId: string, customerId: string): Promise<Device> {
    return this.modify(tenantId, deviceId, (cur) => ({ ...cur, customerId: idOf('CUSTOMER', customerId) }));
  }

  async unassignFromCustomer(tenantId: string, deviceId: string): Promise<Device> {
    return this.modify(tenantId, deviceId, (cur) => ({ ...cur, customerId: idOf('CUSTOMER', NULL_UUID) }));
  }

  /**
   * Order: the token goes first (a crash then leaves a device that cannot authenticate, never a
   * token for a deleted device), then the catalogue entry, then the entity's data.
   */
  async delete(tenantId: string, deviceId: string): Promise<Device> {
    const device = await retryStale('delete device', async () => {
      const [before, creds] = (await execAll(
        this.redis.multi().get(this.keys.device(tenantId, deviceId)).get(this.keys.deviceCredentials(tenantId, deviceId)),
      )) as [string | null, string | null];
      if (before === null) throw new NotFoundError('DEVICE', deviceId);
      const cur = parseDoc<Device>(before);
      const credentials = parseDocOrNull<DeviceCredentials>(creds);
      if (credentials !== null) await this.tokens.release(credentials.credentialsId, deviceId);
      const result = await DELETE.run(
        this.redis,
        [
          this.keys.device(tenantId, deviceId),
          this.keys.deviceNames(tenantId),
          this.keys.devices(tenantId),
          this.keys.devicesByName(tenantId),
          this.keys.deviceCredentials(tenantId, deviceId),
          this.keys.customerDevices(tenantId, cur.customerId.id),
        ],
        [deviceId, before, cur.name, nameMember(cur.name, deviceId), creds ?? ''],
      );
      this.docs.forget(this.keys.device(tenantId, deviceId));
      return result === 'OK' ? cur : STALE;
    });
    const entity = device.id;
    await Promise.all([
      this.cascade.relations.deleteAll(tenantId, entity),
      this.cascade.attributes.deleteAll(entity),
      this.cascade.timeseries.deleteAll(entity),
      this.cascade.events.deleteAll(entity),
      this.cascade.alarms.deleteAllOf(tenantId, entity),
    ]);
    return device;
  }

  private async modify(tenantId: string, deviceId: string, change: (cur: Device) => Device): Promise<Device> {
    return retryStale('update device', async () => {
      const before = await this.redis.get(this.keys.device(tenantId, deviceId));
      if (before === null) throw new NotFoundError('DEVICE', deviceId);
      const cur = parseDoc<Device>(before);
      const next = { ...change(cur), version: cur.version + 1 };
      return (await this.write({ text: before, doc: cur }, next)) === STALE ? STALE : next;
    });
  }

  /** One atomic catalogue write, then the token snapshot. */
  private async write(before: { text: string; doc: Device } | undefined, next: Device): Promise<Device | typeof STALE> {
    const tenantId = next.tenantId.id;
    const id = next.id.id;
    const oldCustomer = before === undefined || before.doc.customerId.id === NULL_UUID ? '' : before.doc.customerId.id;
    const newCustomer = next.customerId.id === NULL_UUID ? '' : next.customerId.id;
    const doc = this.keys.device(tenantId, id);
    const [status, creds] = replyStrings(
      await SAVE.run(
        this.redis,
        [
          doc,
          this.keys.deviceNames(tenantId),
          this.keys.devices(tenantId),
          this.keys.devicesByName(tenantId),
          this.keys.deviceCredentials(tenantId, id),
          newCustomer ? this.keys.customer(tenantId, newCustomer) : doc,
          oldCustomer ? this.keys.customerDevices(tenantId, oldCustomer) : doc,
          newCustomer ? this.keys.customerDevices(tenantId, newCustomer) : doc,
        ],
        [
          id,
          before?.text ?? '',
          JSON.stringify(next),
          before?.doc.name ?? '',
          next.name,
          before ? nameMember(before.doc.name, id) : '',
          nameMember(next.name, id),
          next.createdTime,
          oldCustomer,
          newCustomer,
        ],
      ),
    );
    this.docs.forget(doc);
    switch (status) {
      case 'OK':
        break;
      case 'DUPLICATE':
        throw new DuplicateError('DEVICE', 'name', next.name, 'Device with such name already exists!');
      case 'NO_CUSTOMER':
        throw new NotFoundError('CUSTOMER', newCustomer);
      default:
        return STALE;
    }
    const credentials = parseDocOrNull<DeviceCredentials>(creds);
    if (credentials !== null) await this.tokens.refresh(credentials.credentialsId, next);
    return next;
  }
}

function checkName(name: string): string {
  if (typeof name !== 'string' || name.trim() === '') throw new StoreValidationError('Device name should be specified!');
  return name;
}

/** Member of the name index: lower-cased name, NUL, id (name order, ties by id). */
function nameMember(name: string, id: string): string {
  return `${name.toLowerCase()}\u0000${id}`;
}

function nameOfMember(member: string): string {
  return member.slice(0, member.lastIndexOf('\u0000'));
}

function idOfMember(member: string): string {
  return member.slice(member.lastIndexOf('\u0000') + 1);
}
