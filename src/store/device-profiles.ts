// Device profiles: name unique per tenant, exactly one default per tenant (a pointer key, so moving
// the default is one SET; the first profile of a tenant becomes the default).
import { getDocs, saveNamedDoc, type NamedDocKeys } from './docs.js';
import { DuplicateError, NotFoundError, StoreValidationError } from './errors.js';
import { idOf, newId, type IdOf } from './ids.js';
import { parseDoc, type JsonValue } from './json.js';
import type { StoreKeys } from './keys.js';
import { LuaScript } from './lua-script.js';
import { checkPageLink, pageInMemory, type PageData, type PageLink } from './page.js';
import { execAll, type RedisClient } from './redis-client.js';
import { retryStale, STALE } from './retry.js';

export interface DeviceProfile {
  readonly id: IdOf<'DEVICE_PROFILE'>;
  readonly createdTime: number;
  readonly tenantId: IdOf<'TENANT'>;
  readonly name: string;
  readonly description: string | null;
  readonly type: 'DEFAULT';
  readonly transportType: string;
  readonly provisionType: string;
  /** Derived from the tenant's default pointer when read. */
  readonly default: boolean;
  readonly defaultRuleChainId: IdOf<'RULE_CHAIN'> | null;
  readonly defaultQueueName: string | null;
  readonly profileData: JsonValue | null;
}

export interface DeviceProfileInput {
  readonly name: string;
  readonly description?: string | null;
  readonly transportType?: string;
  readonly provisionType?: string;
  readonly default?: boolean;
  readonly defaultRuleChainId?: string | null;
  readonly defaultQueueName?: string | null;
  readonly profileData?: JsonValue | null;
}

/** As stored: `default` lives in the pointer, not in the document. */
type StoredProfile = Omit<DeviceProfile, 'default'>;

// KEYS: pointer, profile doc. ARGV: id.
const SET_DEFAULT = new LuaScript(`
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1`);

// KEYS: doc, names, byCreated, pointer. ARGV: id, name.
const DELETE = new LuaScript(`
if redis.call('GET', KEYS[4]) == ARGV[1] then return 'DEFAULT' end
if redis.call('DEL', KEYS[1]) == 0 then return 'MISSING' end
if redis.call('HGET', KEYS[2], ARGV[2]) == ARGV[1] then redis.call('HDEL', KEYS[2], ARGV[2]) end
redis.call('ZREM', KEYS[3], ARGV[1])
return 'OK'`);

export class DeviceProfileRepository {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StoreKeys,
  ) {}

  async create(tenantId: string, input: DeviceProfileInput): Promise<DeviceProfile> {
    const name = checkName(input.name);
    const stored: StoredProfile = {
      id: newId('DEVICE_PROFILE'),
      createdTime: Date.now(),
      tenantId: idOf('TENANT', tenantId),
      name,
      description: input.description ?? null,
      type: 'DEFAULT',
      transportType: input.transportType ?? 'DEFAULT',
      provisionType: input.provisionType ?? 'DISABLED',
      defaultRuleChainId: input.defaultRuleChainId ? idOf('RULE_CHAIN', input.defaultRuleChainId) : null,
      defaultQueueName: input.defaultQueueName ?? null,
      profileData: input.profileData ?? null,
    };
    const result = await saveNamedDoc(this.redis, this.docKeys(tenantId, stored.id.id), {
      id: stored.id.id,
      next: JSON.stringify(stored),
      newName: name,
      createdTime: stored.createdTime,
      pointer: input.default === true ? 'set' : 'nx',
    });
    if (result === 'DUPLICATE') throw duplicateName(name);
    return (await this.get(tenantId, stored.id.id)) ?? { ...stored, default: input.default === true };
  }

  async get(tenantId: string, profileId: string): Promise<DeviceProfile | null> {
    const [doc, def] = (await execAll(
      this.redis.multi().get(this.keys.deviceProfile(tenantId, profileId)).get(this.keys.defaultDeviceProfile(tenantId)),
    )) as [string | null, string | null];
    return doc === null ? null : withDefault(parseDoc<StoredProfile>(doc), def);
  }

  async findByName(tenantId: string, name: string): Promise<DeviceProfile | null> {
    const id = await this.redis.hget(this.keys.deviceProfileNames(tenantId), name);
    return id === null ? null : this.get(tenantId, id);
  }

  async getDefault(tenantId: string): Promise<DeviceProfile | null> {
    const id = await this.redis.get(this.keys.defaultDeviceProfile(tenantId));
    return id === null ? null : this.get(tenantId, id);
  }

  /** Moves the default flag to this profile (atomic: the flag is one pointer). */
  async setDefault(tenantId: string, profileId: string): Promise<DeviceProfile> {
    const ok = await SET_DEFAULT.run(
      this.redis,
      [this.keys.defaultDeviceProfile(tenantId), this.keys.deviceProfile(tenantId, profileId)],
      [profileId],
    );
    const profile = ok === 1 ? await this.get(tenantId, profileId) : null;
    if (profile === null) throw new NotFoundError('DEVICE_PROFILE', profileId);
    return profile;
  }

  async update(tenantId: string, profileId: string, patch: Partial<Omit<DeviceProfileInput, 'default'>>): Promise<DeviceProfile> {
    const keys = this.docKeys(tenantId, profileId);
    await retryStale('update device profile', async () => {
      const before = await this.redis.get(keys.doc);
      if (before === null) throw new NotFoundError('DEVICE_PROFILE', profileId);
      const cur = parseDoc<StoredProfile>(before);
      const name = patch.name !== undefined ? checkName(patch.name) : cur.name;
      const next: StoredProfile = {
        ...cur,
        name,
        description: patch.description !== undefined ? patch.description : cur.description,
        transportType: patch.transportType ?? cur.transportType,
        provisionType: patch.provisionType ?? cur.provisionType,
        defaultRuleChainId:
          patch.defaultRuleChainId === undefined
            ? cur.defaultRuleChainId
            : patch.defaultRuleChainId === null
              ? null
              : idOf('RULE_CHAIN', patch.defaultRuleChainId),
        defaultQueueName: patch.defaultQueueName !== undefined ? patch.defaultQueueName : cur.defaultQueueName,
        profileData: patch.profileData !== undefined ? patch.profileData : cur.profileData,
      };
      const result = await saveNamedDoc(this.redis, keys, {
        id: profileId,
        expected: before,
        next: JSON.stringify(next),
        oldName: cur.name,
        newName: name,
        createdTime: cur.createdTime,
      });
      if (result === 'DUPLICATE') throw duplicateName(name);
      return result === 'OK' ? true : STALE;
    });
    const saved = await this.get(tenantId, profileId);
    if (saved === null) throw new NotFoundError('DEVICE_PROFILE', profileId);
    return saved;
  }

  async list(tenantId: string, link: PageLink): Promise<PageData<DeviceProfile>> {
    checkPageLink(link, ['createdTime', 'name']);
    const [ids, def] = (await execAll(
      this.redis.multi().zrange(this.keys.deviceProfiles(tenantId), 0, -1).get(this.keys.defaultDeviceProfile(tenantId)),
    )) as [string[], string | null];
    const all = await getDocs<StoredProfile>(this.redis, ids.map((id) => this.keys.deviceProfile(tenantId, id)));
    return pageInMemory(
      all.map((p) => withDefault(p, def)),
      link,
      { text: (p) => p.name, sortKeys: { createdTime: (p) => p.createdTime, name: (p) => p.name.toLowerCase() }, defaultSort: 'createdTime' },
    );
  }

  /** The default profile cannot be deleted (as in ThingsBoard). */
  async delete(tenantId: string, profileId: string): Promise<void> {
    const profile = await this.get(tenantId, profileId);
    if (profile === null) throw new NotFoundError('DEVICE_PROFILE', profileId);
    const keys = this.docKeys(tenantId, profileId);
    const result = await DELETE.run(this.redis, [keys.doc, keys.names, keys.byCreated, keys.pointer ?? keys.doc], [profileId, profile.name]);
    if (result === 'DEFAULT') throw new StoreValidationError('Deletion of Default Device Profile is prohibited!');
    if (result === 'MISSING') throw new NotFoundError('DEVICE_PROFILE', profileId);
  }

  private docKeys(tenantId: string, profileId: string): NamedDocKeys {
    return {
      doc: this.keys.deviceProfile(tenantId, profileId),
      names: this.keys.deviceProfileNames(tenantId),
      byCreated: this.keys.deviceProfiles(tenantId),
      pointer: this.keys.defaultDeviceProfile(tenantId),
    };
  }
}

function withDefault(p: StoredProfile, defaultId: string | null): DeviceProfile {
  return { ...p, default: p.id.id === defaultId };
}

function checkName(name: string): string {
  if (typeof name !== 'string' || name.trim() === '') throw new StoreValidationError('Device profile name should be specified!');
  return name;
}

function duplicateName(name: string): DuplicateError {
  return new DuplicateError('DEVICE_PROFILE', 'name', name, 'Device profile with such name already exists!');
}
