// Recovery after a crash (spec/rpc.md §5.9, beyond-thingsboard #1 and #7): the system runs in a
// child process, is killed with SIGKILL while persistent RPCs are open, and started again on the
// same Redis, ports and service id. A QUEUED RPC for an offline device survives and goes to
// SUCCESSFUL when the device connects; a SENT one (PUBACK never came) is sent again; a DELIVERED one
// still takes the device's late reply; request ids go on where they were.
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { freePort } from '../../../src/redis/free-port.js';
import { Store } from '../../../src/store/store.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import {
  addDevice,
  eventRecordingRootChain,
  expectEvents,
  gatedDevice,
  FAST_ENV,
  getRpc,
  importRootChain,
  mqttDevice,
  RestClient,
  rpcIdOf,
  seedWorld,
  waitFor,
  waitForStatus,
  type GatedDevice,
  type MqttDevice,
} from './kit.js';
import { startChildSystem, type ChildConfig, type ChildSystem } from './system-child.js';

describe('persistent RPC across a SIGKILL of the system process', function () {
  this.timeout(40_000);
  let redis: TestRedis;
  let redisClient: Redis;
  let child: ChildSystem | undefined;
  const devices: (MqttDevice | GatedDevice)[] = [];

  before(async () => {
    redis = await startTestRedis();
    redisClient = new Redis(redis.url);
  });
  after(async () => {
    for (const d of devices) await d.end().catch(() => undefined);
    await child?.stop();
    redisClient?.disconnect();
    await redis?.stop();
  });

  it('QUEUED (device offline) survives and becomes SUCCESSFUL after the restart; SENT is sent again; DELIVERED takes the late reply', async () => {
    const config: ChildConfig = { redisUrl: redis.url, serviceId: 'rpc-scenario-crash', httpPort: await freePort(), mqttPort: await freePort(), coapPort: await freePort() };
    child = await startChildSystem(config, FAST_ENV);
    const store = new Store(redisClient);
    const world = await seedWorld(store);
    const api = new RestClient(`http://127.0.0.1:${config.httpPort}`);
    const admin = await api.login(world.adminEmail);
    await importRootChain(api, admin, await eventRecordingRootChain());
    const offline = await addDevice(store, world, 'Offline thermostat');
    const busy = await addDevice(store, world, 'Busy valve');
    const slow = await addDevice(store, world, 'Slow relay');
    const persistent = async (deviceId: string, method: string) =>
      rpcIdOf(await api.call('POST', `/api/rpc/twoway/${deviceId}`, { token: admin, body: { method, params: { v: 1 }, persistent: true, timeout: 60_000 } }));

    // Before the crash: one RPC QUEUED for an offline device, one DELIVERED and awaiting its reply.
    const queued = await persistent(offline.id, 'setTemperature');
    const before = await mqttDevice(config.mqttPort, busy.token);
    devices.push(before);
    const delivered = await persistent(busy.id, 'open');
    await waitForStatus(api, admin, delivered, 'DELIVERED');
    const heldId = before.commands[0]?.requestId;
    if (heldId === undefined) throw new Error('the busy device got no command');
    const stuck = await gatedDevice(config.mqttPort, slow.token, 'hold');
    devices.push(stuck);
    const sent = await persistent(slow.id, 'toggle');
    await waitForStatus(api, admin, sent, 'SENT');
    await expectEvents(api, admin, offline.id, queued, ['QUEUED']);
    await expectEvents(api, admin, slow.id, sent, ['QUEUED', 'SENT']);
    await expectEvents(api, admin, busy.id, delivered, ['QUEUED', 'SENT', 'DELIVERED']);

    await child.kill();
    child = undefined;
    await waitFor('the MQTT connection to drop', () => before.client.disconnected || !before.client.connected, 5000);
    child = await startChildSystem(config, FAST_ENV);

    expect((await getRpc(api, admin, queued)).status).to.equal('QUEUED');
    expect((await getRpc(api, admin, delivered)).status).to.equal('DELIVERED');
    expect((await getRpc(api, admin, sent)).status).to.equal('SENT');

    const thermostat = await mqttDevice(config.mqttPort, offline.token, { answer: (c) => JSON.stringify({ ok: c.method }) });
    devices.push(thermostat);
    expect((await waitForStatus(api, admin, queued, 'SUCCESSFUL')).response).to.deep.equal({ ok: 'setTemperature' });
    expect(thermostat.commands.map((c) => c.params)).to.deep.equal([{ v: 1 }]);
    await expectEvents(api, admin, offline.id, queued, ['QUEUED', 'SENT', 'DELIVERED', 'SUCCESSFUL']);

    // The command that was SENT (never acknowledged) goes again to the device's new session.
    const relay = await mqttDevice(config.mqttPort, slow.token, { answer: () => '{"toggled":true}' });
    devices.push(relay);
    expect((await waitForStatus(api, admin, sent, 'SUCCESSFUL')).response).to.deep.equal({ toggled: true });
    expect(relay.commands.map((c) => c.method)).to.deep.equal(['toggle']);
    await expectEvents(api, admin, slow.id, sent, ['QUEUED', 'SENT', 'DELIVERED', 'SUCCESSFUL']);

    // The delivered command is not repeated; the device's reply to the old request id still counts.
    const valve = await mqttDevice(config.mqttPort, busy.token);
    devices.push(valve);
    await valve.reply(heldId, '{"opened":true}');
    expect((await waitForStatus(api, admin, delivered, 'SUCCESSFUL')).response).to.deep.equal({ opened: true });
    expect(valve.commands).to.deep.equal([]);
    await expectEvents(api, admin, busy.id, delivered, ['QUEUED', 'SENT', 'DELIVERED', 'SUCCESSFUL']);

    // Request ids go on from where they were (beyond #7): no second 0 for the same device.
    const next = await api.call('POST', `/api/rpc/twoway/${offline.id}`, { token: admin, body: { method: 'again', params: {}, timeout: 5000 } });
    expect(next.status).to.equal(200);
    const ids = thermostat.commands.map((c) => c.requestId);
    expect(ids).to.have.length(2);
    expect(ids[1]).to.be.greaterThan(ids[0] ?? Infinity);
  });
});
