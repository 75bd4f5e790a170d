// Two API processes on one Redis. Each keeps the users and devices its requests read in memory
// (src/store/tracked-doc-cache.ts); a change made through the other process must count at once:
// a deleted user's token, a device given to another customer, a deleted device.
import { expect } from 'chai';
import pino from 'pino';
import { startSystem, type RunningSystem } from '../../../src/app/system.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { testSettings } from '../../helpers/test-settings.js';

const PASSWORD = 'secret-Pa55';

describe('api: users and devices cached by one process, changed through another', function () {
  this.timeout(60_000);
  let redis: TestRedis;
  let one: RunningSystem;
  let two: RunningSystem;
  let adminToken: string;
  let tenantId: string;

  const call = async (via: RunningSystem, method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${via.httpPort}${path}`, {
      method,
      headers: { 'x-authorization': `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, text: await res.text() };
  };
  const login = async (email: string) => {
    const res = await fetch(`http://127.0.0.1:${one.httpPort}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: email, password: PASSWORD }),
    });
    return ((await res.json()) as { token: string }).token;
  };

  before(async () => {
    redis = await startTestRedis();
    const logger = pino({ level: 'silent' });
    one = await startSystem(testSettings({ roles: ['api'], serviceId: 'api-one' }), redis.url, logger);
    two = await startSystem(testSettings({ roles: ['api'], serviceId: 'api-two' }), redis.url, logger);
    tenantId = (await one.store.tenants.create({ title: 'Cache' })).id.id;
    await one.store.users.create({ email: 'admin@cache.example', authority: 'TENANT_ADMIN', tenantId, password: PASSWORD });
    adminToken = await login('admin@cache.example');
  });
  after(async () => {
    await two?.stop();
    await one?.stop();
    await redis?.stop();
  });

  it("a user deleted through one process loses access through the other at once", async () => {
    const customer = await one.store.customers.create(tenantId, { title: 'C1' });
    const user = await one.store.users.create({ email: 'leaver@cache.example', authority: 'CUSTOMER_USER', tenantId, customerId: customer.id.id, password: PASSWORD });
    const device = await one.store.devices.create(tenantId, { name: 'd-user', customerId: customer.id.id });
    const token = await login('leaver@cache.example');
    for (let i = 0; i < 3; i++) expect((await call(two, 'GET', `/api/device/${device.id.id}`, token)).status).to.equal(200);
    expect((await call(one, 'DELETE', `/api/user/${user.id.id}`, adminToken)).status).to.equal(200);
    expect((await call(two, 'GET', `/api/device/${device.id.id}`, token)).status).to.equal(401);
  });

  it('a device given to another customer through one process is refused to the first customer through the other', async () => {
    const mine = await one.store.customers.create(tenantId, { title: 'Mine' });
    const other = await one.store.customers.create(tenantId, { title: 'Other' });
    await one.store.users.create({ email: 'cu@cache.example', authority: 'CUSTOMER_USER', tenantId, customerId: mine.id.id, password: PASSWORD });
    const device = await one.store.devices.create(tenantId, { name: 'd-move', customerId: mine.id.id });
    const token = await login('cu@cache.example');
    // The device is read by id (as the RPC endpoints read it): from memory after the first call.
    for (let i = 0; i < 3; i++) expect((await call(two, 'GET', `/api/device/${device.id.id}`, token)).status).to.equal(200);
    expect((await call(one, 'POST', `/api/customer/${other.id.id}/device/${device.id.id}`, adminToken)).status).to.equal(200);
    const after = await call(two, 'GET', `/api/device/${device.id.id}`, token);
    expect(after.status, after.text).to.equal(403);
  });

  it('a device deleted through one process is not found through the other', async () => {
    const device = await one.store.devices.create(tenantId, { name: 'd-gone' });
    for (let i = 0; i < 3; i++) expect((await call(two, 'GET', `/api/device/${device.id.id}`, adminToken)).status).to.equal(200);
    expect((await call(one, 'DELETE', `/api/device/${device.id.id}`, adminToken)).status).to.equal(200);
    expect((await call(two, 'GET', `/api/device/${device.id.id}`, adminToken)).status).to.equal(404);
  });
});
