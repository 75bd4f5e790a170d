// Users. The e-mail is unique across all tenants: a per-e-mail index key {email:<email>} is claimed
// first (SET-if-absent), then the user is written in the tenant's slot. A claim left by a crash
// between the two steps points at no user; the next create of that e-mail takes it over.
import { getDocs, casSet } from './docs.js';
import { DuplicateError, NotFoundError, StoreValidationError } from './errors.js';
import { idOf, newId, NULL_UUID, type IdOf } from './ids.js';
import { parseDoc, parseDocOrNull, type JsonObject } from './json.js';
import type { StoreKeys } from './keys.js';
import { LuaScript, replyStrings } from './lua-script.js';
import { checkPageLink, pageInMemory, type PageData, type PageLink } from './page.js';
import { dummyPasswordCheck, hashPassword, verifyPasswordHash } from './password.js';
import { execAll, type RedisClient } from './redis-client.js';
import { retryStale, STALE } from './retry.js';
import { uncachedDocs, type DocReader } from './tracked-doc-cache.js';

export type Authority = 'SYS_ADMIN' | 'TENANT_ADMIN' | 'CUSTOMER_USER';

export interface User {
  readonly id: IdOf<'USER'>;
  readonly createdTime: number;
  /** NULL_UUID for SYS_ADMIN */
  readonly tenantId: IdOf<'TENANT'>;
  /** NULL_UUID unless CUSTOMER_USER */
  readonly customerId: IdOf<'CUSTOMER'>;
  readonly email: string;
  /** ThingsBoard repeats the e-mail as name. */
  readonly name: string;
  readonly authority: Authority;
  readonly firstName: string | null;
  readonly lastName: string | null;
  readonly phone: string | null;
  readonly additionalInfo: JsonObject | null;
}

export interface UserInput {
  readonly email: string;
  readonly authority: Authority;
  /** Required unless SYS_ADMIN. */
  readonly tenantId?: string;
  /** Required for CUSTOMER_USER. */
  readonly customerId?: string;
  readonly firstName?: string | null;
  readonly lastName?: string | null;
  readonly phone?: string | null;
  readonly additionalInfo?: JsonObject | null;
  readonly password?: string;
}

export type UserPatch = Partial<Pick<UserInput, 'firstName' | 'lastName' | 'phone' | 'additionalInfo'>>;

const AUTHORITIES: readonly Authority[] = ['SYS_ADMIN', 'TENANT_ADMIN', 'CUSTOMER_USER'];
const EMAIL = /^[^\s@]+@[^\s@]+$/;

// KEYS: email index. ARGV: tenant, user. Reply: {'OK'} or {'HELD', tenant, user}.
const CLAIM_EMAIL = new LuaScript(`
local held = redis.call('HMGET', KEYS[1], 'ten', 'user')
if held[2] and held[2] ~= ARGV[2] then return {'HELD', held[1], held[2]} end
redis.call('HSET', KEYS[1], 'ten', ARGV[1], 'user', ARGV[2])
return {'OK'}`);

// KEYS: email index. ARGV: expected holder user, tenant, user.
const STEAL_EMAIL = new LuaScript(`
if redis.call('HGET', KEYS[1], 'user') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'ten', ARGV[2], 'user', ARGV[3])
return 1`);

// KEYS: email index. ARGV: user.
const RELEASE_EMAIL = new LuaScript(`
if redis.call('HGET', KEYS[1], 'user') ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])`);

// KEYS: user doc, tenant users, customer doc, customer users, password.
// ARGV: id, doc, createdTime, customer id ('' none), password hash ('' none).
const CREATE_USER = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 'EXISTS' end
if ARGV[4] ~= '' and redis.call('EXISTS', KEYS[3]) == 0 then return 'NO_CUSTOMER' end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
if ARGV[4] ~= '' then redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1]) end
if ARGV[5] ~= '' then redis.call('SET', KEYS[5], ARGV[5]) end
return 'OK'`);

// KEYS: user doc, password. ARGV: hash.
const SET_PASSWORD = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[2], ARGV[1])
return 1`);

export class UserRepository {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StoreKeys,
    /** Where get() reads: a cache that Redis keeps up to date, or `redis`. */
    private readonly docs: DocReader = uncachedDocs(redis),
  ) {}

  async create(input: UserInput): Promise<User> {
    const user = this.newUser(input);
    const tenantId = user.tenantId.id;
    const customerId = user.customerId.id === NULL_UUID ? '' : user.customerId.id;
    // Hash before claiming: the slow step should not hold the e-mail.
    const hash = input.password !== undefined ? await hashPassword(checkPassword(input.password)) : '';
    await this.claimEmail(user.email, tenantId, user.id.id);
    const result = String(
      await CREATE_USER.run(
        this.redis,
        [
          this.keys.user(tenantId, user.id.id),
          this.keys.users(tenantId),
          this.keys.customer(tenantId, customerId || NULL_UUID),
          this.keys.customerUsers(tenantId, customerId || NULL_UUID),
          this.keys.userPassword(tenantId, user.id.id),
        ],
        [user.id.id, JSON.stringify(user), user.createdTime, customerId, hash],
      ),
    );
    if (result !== 'OK') {
      await RELEASE_EMAIL.run(this.redis, [this.keys.email(user.email)], [user.id.id]);
      if (result === 'NO_CUSTOMER') throw new NotFoundError('CUSTOMER', customerId);
      throw new StoreValidationError(`user ${user.id.id} already exists`);
    }
    return user;
  }

  async get(tenantId: string, userId: string): Promise<User | null> {
    return parseDocOrNull<User>(await this.docs.get(this.keys.user(tenantId, userId)));
  }

  async findByEmail(email: string): Promise<User | null> {
    const ref = await this.redis.hmget(this.keys.email(email), 'ten', 'user');
    const [tenantId, userId] = ref;
    if (!tenantId || !userId) return null;
    const user = await this.get(tenantId, userId);
    // A stale claim (crash during create/delete) must not resolve to another user.
    return user !== null && user.email.toLowerCase() === email.toLowerCase() ? user : null;
  }

  async update(tenantId: string, userId: string, patch: UserPatch): Promise<User> {
    const key = this.keys.user(tenantId, userId);
    return retryStale('update user', async () => {
      const before = await this.redis.get(key);
      if (before === null) throw new NotFoundError('USER', userId);
      const cur = parseDoc<User>(before);
      const next: User = {
        ...cur,
        firstName: patch.firstName !== undefined ? patch.firstName : cur.firstName,
        lastName: patch.lastName !== undefined ? patch.lastName : cur.lastName,
        phone: patch.phone !== undefined ? patch.phone : cur.phone,
        additionalInfo: patch.additionalInfo !== undefined ? patch.additionalInfo : cur.additionalInfo,
      };
      const saved = await casSet(this.redis, key, before, JSON.stringify(next));
      this.docs.forget(key);
      return saved ? next : STALE;
    });
  }

  async setPassword(tenantId: string, userId: string, password: string): Promise<void> {
    const hash = await hashPassword(checkPassword(password));
    const ok = await SET_PASSWORD.run(this.redis, [this.keys.user(tenantId, userId), this.keys.userPassword(tenantId, userId)], [hash]);
    if (ok !== 1) throw new NotFoundError('USER', userId);
  }

  /** Constant-time check; false when the user has no password. */
  async verifyPassword(tenantId: string, userId: string, password: string): Promise<boolean> {
    const stored = await this.redis.get(this.keys.userPassword(tenantId, userId));
    return stored === null ? dummyPasswordCheck(password) : verifyPasswordHash(password, stored);
  }

  /** The user for this e-mail and password, or null (same time either way). */
  async authenticate(email: string, password: string): Promise<User | null> {
    const user = await this.findByEmail(email);
    if (user === null) return dummyPasswordCheck(password).then(() => null);
    return (await this.verifyPassword(user.tenantId.id, user.id.id, password)) ? user : null;
  }

  async listByTenant(tenantId: string, link: PageLink, authority?: Authority): Promise<PageData<User>> {
    const all = await this.loadIndex(tenantId, this.keys.users(tenantId), link);
    return this.page(authority === undefined ? all : all.filter((u) => u.authority === authority), link);
  }

  async listByCustomer(tenantId: string, customerId: string, link: PageLink): Promise<PageData<User>> {
    return this.page(await this.loadIndex(tenantId, this.keys.customerUsers(tenantId, customerId), link), link);
  }

  async delete(tenantId: string, userId: string): Promise<void> {
    const user = await this.get(tenantId, userId);
    if (user === null) throw new NotFoundError('USER', userId);
    await execAll(
      this.redis
        .multi()
        .del(this.keys.user(tenantId, userId), this.keys.userPassword(tenantId, userId))
        .zrem(this.keys.users(tenantId), userId)
        .zrem(this.keys.customerUsers(tenantId, user.customerId.id), userId),
    );
    this.docs.forget(this.keys.user(tenantId, userId));
    await RELEASE_EMAIL.run(this.redis, [this.keys.email(user.email)], [userId]);
  }

  private newUser(input: UserInput): User {
    if (typeof input.email !== 'string' || !EMAIL.test(input.email)) throw new StoreValidationError('Invalid email address format!');
    if (!AUTHORITIES.includes(input.authority)) throw new StoreValidationError(`invalid authority ${String(input.authority)}`);
    const sys = input.authority === 'SYS_ADMIN';
    const tenantId = sys ? NULL_UUID : input.tenantId;
    if (tenantId === undefined || (tenantId === NULL_UUID && !sys)) throw new StoreValidationError('Tenant is required for tenant and customer users');
    const customerId = input.authority === 'CUSTOMER_USER' ? input.customerId : NULL_UUID;
    if (customerId === undefined || (customerId === NULL_UUID && input.authority === 'CUSTOMER_USER')) {
      throw new StoreValidationError('Customer is required for customer users');
    }
    return {
      id: newId('USER'),
      createdTime: Date.now(),
      tenantId: idOf('TENANT', tenantId),
      customerId: idOf('CUSTOMER', customerId),
      email: input.email,
      name: input.email,
      authority: input.authority,
      firstName: input.firstName ?? null,
      lastName: input.lastName ?? null,
      phone: input.phone ?? null,
      additionalInfo: input.additionalInfo ?? null,
    };
  }

  private async claimEmail(email: string, tenantId: string, userId: string): Promise<void> {
    const key = this.keys.email(email);
    await retryStale('claim e-mail', async () => {
      const [status, heldTenant, heldUser] = replyStrings(await CLAIM_EMAIL.run(this.redis, [key], [tenantId, userId]));
      if (status === 'OK') return true;
      const holder = heldTenant && heldUser ? await this.get(heldTenant, heldUser) : null;
      if (holder !== null && holder.email.toLowerCase() === email.toLowerCase()) {
        throw new DuplicateError('USER', 'email', email, `User with email '${email}' already present in database!`);
      }
      // Left behind by a crash: take it over unless someone else just did.
      return (await STEAL_EMAIL.run(this.redis, [key], [heldUser ?? '', tenantId, userId])) === 1 ? true : STALE;
    });
  }

  private async loadIndex(tenantId: string, index: string, link: PageLink): Promise<User[]> {
    checkPageLink(link, ['createdTime', 'email', 'firstName', 'lastName']);
    const ids = await this.redis.zrange(index, 0, -1);
    return getDocs<User>(this.redis, ids.map((id) => this.keys.user(tenantId, id)));
  }

  private page(users: User[], link: PageLink): PageData<User> {
    return pageInMemory(users, link, {
      text: (u) => `${u.email} ${u.firstName ?? ''} ${u.lastName ?? ''}`,
      sortKeys: {
        createdTime: (u) => u.createdTime,
        email: (u) => u.email.toLowerCase(),
        firstName: (u) => (u.firstName ?? '').toLowerCase(),
        lastName: (u) => (u.lastName ?? '').toLowerCase(),
      },
      defaultSort: 'createdTime',
    });
  }
}

function checkPassword(password: string): string {
  if (typeof password !== 'string' || password.length === 0) throw new StoreValidationError('Password should be specified!');
  return password;
}
