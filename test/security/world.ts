// The security tests' world: the whole system (startSystem) on a throw-away redis-server, two
// tenants built through the REST API as a user would build them, and every kind of token the
// access matrix uses, good and bad. Shared by the matrix, the fuzzer and the limits tests.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { SignJWT } from 'jose';
import pino from 'pino';
import { signingKeyName } from '../../src/api/auth/signing-key.js';
import { startSystem, type RunningSystem } from '../../src/app/system.js';
import type { Settings } from '../../src/config/settings.js';
import { chainDoc } from '../helpers/chain-builder.js';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { testSettings } from '../helpers/test-settings.js';

export const PASSWORD = 'secret-Pa55';
const TRANSFORM = 'org.thingsboard.rule.engine.transform.TbTransformMsgNode';

/** The callers of the matrix, left to right: five bad tokens, then a user of each kind. */
export const BAD_TOKENS = ['none', 'expired', 'forged', 'algNone', 'malformed'] as const;
export const USERS = ['sys', 'adminA', 'adminB', 'custA', 'custA2', 'custB'] as const;
export const CALLERS = [...BAD_TOKENS, ...USERS] as const;
export type BadToken = (typeof BAD_TOKENS)[number];
export type UserKey = (typeof USERS)[number];
export type Caller = (typeof CALLERS)[number];

/** Ids of what the world holds (all made through the API). */
export interface WorldIds {
  readonly sys: string;
  readonly tenantA: string;
  readonly tenantB: string;
  readonly adminA: string;
  readonly adminB: string;
  /** Owns deviceA. */
  readonly customerA: string;
  /** A second customer of tenant A, owning nothing. */
  readonly customerA2: string;
  readonly customerB: string;
  /** The CUSTOMER_USER of customerA, customerA2, customerB. */
  readonly custA: string;
  readonly custA2: string;
  readonly custB: string;
  readonly deviceA: string;
  readonly deviceB: string;
  readonly deviceAToken: string;
  readonly deviceBToken: string;
  /** Tenant A's default device profile and root rule chain. */
  readonly profileA: string;
  readonly chainA: string;
}

export interface Res {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** Parsed JSON, undefined when the body is empty or not JSON. */
  readonly json: unknown;
}

export interface CallOptions {
  /** A caller of the matrix, a raw token, or nothing. */
  readonly as?: Caller;
  readonly token?: string;
  /** JSON-encoded unless a string or a Buffer. */
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  readonly signal?: AbortSignal;
}

/** Error log lines of the app (level >= 50): a 500 for a bug is logged "unhandled error". */
export interface LogRecorder {
  readonly errors: { msg: string; err?: { message?: string; stack?: string } }[];
}

export interface World {
  readonly system: RunningSystem;
  readonly redis: TestRedis;
  readonly base: string;
  readonly ids: WorldIds;
  readonly emails: Record<UserKey, string>;
  /** The header value each caller sends (null: no header). */
  readonly tokens: Record<Caller, string | null>;
  readonly refreshTokenA: string;
  readonly logs: LogRecorder;
  /** What the set-up had to work around (printed by the tests). */
  readonly notes: readonly string[];
  call(method: string, path: string, opts?: CallOptions): Promise<Res>;
  login(email: string, password?: string): Promise<string>;
  close(): Promise<void>;
}

export interface WorldOptions {
  readonly settings?: Partial<Settings>;
}

export async function startWorld(opts: WorldOptions = {}): Promise<World> {
  const redis = await startTestRedis();
  const logs: LogRecorder = { errors: [] };
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        try {
          const rec = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string; stack?: string } };
          if ((rec.level ?? 0) >= 50) logs.errors.push({ msg: rec.msg ?? '', ...(rec.err ? { err: rec.err } : {}) });
        } catch {
          logs.errors.push({ msg: line });
        }
      }
      done();
    },
  });
  const logger = pino({ level: process.env.SECURITY_TEST_LOG ?? 'error' }, sink);
  let system: RunningSystem;
  try {
    system = await startSystem(testSettings(opts.settings), redis.url, logger);
  } catch (e) {
    await redis.stop();
    throw e;
  }
  const base = `http://127.0.0.1:${system.httpPort}`;
  const notes: string[] = [];
  const tokens: Record<Caller, string | null> = {
    none: null,
    expired: null,
    forged: null,
    algNone: null,
    malformed: null,
    sys: null,
    adminA: null,
    adminB: null,
    custA: null,
    custA2: null,
    custB: null,
  };

  const call = async (method: string, path: string, o: CallOptions = {}): Promise<Res> => {
    const headers: Record<string, string> = {};
    const token = o.token ?? (o.as !== undefined ? tokens[o.as] : null);
    if (token !== null && token !== undefined) headers['x-authorization'] = `Bearer ${token}`;
    let body: string | Buffer | undefined;
    if (o.body !== undefined) {
      body = typeof o.body === 'string' || Buffer.isBuffer(o.body) ? o.body : JSON.stringify(o.body);
      headers['content-type'] = 'application/json';
    }
    Object.assign(headers, o.headers);
    const res = await fetch(`${base}${path}`, { method, headers, body, ...(o.signal ? { signal: o.signal } : {}) });
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  };

  const ok = async <T>(what: string, res: Promise<Res>): Promise<T> => {
    const r = await res;
    if (r.status !== 200) {
      const logged = logs.errors.map((e) => `${e.msg}: ${e.err?.stack ?? e.err?.message ?? ''}`).join('\n');
      throw new Error(`world set-up: ${what}: ${r.status} ${r.text}${logged ? `\nserver log:\n${logged}` : ''}`);
    }
    return r.json as T;
  };
  const login = async (email: string, password = PASSWORD): Promise<string> =>
    (await ok<{ token: string }>(`login ${email}`, call('POST', '/api/auth/login', { body: { username: email, password } }))).token;
  type Ent = { id: { id: string } };

  try {
    const emails: Record<UserKey, string> = {
      sys: 'sysadmin@security.example',
      adminA: 'admin@a.example',
      adminB: 'admin@b.example',
      custA: 'user@customer-a.example',
      custA2: 'user@customer-a2.example',
      custB: 'user@customer-b.example',
    };
    const sysUser = await system.store.users.create({ email: emails.sys, authority: 'SYS_ADMIN', password: PASSWORD });
    tokens.sys = await login(emails.sys);
    const sys = { token: tokens.sys };
    const newTenant = async (title: string): Promise<Ent> => {
      const res = await call('POST', '/api/tenant', { ...sys, body: { title } });
      if (res.status === 200) return res.json as Ent;
      // Seen while the shipped root chain names nodes not registered yet: the tenant test of the
      // matrix reports it; the rest of the world is still worth building.
      notes.push(`POST /api/tenant answered ${res.status} ${res.text.slice(0, 200)}; ${title} made through the store with a one-node root chain`);
      const tenant = await system.store.tenants.create({ title: `${title} (store)` });
      await system.store.deviceProfiles.create(tenant.id.id, { name: 'default', default: true });
      await system.chains.importChain(tenant.id.id, chainDoc('Root Rule Chain', [{ type: TRANSFORM, name: 'pass', configuration: { scriptLang: 'JS', jsScript: 'return {msg: msg, metadata: metadata, msgType: msgType};' } }], []), { root: true });
      return tenant;
    };
    const tenantA = await newTenant('Tenant A');
    const tenantB = await newTenant('Tenant B');
    const newAdmin = (email: string, tenantId: string) =>
      ok<Ent>(email, call('POST', '/api/user', { ...sys, body: { email, authority: 'TENANT_ADMIN', tenantId: { entityType: 'TENANT', id: tenantId }, password: PASSWORD } }));
    const adminA = await newAdmin(emails.adminA, tenantA.id.id);
    const adminB = await newAdmin(emails.adminB, tenantB.id.id);
    tokens.adminA = await login(emails.adminA);
    tokens.adminB = await login(emails.adminB);
    const asA = { token: tokens.adminA };
    const asB = { token: tokens.adminB };
    const customerA = await ok<Ent>('customer A', call('POST', '/api/customer', { ...asA, body: { title: 'Customer A' } }));
    const customerA2 = await ok<Ent>('customer A2', call('POST', '/api/customer', { ...asA, body: { title: 'Customer A2' } }));
    const customerB = await ok<Ent>('customer B', call('POST', '/api/customer', { ...asB, body: { title: 'Customer B' } }));
    const newCustomerUser = (as: { token: string }, email: string, customerId: string) =>
      ok<Ent>(email, call('POST', '/api/user', { ...as, body: { email, authority: 'CUSTOMER_USER', customerId: { entityType: 'CUSTOMER', id: customerId }, password: PASSWORD } }));
    const custA = await newCustomerUser(asA, emails.custA, customerA.id.id);
    const custA2 = await newCustomerUser(asA, emails.custA2, customerA2.id.id);
    const custB = await newCustomerUser(asB, emails.custB, customerB.id.id);
    const deviceAToken = `dev-a-${randomBytes(6).toString('hex')}`;
    const deviceBToken = `dev-b-${randomBytes(6).toString('hex')}`;
    const newDevice = (as: { token: string }, name: string, customerId: string, accessToken: string) =>
      ok<Ent>(name, call('POST', `/api/device?accessToken=${accessToken}`, { ...as, body: { name, customerId: { entityType: 'CUSTOMER', id: customerId } } }));
    const deviceA = await newDevice(asA, 'A thermostat', customerA.id.id, deviceAToken);
    const deviceB = await newDevice(asB, 'B meter', customerB.id.id, deviceBToken);
    const profiles = await ok<{ data: Ent[] }>('profiles', call('GET', '/api/deviceProfiles?pageSize=10&page=0', asA));
    const chains = await ok<{ data: (Ent & { root: boolean })[] }>('chains', call('GET', '/api/ruleChains?pageSize=10&page=0', asA));
    const chainA = chains.data.find((c) => c.root) ?? chains.data[0];
    if (profiles.data[0] === undefined || chainA === undefined) throw new Error('world set-up: tenant A has no device profile or rule chain');
    tokens.custA = await login(emails.custA);
    tokens.custA2 = await login(emails.custA2);
    tokens.custB = await login(emails.custB);
    const refreshTokenA = (await ok<{ refreshToken: string }>('login', call('POST', '/api/auth/login', { body: { username: emails.adminA, password: PASSWORD } }))).refreshToken;

    const ids: WorldIds = {
      sys: sysUser.id.id,
      tenantA: tenantA.id.id,
      tenantB: tenantB.id.id,
      adminA: adminA.id.id,
      adminB: adminB.id.id,
      customerA: customerA.id.id,
      customerA2: customerA2.id.id,
      customerB: customerB.id.id,
      custA: custA.id.id,
      custA2: custA2.id.id,
      custB: custB.id.id,
      deviceA: deviceA.id.id,
      deviceB: deviceB.id.id,
      deviceAToken,
      deviceBToken,
      profileA: profiles.data[0].id.id,
      chainA: chainA.id.id,
    };

    Object.assign(tokens, await badTokens(system, tokens.adminA));
    return {
      system,
      redis,
      base,
      ids,
      emails,
      tokens,
      refreshTokenA,
      logs,
      notes,
      call,
      login,
      async close() {
        await system.stop();
        await redis.stop();
      },
    };
  } catch (e) {
    await system.stop();
    await redis.stop();
    throw e;
  }
}

/**
 * Tokens that must all fail with 401, each made from tenant A's administrator's real claims so
 * that only the one defect differs: expired (signed with the server's own key, taken from Redis
 * where src/api/auth/signing-key.ts keeps it), forged (another key), `alg: none`, malformed.
 */
async function badTokens(system: RunningSystem, validToken: string): Promise<Record<BadToken, string | null>> {
  const keyB64 = await system.store.redis.get(signingKeyName(system.store.keys));
  if (keyB64 === null) throw new Error('world set-up: no JWT signing key in Redis');
  const key = new Uint8Array(Buffer.from(keyB64, 'base64'));
  const claims = decodePart(validToken, 1);
  const { exp: _exp, iat: _iat, ...rest } = claims;
  const now = Math.floor(Date.now() / 1000);
  const expired = await new SignJWT(rest).setProtectedHeader({ alg: 'HS512' }).setIssuedAt(now - 7200).setExpirationTime(now - 3600).sign(key);
  const forged = await new SignJWT({ ...rest, scopes: ['SYS_ADMIN'] })
    .setProtectedHeader({ alg: 'HS512' })
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(new Uint8Array(randomBytes(64)));
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const algNone = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, exp: now + 3600 })}.`;
  const malformed = `${validToken.split('.')[0] ?? ''}.not-base64-json!.x`;
  return { none: null, expired, forged, algNone, malformed };
}

export function decodePart(token: string, index: 0 | 1): Record<string, unknown> {
  const part = token.split('.')[index];
  if (part === undefined) throw new Error('not a JWT');
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
