import { expect } from 'chai';
import type { FastifyPluginAsync } from 'fastify';
import { currentUser, deviceAccessForRpc, requireAuth, uuidParams, errorResponses, type ApiPlugin } from '../../../src/api/index.js';
import { startApi, envelopeOf, type ApiFixture } from './harness.js';

// What the RPC routes do: an extra plugin guarded by requireAuth, answering plain text where ThingsBoard does.
const probe: FastifyPluginAsync = async (app) => {
  app.post<{ Params: { deviceId: string } }>(
    '/api/test/probe/:deviceId',
    {
      preHandler: requireAuth(['SYS_ADMIN', 'TENANT_ADMIN', 'CUSTOMER_USER']),
      schema: { tags: ['test'], summary: 'A probe', params: uuidParams('deviceId'), response: { 200: { type: 'object' }, ...errorResponses(401) } },
    },
    async (request, reply) => {
      const user = currentUser(request);
      const access = await deviceAccessForRpc(store(), user, request.params.deviceId);
      if (!access.ok) return reply.code(access.status).type('text/plain').send(access.message);
      return { user: user.email, device: access.device.name };
    },
  );
};

// The plugin is built before the fixture's store exists; it reads it at request time.
let fixture: ApiFixture | undefined;
const store = () => {
  if (fixture === undefined) throw new Error('fixture not started');
  return fixture.store;
};

describe('API OpenAPI document and extra plugins', () => {
  let api: ApiFixture;
  before(async () => {
    const plugins: ApiPlugin[] = [{ plugin: probe, name: 'probe' }];
    api = fixture = await startApi({ extra: { plugins } });
  });
  after(async () => api?.close());

  it('GET /api/openapi.json lists the routes with parameters, bodies, responses and authorities', async () => {
    const res = await api.app.inject({ method: 'GET', url: '/api/openapi.json' });
    expect(res.statusCode).to.equal(200);
    const doc = res.json() as { openapi: string; paths: Record<string, Record<string, Record<string, unknown>>> };
    expect(doc.openapi).to.equal('3.1.0');
    const expected: [string, string][] = [
      ['post', '/api/auth/login'],
      ['post', '/api/auth/token'],
      ['get', '/api/auth/user'],
      ['post', '/api/tenant'],
      ['get', '/api/tenant/{tenantId}'],
      ['delete', '/api/tenant/{tenantId}'],
      ['get', '/api/tenants'],
      ['post', '/api/customer'],
      ['get', '/api/customer/{customerId}'],
      ['get', '/api/customers'],
      ['post', '/api/user'],
      ['get', '/api/user/{userId}'],
      ['post', '/api/device'],
      ['get', '/api/device/{deviceId}'],
      ['delete', '/api/device/{deviceId}'],
      ['get', '/api/tenant/devices'],
      ['get', '/api/customer/{customerId}/devices'],
      ['get', '/api/device/{deviceId}/credentials'],
      ['post', '/api/device/credentials'],
      ['post', '/api/customer/{customerId}/device/{deviceId}'],
      ['delete', '/api/customer/device/{deviceId}'],
      ['post', '/api/relation'],
      ['delete', '/api/relation'],
      ['get', '/api/relations'],
      ['post', '/api/ruleChain/import'],
      ['post', '/api/ruleChain/{ruleChainId}/root'],
      ['get', '/api/ruleChain/{ruleChainId}'],
      ['get', '/api/ruleChain/{ruleChainId}/metadata'],
      ['get', '/api/ruleChain/{ruleChainId}/export'],
      ['get', '/api/ruleChains'],
      ['post', '/api/deviceProfile'],
      ['get', '/api/deviceProfile/{deviceProfileId}'],
      ['get', '/api/deviceProfiles'],
      ['post', '/api/deviceProfile/{deviceProfileId}/default'],
      ['get', '/api/plugins/telemetry/{entityType}/{entityId}/values/timeseries'],
      ['get', '/api/plugins/telemetry/{entityType}/{entityId}/values/attributes'],
      ['get', '/api/plugins/telemetry/{entityType}/{entityId}/values/attributes/{scope}'],
      ['post', '/api/plugins/telemetry/{entityType}/{entityId}/{scope}'],
      ['post', '/api/plugins/telemetry/{entityType}/{entityId}/attributes/{scope}'],
      ['delete', '/api/plugins/telemetry/{entityType}/{entityId}/{scope}'],
      ['get', '/api/alarm/{entityType}/{entityId}'],
      ['post', '/api/alarm/{alarmId}/ack'],
      ['post', '/api/alarm/{alarmId}/clear'],
      ['post', '/api/test/probe/{deviceId}'],
    ];
    for (const [method, path] of expected) expect(doc.paths[path]?.[method], `${method.toUpperCase()} ${path}`).to.be.an('object');
    expect(doc.paths['/api/openapi.json']).to.equal(undefined);

    const devices = doc.paths['/api/tenant/devices']!.get!;
    expect(devices['x-authorities']).to.deep.equal(['TENANT_ADMIN']);
    expect(devices.security).to.deep.include({ 'X-Authorization': [] });
    const params = devices.parameters as { name: string; in: string; required: boolean }[];
    expect(params.find((p) => p.name === 'pageSize')).to.include({ in: 'query' });
    const device = doc.paths['/api/device/{deviceId}']!.get!;
    expect((device.parameters as { name: string; in: string; required: boolean; schema: unknown }[])[0]).to.deep.include({ name: 'deviceId', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } });
    expect(((device.responses as Record<string, { content?: unknown }>)['404'])).to.have.property('content');
    const login = doc.paths['/api/auth/login']!.post!;
    expect(login.security).to.equal(undefined);
    expect((login.requestBody as { content: Record<string, { schema: { required: string[] } }> }).content['application/json']!.schema.required).to.deep.equal(['username', 'password']);
  });

  it("an extra plugin's route is guarded by requireAuth and gets the caller; its own plain-text answers pass through", async () => {
    const url = (id: string) => `/api/test/probe/${id}`;
    expect(envelopeOf(await api.call('POST', url(api.world.deviceA1.id.id)))).to.include({ status: 401, errorCode: 10 });
    const userA1 = await api.login(api.world.userA1);
    const ok = await api.call('POST', url(api.world.deviceA1.id.id), { token: userA1 });
    expect(ok.json).to.deep.equal({ user: 'user@a1.example', device: 'A1 thermostat' });
    const denied = await api.call('POST', url(api.world.deviceA2.id.id), { token: userA1 });
    expect(denied.status).to.equal(403);
    expect(denied.text).to.equal("You don't have permission to perform this operation!");
    const adminB = await api.login(api.world.adminB);
    const missing = await api.call('POST', url(api.world.deviceA1.id.id), { token: adminB });
    expect([missing.status, missing.text]).to.deep.equal([404, "Device with requested id wasn't found!"]);
    const sysadmin = await api.login(api.world.sysadmin);
    const sys = await api.call('POST', url(api.world.deviceA1.id.id), { token: sysadmin });
    expect([sys.status, sys.text]).to.deep.equal([403, 'System administrator is not allowed to perform this operation!']);
    // Validation of the plugin's schema uses the API's error envelope.
    expect(envelopeOf(await api.call('POST', url('nope'), { token: userA1 })).message).to.equal('Invalid UUID string: nope');
  });
});
