// The device state service on a real Redis and Store: ThingsBoard's state attributes and which
// connectivity events reach the rule engine (recorded here in place of the queue).
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { DeviceStateService } from '../../../src/device-state/device-state-service.js';
import { newMsg, type TbMsg } from '../../../src/msg/tb-msg.js';
import { Store } from '../../../src/store/store.js';
import type { Device } from '../../../src/store/devices.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';

const TIMEOUT = 1_000;

describe('DeviceStateService', () => {
  let server: TestRedis;
  let redis: Redis;
  let store: Store;
  let tenantId: string;
  let sent: TbMsg[];
  const service = () => new DeviceStateService({ redis, store, toRuleEngine: async (m) => void sent.push(m), inactivityTimeoutMs: TIMEOUT, logger: { warn: () => undefined } });

  before(async () => {
    server = await startTestRedis();
    redis = new Redis(server.url);
    store = new Store(redis);
    tenantId = (await store.tenants.create({ title: 'State tenant' })).id.id;
  });
  after(async () => {
    redis.disconnect();
    await server.stop();
  });
  beforeEach(() => (sent = []));

  let n = 0;
  const newDevice = () => store.devices.create(tenantId, { name: `Meter ${++n}`, type: 'meter' });
  /** A transport's event message for the device. */
  const event = (device: Device, type: string, ts: number) =>
    newMsg({ type, originator: device.id, tenantId, data: '{"active":true}', metaData: { deviceName: device.name, deviceType: device.type }, ts });
  const state = async (device: Device) => Object.fromEntries((await store.attributes.getAll(device.id, 'SERVER_SCOPE')).map((kv) => [kv.key, kv.value]));

  it('connect: CONNECT_EVENT then ACTIVITY_EVENT, each with the whole state; the attributes say active', async () => {
    const device = await newDevice();
    await service().record(event(device, 'CONNECT_EVENT', 1000));
    expect(sent.map((m) => m.type)).to.deep.equal(['CONNECT_EVENT', 'ACTIVITY_EVENT']);
    expect(JSON.parse((sent[0] as TbMsg).data)).to.deep.equal({ active: false, lastConnectTime: 1000, lastActivityTime: 0, lastDisconnectTime: 0, lastInactivityAlarmTime: 0, inactivityTimeout: TIMEOUT });
    expect(JSON.parse((sent[1] as TbMsg).data)).to.deep.include({ active: true, lastConnectTime: 1000, lastActivityTime: 1000 });
    expect(sent[1]?.metaData).to.deep.include({ deviceName: device.name, deviceType: 'meter', scope: 'SERVER_SCOPE' });
    expect(sent[1]?.originator).to.deep.equal(device.id);
    expect(await state(device)).to.deep.equal({ active: true, lastConnectTime: 1000, lastActivityTime: 1000 });
  });

  it('activity of an active device updates lastActivityTime and sends nothing; disconnect always goes on', async () => {
    const device = await newDevice();
    const s = service();
    await s.record(event(device, 'ACTIVITY_EVENT', 1000));
    await s.record(event(device, 'ACTIVITY_EVENT', 1500));
    await s.record(event(device, 'ACTIVITY_EVENT', 1200)); // reported late by another process
    await s.record(event(device, 'DISCONNECT_EVENT', 1600));
    expect(sent.map((m) => m.type)).to.deep.equal(['ACTIVITY_EVENT', 'DISCONNECT_EVENT']);
    expect(await state(device)).to.deep.include({ active: true, lastActivityTime: 1500, lastDisconnectTime: 1600 });
  });

  it("a session's INACTIVITY counts only once the device is silent everywhere; then it goes on once and the device is inactive", async () => {
    const device = await newDevice();
    const s = service();
    await s.record(event(device, 'ACTIVITY_EVENT', 1000));
    await s.record(event(device, 'ACTIVITY_EVENT', 1800)); // another session was busy
    await s.record(event(device, 'INACTIVITY_EVENT', 2000)); // deadline 2800: not yet
    expect(sent.map((m) => m.type)).to.deep.equal(['ACTIVITY_EVENT']);
    await s.record(event(device, 'INACTIVITY_EVENT', 2800));
    await s.record(event(device, 'INACTIVITY_EVENT', 2900));
    expect(sent.map((m) => m.type)).to.deep.equal(['ACTIVITY_EVENT', 'INACTIVITY_EVENT']);
    expect(await state(device)).to.deep.include({ active: false, lastInactivityAlarmTime: 2800 });
    // Back: ACTIVITY_EVENT again.
    await s.record(event(device, 'ACTIVITY_EVENT', 3000));
    expect(sent.map((m) => m.type)).to.deep.equal(['ACTIVITY_EVENT', 'INACTIVITY_EVENT', 'ACTIVITY_EVENT']);
  });

  it('the sweep finds devices nobody reports any more, and two processes sweeping report each once', async () => {
    const quiet = await newDevice();
    const busy = await newDevice();
    const [a, b] = [service(), service()];
    await a.record(event(quiet, 'CONNECT_EVENT', 10_000));
    await a.record(event(busy, 'CONNECT_EVENT', 10_000));
    await b.record(event(busy, 'ACTIVITY_EVENT', 10_600));
    sent = [];
    // Devices of the tests before expired long ago: their reports are not this test's concern.
    const ours = () => sent.filter((m) => m.originator.id === quiet.id.id || m.originator.id === busy.id.id);
    await Promise.all([a.sweep(11_200), b.sweep(11_200)]);
    sent = ours();
    expect(sent.map((m) => [m.type, m.originator.id])).to.deep.equal([['INACTIVITY_EVENT', quiet.id.id]]);
    expect(sent[0]?.metaData).to.deep.include({ deviceName: quiet.name, deviceType: 'meter' });
    expect(JSON.parse((sent[0] as TbMsg).data)).to.deep.include({ active: false, lastInactivityAlarmTime: 11_200 });
    await Promise.all([a.sweep(11_700), b.sweep(11_700)]);
    sent = ours();
    expect(await state(quiet)).to.deep.include({ active: false });
    expect(sent.map((m) => m.originator.id)).to.deep.equal([quiet.id.id, busy.id.id]);
  });

  it('other messages pass through unchanged; a queue failure is the caller’s error', async () => {
    const device = await newDevice();
    const telemetry = newMsg({ type: 'POST_TELEMETRY_REQUEST', originator: device.id, tenantId, data: '{"t":1}' });
    await service().record(telemetry);
    expect(sent).to.deep.equal([telemetry]);
    const failing = new DeviceStateService({ redis, store, toRuleEngine: () => Promise.reject(new Error('queue down')), inactivityTimeoutMs: TIMEOUT, logger: { warn: () => undefined } });
    let error: unknown;
    await failing.record(event(device, 'DISCONNECT_EVENT', 5)).catch((e: unknown) => (error = e));
    expect((error as Error).message).to.equal('queue down');
  });
});
