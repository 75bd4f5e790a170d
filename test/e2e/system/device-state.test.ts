// Through the whole system: an MQTT device's connection makes it active (ThingsBoard's SERVER_SCOPE
// state attributes, read through the REST API), silence makes it inactive, and the root chain gets
// the connectivity events.
import { expect } from 'chai';
import mqtt from 'mqtt';
import pino from 'pino';
import { startSystem, type RunningSystem } from '../../../src/app/system.js';
import { chainDoc } from '../../helpers/chain-builder.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { testSettings } from '../../helpers/test-settings.js';

const TOKEN = 'DEVICE_STATE_TOKEN';

describe('system: device state (active, last*Time, connectivity events)', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let system: RunningSystem;
  let deviceId: string;
  let jwt: string;

  before(async () => {
    redis = await startTestRedis();
    system = await startSystem(testSettings({ inactivityTimeoutMs: 800 }), redis.url, pino({ level: 'silent' }));
    const tenantId = (await system.store.tenants.create({ title: 'State tenant' })).id.id;
    await system.store.users.create({ email: 'admin@state.test', authority: 'TENANT_ADMIN', tenantId, password: 'secret-1' });
    deviceId = (await system.store.devices.create(tenantId, { name: 'Boiler', type: 'boiler' })).id.id;
    await system.store.credentials.save(tenantId, deviceId, TOKEN);
    // Every connectivity event is saved as a time series named after its type, with its data's `active`.
    const root = chainDoc(
      'Root',
      [
        { type: 'org.thingsboard.rule.engine.filter.TbMsgTypeFilterNode', name: 'events', configuration: { messageTypes: ['CONNECT_EVENT', 'ACTIVITY_EVENT', 'INACTIVITY_EVENT', 'DISCONNECT_EVENT'] } },
        {
          type: 'org.thingsboard.rule.engine.transform.TbTransformMsgNode',
          name: 'as telemetry',
          configuration: { scriptLang: 'JS', jsScript: "var t = {}; t[msgType] = msg.active ? 1 : 0; return {msg: t, metadata: metadata, msgType: 'POST_TELEMETRY_REQUEST'};" },
        },
        { type: 'org.thingsboard.rule.engine.telemetry.TbMsgTimeseriesNode', name: 'save', configuration: { defaultTTL: 0 }, configurationVersion: 1 },
      ],
      [
        [0, 1, 'True'],
        [1, 2, 'Success'],
      ],
    );
    await system.chains.importChain(tenantId, root, { root: true });
    const login = await fetch(`${base()}/api/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'admin@state.test', password: 'secret-1' }) });
    jwt = ((await login.json()) as { token: string }).token;
  });
  after(async () => {
    await system?.stop();
    await redis?.stop();
  });

  const base = () => `http://127.0.0.1:${system.httpPort}`;
  const get = async <T>(path: string): Promise<T> => (await (await fetch(`${base()}${path}`, { headers: { 'X-Authorization': `Bearer ${jwt}` } })).json()) as T;
  const serverAttributes = async () =>
    Object.fromEntries((await get<{ key: string; value: unknown }[]>(`/api/plugins/telemetry/DEVICE/${deviceId}/values/attributes/SERVER_SCOPE`)).map((a) => [a.key, a.value]));
  async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
    let value = await read();
    for (let i = 0; i < 200 && !ok(value); i++) {
      await new Promise((res) => setTimeout(res, 25));
      value = await read();
    }
    if (!ok(value)) throw new Error(`${what}: still ${JSON.stringify(value)}`);
    return value;
  }

  it('connect → active with lastConnectTime; silence → inactive with lastInactivityAlarmTime; disconnect → lastDisconnectTime', async () => {
    const before = Date.now();
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${system.mqttPort}`, { username: TOKEN, reconnectPeriod: 0, keepalive: 0 });
    try {
      const active = await until('active after connect', serverAttributes, (a) => a.active === true);
      expect(active.lastConnectTime).to.be.at.least(before);
      expect(active.lastActivityTime).to.be.at.least(before);
      // Silent for longer than the 800 ms timeout: inactive, once.
      const inactive = await until('inactive after silence', serverAttributes, (a) => a.active === false);
      expect(inactive.lastInactivityAlarmTime).to.be.at.least(active.lastActivityTime as number);
      // Activity again: active again.
      await client.publishAsync('v1/devices/me/telemetry', '{"t":1}', { qos: 1 });
      await until('active after telemetry', serverAttributes, (a) => a.active === true);
    } finally {
      await client.endAsync();
    }
    await until('lastDisconnectTime', serverAttributes, (a) => typeof a.lastDisconnectTime === 'number');
    const series = await until(
      'events in the root chain',
      () => get<Record<string, unknown[]>>(`/api/plugins/telemetry/DEVICE/${deviceId}/values/timeseries?keys=CONNECT_EVENT,ACTIVITY_EVENT,INACTIVITY_EVENT,DISCONNECT_EVENT`),
      (s) => Object.keys(s).length === 4,
    );
    expect(Object.keys(series).sort()).to.deep.equal(['ACTIVITY_EVENT', 'CONNECT_EVENT', 'DISCONNECT_EVENT', 'INACTIVITY_EVENT']);
  });
});
