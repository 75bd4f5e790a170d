// Limits that protect the system from its callers: the login lockout, the request size limits,
// and a device that can act only as itself through the HTTP device API.
import { request as httpRequest } from 'node:http';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { DEFAULT_API_SETTINGS } from '../../src/api/api-settings.js';
import { SHIPPED_ROOT_CHAIN } from '../../src/app/demo.js';
import { DEFAULT_TRANSPORT_LIMITS } from '../../src/transport/transport-api.js';
import { PASSWORD, sleep, startWorld, type Res, type World } from './world.js';

const MAX_FAILURES = DEFAULT_API_SETTINGS.loginMaxFailures;
const LOCK_S = DEFAULT_API_SETTINGS.loginLockMs / 1000;
const BODY_LIMIT = DEFAULT_API_SETTINGS.maxBodyBytes;

const envelope = (res: Res) => res.json as { status: number; errorCode: number; message: string; timestamp: number };

/** A POST whose body goes out in chunks, with no Content-Length. */
function postChunked(w: World, path: string, token: string | null, total: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${w.base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked', ...(token ? { 'x-authorization': `Bearer ${token}` } : {}) } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
    });
    // The server may answer 413 and close while we still write: that is the point.
    req.on('error', (e) => reject(e));
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    let sent = 0;
    req.write('{"pad":"');
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end('"}');
    };
    pump();
  });
}

describe('security limits: login lockout', function () {
  this.timeout(60_000);
  let w: World;
  before(async () => {
    w = await startWorld();
  });
  after(async () => w?.close());

  const attempt = (username: string, password: string) => w.call('POST', '/api/auth/login', { body: { username, password } });

  it(`locks a user name after ${MAX_FAILURES} wrong passwords: 429, errorCode 33, Retry-After ${LOCK_S}, even for the right password`, async () => {
    const username = w.emails.custB;
    for (let i = 1; i < MAX_FAILURES; i++) expect(envelope(await attempt(username, `wrong-${i}`))).to.include({ status: 401, errorCode: 10, message: 'Invalid username or password' });
    const locking = await attempt(username, 'wrong-last');
    expect(envelope(locking)).to.include({ status: 429, errorCode: 33 });
    expect(Number(locking.headers.get('retry-after'))).to.be.within(LOCK_S - 1, LOCK_S);
    const right = await attempt(username, PASSWORD);
    expect(envelope(right)).to.include({ status: 429, errorCode: 33 });
    expect(Number(right.headers.get('retry-after'))).to.be.within(1, LOCK_S);
    expect(right.text).to.not.include('token');
    // Another user is not affected.
    expect((await attempt(w.emails.custA, PASSWORD)).status).to.equal(200);
  });

  it('the lock cannot be dodged by changing the case or padding of the user name', async () => {
    const username = w.emails.custA2;
    for (let i = 0; i < MAX_FAILURES; i++) await attempt(username, `wrong-${i}`);
    for (const variant of [username.toUpperCase(), ` ${username} `, `${username}\t`]) {
      expect(envelope(await attempt(variant, PASSWORD)), JSON.stringify(variant)).to.include({ status: 429, errorCode: 33 });
    }
  });

  it('an unknown user name is answered and locked exactly like a real one (no account enumeration)', async () => {
    const ghost = `ghost-${randomUUID()}@nowhere.example`;
    const real = await attempt(w.emails.adminB, 'wrong');
    const unknown = await attempt(ghost, 'wrong');
    expect(unknown.status).to.equal(real.status);
    expect(envelope(unknown).message).to.equal(envelope(real).message);
    for (let i = 1; i < MAX_FAILURES - 1; i++) await attempt(ghost, 'wrong');
    expect(envelope(await attempt(ghost, 'wrong'))).to.include({ status: 429, errorCode: 33 });
  });

  it('login takes about as long for an unknown user as for a wrong password (no timing oracle)', async () => {
    const time = async (username: string) => {
      const t0 = performance.now();
      await attempt(username, 'wrong');
      return performance.now() - t0;
    };
    const real: number[] = [];
    const ghost: number[] = [];
    // Fresh names each time, so that no lock answers early.
    for (let i = 0; i < 3; i++) {
      const email = `timing-${i}-${randomUUID()}@a.example`;
      await w.system.store.users.create({ email, authority: 'CUSTOMER_USER', tenantId: w.ids.tenantA, customerId: w.ids.customerA, password: PASSWORD });
      real.push(await time(email));
      ghost.push(await time(`ghost-${i}-${randomUUID()}@a.example`));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1] ?? 0;
    const [r, g] = [median(real), median(ghost)];
    expect(g, `unknown ${g.toFixed(1)} ms vs known ${r.toFixed(1)} ms`).to.be.within(r / 3, r * 3);
  });
});

// Defects found here in src/ (reported; kept failing until fixed).
describe('security findings: login lockout under concurrency and huge user names', function () {
  this.timeout(60_000);
  let w: World;
  before(async () => {
    w = await startWorld();
  });
  after(async () => w?.close());

  // src/api/routes/auth.ts:35-40 checks the lock, then verifies the password, then counts the
  // failure: parallel guesses all pass the check before any is counted. And the Lua script of
  // src/api/auth/login-throttle.ts:19-24 deletes the failure count when it locks, so failures that
  // land while locked count from 1 again and answer 401 instead of 429. Measured: 40 parallel
  // wrong passwords → 32 checked (401), 8 refused; a right password among them → 200.
  it(`parallel guesses cannot outrun the lockout: of 40 concurrent wrong passwords at most ${MAX_FAILURES} are checked`, async () => {
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => w.call('POST', '/api/auth/login', { body: { username: w.emails.custB, password: `guess-${i}` } })));
    const checked = answers.filter((r) => r.status === 401).length;
    expect(answers.every((r) => r.status === 401 || r.status === 429), answers.map((r) => r.status).join(',')).to.equal(true);
    expect(checked, `${checked} of 40 guesses were checked against the password`).to.be.at.most(MAX_FAILURES);
  });

  // src/api/auth/login-throttle.ts:66 puts the user name, as sent, into two Redis key names that
  // live for the failure window (5 min), and src/api/routes/auth.ts:28 sets no maxLength on it:
  // each failed login with a 16 MiB name leaves 16 MiB (32 MiB once locked) in Redis, for anyone,
  // unauthenticated. Measured: five 1 MiB names → Redis used_memory +7.9 MB.
  it('a failed login with a 1 MiB user name leaves no big key in Redis', async () => {
    const username = `${'x'.repeat(1024 * 1024)}@a.example`;
    const res = await w.call('POST', '/api/auth/login', { body: { username, password: 'nope' } });
    expect([400, 401]).to.include(res.status);
    const big: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await w.system.store.redis.scan(cursor, 'COUNT', 1000);
      cursor = next;
      big.push(...keys.filter((k) => k.length > 1024).map((k) => `${k.slice(0, 40)}… (${k.length} bytes)`));
    } while (cursor !== '0');
    expect(big).to.deep.equal([]);
  });
});

describe('security limits: request size', function () {
  this.timeout(60_000);
  let w: World;
  let rpcWired = false;
  before(async () => {
    w = await startWorld();
    const doc = (await w.call('GET', '/api/openapi.json')).json as { paths: Record<string, unknown> };
    rpcWired = '/api/rpc/oneway/{deviceId}' in doc.paths;
  });
  after(async () => w?.close());

  const padded = (size: number, head = '{"name":5,"pad":"') => Buffer.concat([Buffer.from(head), Buffer.alloc(size - head.length - 2, 0x61), Buffer.from('"}')]);

  it(`a REST body over ${BODY_LIMIT} bytes: 413, JSON envelope, errorCode 31 (spec §2.3)`, async () => {
    const res = await w.call('POST', `/api/plugins/telemetry/DEVICE/${w.ids.deviceA}/SERVER_SCOPE`, { as: 'adminA', body: padded(BODY_LIMIT + 1) });
    expect(envelope(res)).to.include({ status: 413, errorCode: 31 });
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
  });

  it('the same when the body comes chunked, without a Content-Length', async () => {
    let res: { status: number; text: string };
    try {
      res = await postChunked(w, `/api/plugins/telemetry/DEVICE/${w.ids.deviceA}/SERVER_SCOPE`, w.tokens.adminA, BODY_LIMIT + 1024 * 1024);
    } catch (e) {
      // The server may close the connection after its 413 while the client still writes.
      expect((e as NodeJS.ErrnoException).code).to.be.oneOf(['EPIPE', 'ECONNRESET']);
      return;
    }
    expect(res.status, res.text.slice(0, 200)).to.equal(413);
    expect(JSON.parse(res.text)).to.include({ status: 413, errorCode: 31 });
  });

  it('a body of exactly the limit is read (here: refused by validation, 400, not 413)', async () => {
    const res = await w.call('POST', '/api/device', { as: 'adminA', body: padded(BODY_LIMIT) });
    expect(envelope(res)).to.include({ status: 400, errorCode: 31, message: 'body.name must be string' });
  });

  it('after oversized bodies the server still answers', async () => {
    for (let i = 0; i < 5; i++) expect((await w.call('POST', '/api/device', { as: 'adminA', body: padded(BODY_LIMIT + 1) })).status).to.equal(413);
    expect((await w.call('GET', '/api/auth/user', { as: 'adminA' })).status).to.equal(200);
  });

  it('server-side RPC: a body over the limit → 413 envelope (spec §2.3)', async function () {
    if (!rpcWired) this.skip();
    const res = await w.call('POST', `/api/rpc/oneway/${w.ids.deviceA}`, { as: 'adminA', body: padded(BODY_LIMIT + 1, '{"method":"x","params":"') });
    expect(envelope(res)).to.include({ status: 413, errorCode: 31 });
  });

  it(`HTTP device API: an RPC reply over ${DEFAULT_TRANSPORT_LIMITS.maxPayloadBytes} bytes → 413 (spec §7.2); at the limit → 200`, async () => {
    const path = `/api/v1/${w.ids.deviceAToken}/rpc/1`;
    const max = DEFAULT_TRANSPORT_LIMITS.maxPayloadBytes;
    const over = await w.call('POST', path, { body: padded(max + 1, '{"r":"') });
    expect(over.status, over.text).to.equal(413);
    const at = await w.call('POST', path, { body: padded(max, '{"r":"') });
    expect(at.status, at.text).to.equal(200);
  });
});

describe('security limits: through the HTTP device API a device acts only as itself', function () {
  this.timeout(60_000);
  let w: World;
  let rpcWired = false;

  before(async () => {
    w = await startWorld();
    // The shipped root chain (saves telemetry and attributes, sends RPCs) as root of both tenants,
    // whichever way the world made them, so that where a device's data lands can be read back.
    const root = JSON.parse(await readFile(SHIPPED_ROOT_CHAIN, 'utf8')) as unknown;
    for (const as of ['adminA', 'adminB'] as const) {
      const res = await w.call('POST', '/api/ruleChain/import?root=true', { as, body: root });
      if (res.status !== 200) throw new Error(`importing the shipped root chain as ${as}: ${res.status} ${res.text}`);
    }
    const openapi = (await w.call('GET', '/api/openapi.json')).json as { paths: Record<string, unknown> };
    rpcWired = '/api/rpc/twoway/{deviceId}' in openapi.paths;
  });
  after(async () => w?.close());

  const latest = async (as: 'adminA' | 'adminB', deviceId: string, key: string): Promise<unknown> => {
    const res = await w.call('GET', `/api/plugins/telemetry/DEVICE/${deviceId}/values/timeseries?keys=${key}&useStrictDataTypes=true`, { as });
    return (res.json as Record<string, { value: unknown }[]>)[key]?.[0]?.value;
  };
  const waitFor = async (what: string, cond: () => Promise<boolean>) => {
    const deadline = Date.now() + 10_000;
    while (!(await cond())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(50);
    }
  };

  it("telemetry posted with device A's token lands on device A, whatever device the body names", async () => {
    const key = `spoof${Date.now()}`;
    const body = { device: 'B meter', deviceName: 'B meter', deviceId: w.ids.deviceB, entityId: { entityType: 'DEVICE', id: w.ids.deviceB }, [key]: 42 };
    expect((await w.call('POST', `/api/v1/${w.ids.deviceAToken}/telemetry`, { body })).status).to.equal(200);
    await waitFor('the telemetry on device A', async () => (await latest('adminA', w.ids.deviceA, key)) === 42);
    expect(await latest('adminB', w.ids.deviceB, key)).to.equal(undefined);
  });

  it("client attributes posted by A are A's: B cannot read them, and A cannot read B's shared attributes", async () => {
    const key = `fw${Date.now()}`;
    expect((await w.call('POST', `/api/v1/${w.ids.deviceAToken}/attributes`, { body: { [key]: 'A-1.0' } })).status).to.equal(200);
    await waitFor("A's client attribute", async () => {
      const res = await w.call('GET', `/api/v1/${w.ids.deviceAToken}/attributes?clientKeys=${key}`);
      return JSON.stringify(res.json).includes('A-1.0');
    });
    const fromB = await w.call('GET', `/api/v1/${w.ids.deviceBToken}/attributes?clientKeys=${key}`);
    expect(fromB.status).to.equal(200);
    expect(fromB.text).to.not.include('A-1.0');

    const shared = `secret${Date.now()}`;
    expect((await w.call('POST', `/api/plugins/telemetry/DEVICE/${w.ids.deviceB}/SHARED_SCOPE`, { as: 'adminB', body: { [shared]: 'only-for-B' } })).status).to.equal(200);
    expect((await w.call('GET', `/api/v1/${w.ids.deviceBToken}/attributes?sharedKeys=${shared}`)).text).to.include('only-for-B');
    expect((await w.call('GET', `/api/v1/${w.ids.deviceAToken}/attributes?sharedKeys=${shared}`)).text).to.not.include('only-for-B');
  });

  it("no near-miss of a token is a device: another case, a suffix, a prefix, B's device id, path tricks → 401", async () => {
    const t = w.ids.deviceAToken;
    const near = [t.toUpperCase(), `${t}x`, t.slice(0, -1), ` ${t}`, w.ids.deviceB, w.ids.deviceA, `${t}%00`, `..%2F${w.ids.deviceBToken}`, encodeURIComponent(`${t}/`), '%20', 'null', 'undefined'];
    const wrong: string[] = [];
    for (const token of near) {
      const res = await w.call('POST', `/api/v1/${token}/telemetry`, { body: { temperature: 1 } });
      if (res.status !== 401 && res.status !== 404) wrong.push(`${token}: ${res.status} ${res.text}`);
    }
    expect(wrong).to.deep.equal([]);
  });

  it("a reply posted by device A to device B's command does not answer B's RPC", async function () {
    if (!rpcWired) this.skip();
    // B waits for a command; the REST caller sends one; A answers it with B's request id.
    const poll = w.call('GET', `/api/v1/${w.ids.deviceBToken}/rpc?timeout=10000`);
    await sleep(300);
    const rest = w.call('POST', `/api/rpc/twoway/${w.ids.deviceB}`, { as: 'adminB', body: { method: 'getState', params: {}, timeout: 5000 } });
    const command = await poll;
    expect(command.status, command.text).to.equal(200);
    const requestId = (command.json as { id: number }).id;
    expect((await w.call('POST', `/api/v1/${w.ids.deviceAToken}/rpc/${requestId}`, { body: { spoofed: true } })).status).to.equal(200);
    await sleep(300);
    expect((await w.call('POST', `/api/v1/${w.ids.deviceBToken}/rpc/${requestId}`, { body: { state: 'B' } })).status).to.equal(200);
    const answer = await rest;
    expect(answer.status, answer.text).to.equal(200);
    expect(answer.json).to.deep.equal({ state: 'B' });
  });
});

// Defect found here (reported; kept failing until fixed): src/api/app.ts:28 builds fastify with
// no connectionTimeout/requestTimeout, so a client that sends the headers and part of a body and
// then trickles (a byte every few seconds, or nothing) keeps its request open for good: measured
// 150 s of one request held for a byte every 20 s, and system.stop() (fastify close) waits for
// it. Unauthenticated callers can pile such connections up (slowloris). Tomcat, under
// ThingsBoard, bounds this with its connectionTimeout.
describe('security findings: slow clients', function () {
  this.timeout(60_000);
  let w: World;
  before(async () => {
    w = await startWorld();
  });
  after(async () => w?.close());

  it('a request whose body stalls is dropped by the server within 30 s', async () => {
    const { connect } = await import('node:net');
    const port = Number(new URL(w.base).port);
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    // Read what the server sends (its 408), so that its closing the connection is seen.
    socket.resume();
    const t0 = Date.now();
    const closedAfter = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now() - t0)));
    socket.on('connect', () => socket.write('POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"username":'));
    // A byte every 5 s: enough to defeat a pure idle timeout.
    const trickle = setInterval(() => socket.write(' '), 5000);
    const verdict = await Promise.race([closedAfter, sleep(30_000).then(() => -1)]);
    clearInterval(trickle);
    socket.destroy();
    expect(verdict, 'the server still held the request after 30 s').to.be.greaterThan(0);
  });
});
