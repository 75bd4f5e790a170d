import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { startApi, envelopeOf, type ApiFixture } from './harness.js';

describe('API errors: the ThingsBoard envelope for every failure', () => {
  let api: ApiFixture;
  let adminA: string;
  let userA1: string;
  let sysadmin: string;
  before(async () => {
    api = await startApi({ settings: { maxBodyBytes: 2048 } });
    [adminA, userA1, sysadmin] = await Promise.all([api.login(api.world.adminA), api.login(api.world.userA1), api.login(api.world.sysadmin)]);
  });
  after(async () => api?.close());

  it('a body field of the wrong type: 400, errorCode 31, naming the field', async () => {
    const res = await api.call('POST', '/api/device', { token: adminA, body: { name: 5 } });
    expect(envelopeOf(res)).to.include({ status: 400, errorCode: 31, message: 'body.name must be string' });
    const missing = await api.call('POST', '/api/customer', { token: adminA, body: { email: 'c@x.example' } });
    expect(envelopeOf(missing)).to.include({ status: 400, message: 'body.title is required' });
    const nested = await api.call('POST', '/api/relation', { token: adminA, body: { from: { entityType: 'DEVICE', id: 'nope' }, to: { entityType: 'DEVICE', id: randomUUID() }, type: 'Contains' } });
    expect(envelopeOf(nested).message).to.equal('Invalid UUID string: nope');
  });

  it('query parameters are checked too: missing pageSize, a non-integer page, an unknown sortOrder', async () => {
    expect(envelopeOf(await api.call('GET', '/api/customers?page=0', { token: adminA })).message).to.equal('querystring.pageSize is required');
    expect(envelopeOf(await api.call('GET', '/api/customers?pageSize=10&page=x', { token: adminA })).message).to.equal('querystring.page must be integer');
    expect(envelopeOf(await api.call('GET', '/api/customers?pageSize=10&page=0&sortOrder=UP', { token: adminA })).message).to.equal(
      'querystring.sortOrder must be one of ASC, DESC',
    );
  });

  it('an id in the path that is not a UUID: 400 "Invalid UUID string: ..."', async () => {
    const res = await api.call('GET', '/api/device/not-a-uuid', { token: adminA });
    expect(envelopeOf(res)).to.include({ status: 400, errorCode: 31, message: 'Invalid UUID string: not-a-uuid' });
  });

  it('a body that is not JSON: 400 "Invalid request body"', async () => {
    const res = await api.call('POST', '/api/customer', { token: adminA, body: '{"title": ' });
    expect(envelopeOf(res)).to.include({ status: 400, errorCode: 31, message: 'Invalid request body' });
  });

  it('a body over the size limit: 413, errorCode 31', async () => {
    const res = await api.call('POST', '/api/customer', { token: adminA, body: { title: 'x'.repeat(4096) } });
    expect(envelopeOf(res)).to.include({ status: 413, errorCode: 31 });
  });

  it('an unknown route: 404 envelope, errorCode 32', async () => {
    const res = await api.call('GET', '/api/no/such/thing?x=1');
    expect(envelopeOf(res)).to.include({ status: 404, errorCode: 32, message: 'No route for GET /api/no/such/thing' });
  });

  it("another tenant's device does not exist for the caller (404), nor does an unknown id", async () => {
    const foreign = await api.call('GET', `/api/device/${api.world.deviceB1.id.id}`, { token: adminA });
    expect(envelopeOf(foreign)).to.include({ status: 404, errorCode: 32, message: `Device with id [${api.world.deviceB1.id.id}] is not found` });
    const unknown = randomUUID();
    expect(envelopeOf(await api.call('GET', `/api/device/${unknown}`, { token: adminA })).message).to.equal(`Device with id [${unknown}] is not found`);
    expect((await api.call('DELETE', `/api/device/${api.world.deviceB1.id.id}`, { token: adminA })).status).to.equal(404);
    expect(await api.store.devices.findById(api.world.tenantB.id.id, api.world.deviceB1.id.id)).to.not.equal(null);
  });

  it("a customer user on another customer's device: 403 with ThingsBoard's message", async () => {
    for (const path of [`/api/device/${api.world.deviceA2.id.id}`, `/api/device/${api.world.deviceA3.id.id}/credentials`, `/api/plugins/telemetry/DEVICE/${api.world.deviceA2.id.id}/values/attributes`]) {
      const res = await api.call('GET', path, { token: userA1 });
      expect(envelopeOf(res), path).to.include({ status: 403, errorCode: 20, message: "You don't have permission to perform this operation!" });
    }
    expect((await api.call('GET', `/api/device/${api.world.deviceA1.id.id}`, { token: userA1 })).status).to.equal(200);
  });

  it('the system administrator is refused tenant data (403)', async () => {
    const res = await api.call('GET', `/api/plugins/telemetry/DEVICE/${api.world.deviceA1.id.id}/values/timeseries`, { token: sysadmin });
    expect(envelopeOf(res)).to.include({ status: 403, errorCode: 20 });
    expect(envelopeOf(await api.call('GET', '/api/customers?pageSize=10&page=0', { token: sysadmin }))).to.include({ status: 403 });
  });
});
