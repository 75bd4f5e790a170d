// Through the whole system: a device posts telemetry (HTTP, CoAP), the queues carry it to the
// tenant's root chain, the chain saves it, and the REST API reads it back.
import { expect } from 'chai';
import pino from 'pino';
import { request as coapRequest } from 'coap';
import mqtt from 'mqtt';
import { startSystem, type RunningSystem } from '../../../src/app/system.js';
import { chainDoc } from '../../helpers/chain-builder.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { testSettings } from '../../helpers/test-settings.js';

describe('system: device telemetry end to end', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let system: RunningSystem;
  let tenantId: string;
  let deviceId: string;
  let jwt: string;

  before(async () => {
    redis = await startTestRedis();
    system = await startSystem(testSettings(), redis.url, pino({ level: 'silent' }));
    const tenant = await system.store.tenants.create({ title: 'E2E tenant' });
    tenantId = tenant.id.id;
    await system.store.users.create({ email: 'admin@e2e.test', authority: 'TENANT_ADMIN', tenantId, password: 'secret-1' });
    const device = await system.store.devices.create(tenantId, { name: 'E2E thermometer', type: 'thermometer' });
    deviceId = device.id.id;
    await system.store.credentials.save(tenantId, deviceId, 'E2E_TOKEN');
    const root = chainDoc(
      'Root',
      [
        { type: 'org.thingsboard.rule.engine.filter.TbMsgTypeSwitchNode', name: 'switch' },
        { type: 'org.thingsboard.rule.engine.telemetry.TbMsgTimeseriesNode', name: 'save', configuration: { defaultTTL: 0 }, configurationVersion: 1 },
      ],
      [[0, 1, 'Post telemetry']],
    );
    await system.chains.importChain(tenantId, root, { root: true });
    const login = await fetch(`${base()}/api/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'admin@e2e.test', password: 'secret-1' }) });
    jwt = ((await login.json()) as { token: string }).token;
  });
  after(async () => {
    await system?.stop();
    await redis?.stop();
  });

  const base = () => `http://127.0.0.1:${system.httpPort}`;

  async function latest(key: string): Promise<string | undefined> {
    for (let i = 0; i < 100; i++) {
      const r = await fetch(`${base()}/api/plugins/telemetry/DEVICE/${deviceId}/values/timeseries?keys=${key}`, { headers: { 'X-Authorization': `Bearer ${jwt}` } });
      const body = (await r.json()) as Record<string, { ts: number; value: string }[]>;
      if (body[key]?.length) return body[key][0].value;
      await new Promise((res) => setTimeout(res, 20));
    }
    return undefined;
  }

  it('HTTP: POST /api/v1/{token}/telemetry is stored by the root chain and read back through the REST API', async () => {
    const r = await fetch(`${base()}/api/v1/E2E_TOKEN/telemetry`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ temperature: 23.5 }) });
    expect(r.status).to.equal(200);
    expect(await latest('temperature')).to.equal('23.5');
  });

  it('HTTP: a bad token is refused with 401 and nothing is stored', async () => {
    const r = await fetch(`${base()}/api/v1/NOT_A_TOKEN/telemetry`, { method: 'POST', body: JSON.stringify({ pressure: 1 }) });
    expect(r.status).to.equal(401);
  });

  it('CoAP: POST coap://.../api/v1/{token}/telemetry is stored too', async () => {
    const code = await new Promise<string>((resolve, reject) => {
      const req = coapRequest({ hostname: '127.0.0.1', port: system.coapPort ?? 0, method: 'POST', pathname: '/api/v1/E2E_TOKEN/telemetry' });
      req.on('response', (res) => resolve(res.code));
      req.on('error', reject);
      req.end(JSON.stringify({ humidity: 61 }));
    });
    expect(code).to.equal('2.01');
    expect(await latest('humidity')).to.equal('61');
  });

  it('MQTT: a shared attribute saved through the REST API reaches the subscribed device', async () => {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${system.mqttPort}`, { username: 'E2E_TOKEN', reconnectPeriod: 0 });
    try {
      await client.subscribeAsync('v1/devices/me/attributes', { qos: 1 });
      const received = new Promise<string>((resolve) => client.on('message', (topic, payload) => topic === 'v1/devices/me/attributes' && resolve(payload.toString())));
      const r = await fetch(`${base()}/api/plugins/telemetry/DEVICE/${deviceId}/SHARED_SCOPE`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Authorization': `Bearer ${jwt}` },
        body: JSON.stringify({ targetTemperature: 22 }),
      });
      expect(r.status).to.equal(200);
      expect(JSON.parse(await received)).to.deep.equal({ targetTemperature: 22 });
    } finally {
      await client.endAsync();
    }
  });
});
