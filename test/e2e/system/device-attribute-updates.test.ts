// Through the whole system: a shared attribute changed or deleted through the REST API reaches an
// HTTP device waiting on its attribute long poll and a CoAP device observing its attributes, as
// it reaches an MQTT device subscribed to v1/devices/me/attributes (device-telemetry.test.ts).
import { expect } from 'chai';
import pino from 'pino';
import { Agent, request as coapRequest, type ObserveReadStream } from 'coap';
import { createSocket } from 'node:dgram';
import { startSystem, type RunningSystem } from '../../../src/app/system.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { testSettings } from '../../helpers/test-settings.js';

const HTTP_TOKEN = 'E2E_ATTR_HTTP_TOKEN';
const COAP_TOKEN = 'E2E_ATTR_COAP_TOKEN';

describe('system: shared-attribute updates to HTTP and CoAP devices', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let system: RunningSystem;
  /** One device per protocol, so each test knows its device's shared attributes. */
  let httpDevice: string;
  let coapDevice: string;
  let jwt: string;

  before(async () => {
    redis = await startTestRedis();
    system = await startSystem(testSettings(), redis.url, pino({ level: 'silent' }));
    const tenant = await system.store.tenants.create({ title: 'E2E attributes tenant' });
    const tenantId = tenant.id.id;
    await system.store.users.create({ email: 'admin@attr.test', authority: 'TENANT_ADMIN', tenantId, password: 'secret-1' });
    httpDevice = (await system.store.devices.create(tenantId, { name: 'E2E HTTP valve', type: 'valve' })).id.id;
    coapDevice = (await system.store.devices.create(tenantId, { name: 'E2E CoAP valve', type: 'valve' })).id.id;
    await system.store.credentials.save(tenantId, httpDevice, HTTP_TOKEN);
    await system.store.credentials.save(tenantId, coapDevice, COAP_TOKEN);
    const login = await fetch(`${base()}/api/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'admin@attr.test', password: 'secret-1' }) });
    jwt = ((await login.json()) as { token: string }).token;
  });
  after(async () => {
    await system?.stop();
    await redis?.stop();
  });

  const base = () => `http://127.0.0.1:${system.httpPort}`;
  const sharedScope = (deviceId: string) => `${base()}/api/plugins/telemetry/DEVICE/${deviceId}/SHARED_SCOPE`;

  async function saveShared(deviceId: string, values: Record<string, unknown>): Promise<void> {
    const r = await fetch(sharedScope(deviceId), { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Authorization': `Bearer ${jwt}` }, body: JSON.stringify(values) });
    expect(r.status).to.equal(200);
  }

  async function deleteShared(deviceId: string, keys: string): Promise<void> {
    const r = await fetch(`${sharedScope(deviceId)}?keys=${keys}`, { method: 'DELETE', headers: { 'X-Authorization': `Bearer ${jwt}` } });
    expect(r.status).to.equal(200);
  }

  /** Until the device's waiting session is registered, where the REST API's push finds it. */
  async function registered(deviceId: string, protocol: 'http' | 'coap'): Promise<void> {
    for (let i = 0; i < 200; i++) {
      if ((await system.sessions.locateAll(deviceId)).some((l) => l.protocol === protocol)) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no ${protocol} session of the device was registered`);
  }

  it('HTTP: GET /api/v1/{token}/attributes/updates answers the change, then the deletion', async () => {
    const changed = fetch(`${base()}/api/v1/${HTTP_TOKEN}/attributes/updates?timeout=10000`);
    await registered(httpDevice, 'http');
    await saveShared(httpDevice, { valveOpen: true, limit: 12 });
    const first = await changed;
    expect(first.status).to.equal(200);
    expect(await first.json()).to.deep.equal({ valveOpen: true, limit: 12 });

    const deleted = fetch(`${base()}/api/v1/${HTTP_TOKEN}/attributes/updates?timeout=10000`);
    await registered(httpDevice, 'http');
    await deleteShared(httpDevice, 'limit');
    const second = await deleted;
    expect(second.status).to.equal(200);
    expect(await second.json()).to.deep.equal({ deleted: ['limit'] });
  });

  it('CoAP: an observer of /api/v1/{token}/attributes gets the current values, then each change and deletion', async () => {
    await saveShared(coapDevice, { mode: 'auto' });
    const socket = createSocket('udp4');
    const agent = new Agent({ type: 'udp4', socket });
    const notes: unknown[] = [];
    const res = await new Promise<ObserveReadStream>((resolve, reject) => {
      const req = coapRequest({ hostname: '127.0.0.1', port: system.coapPort ?? 0, method: 'GET', pathname: `/api/v1/${COAP_TOKEN}/attributes`, observe: true, agent });
      req.on('response', (r: ObserveReadStream) => {
        let first = true;
        r.on('data', (chunk: Buffer) => {
          if (first) return void (first = false); // the observe response itself
          notes.push(JSON.parse(chunk.toString()) as unknown);
        });
        resolve(r);
      });
      req.on('error', reject);
      req.end();
    });
    try {
      expect(res.code).to.equal('2.05');
      expect(JSON.parse(res.payload.toString())).to.deep.equal({ shared: { mode: 'auto' } });
      await registered(coapDevice, 'coap');
      await saveShared(coapDevice, { setpoint: 7 });
      await deleteShared(coapDevice, 'mode');
      for (let i = 0; i < 300 && notes.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      expect(notes).to.deep.equal([{ setpoint: 7 }, { deleted: ['mode'] }]);
    } finally {
      res.close(true);
      await new Promise((r) => setTimeout(r, 50));
      socket.close();
    }
  });
});
