// A device subscribes to RPC requests while Redis is down (docs/reliability.md, "(a′) RPC
// subscription during a Redis outage"): the SUBACK grants it, so once Redis is back the
// subscription must be in the session registry and commands must reach the device, both the ones
// waiting from before and new ones. Real redis-server (crashed and restarted), real MQTT.js
// clients, the real RPC service; the registry's connection is the system's fail-fast one.
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import type { MqttClient } from 'mqtt';
import { createRedis } from '../../../src/redis/connection.js';
import { ServiceBus } from '../../../src/queue/service-bus.js';
import { DeviceRpcService } from '../../../src/rpc/device-rpc-service.js';
import type { ToDeviceRpc } from '../../../src/rpc/rpc-types.js';
import { Store } from '../../../src/store/store.js';
import { DeviceAuth } from '../../../src/transport/device-auth.js';
import { MqttTransport } from '../../../src/transport/mqtt/mqtt-transport.js';
import { SessionRegistry } from '../../../src/transport/session-registry.js';
import { DEFAULT_TRANSPORT_LIMITS } from '../../../src/transport/transport-api.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { connectDevice, sleep } from './mqtt-harness.js';

const RPC_FILTER = 'v1/devices/me/rpc/request/+';

interface Device {
  readonly id: string;
  readonly tenantId: string;
  readonly token: string;
  readonly version: 4 | 5;
  client?: MqttClient;
}

function command(device: Device, init: Partial<ToDeviceRpc> = {}): ToDeviceRpc {
  return {
    id: randomUUID(),
    tenantId: device.tenantId,
    deviceId: device.id,
    oneway: false,
    expirationTime: Date.now() + 10_000,
    method: 'getState',
    params: '{"n":1}',
    persisted: false,
    retries: null,
    additionalInfo: null,
    ...init,
  };
}

/** Polls an async probe until it gives something (waitFor's probes are synchronous). */
async function eventually<T>(probe: () => Promise<T | null>, timeoutMs: number, what: string): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Answers every command with {"answered": <method>} on the response topic. */
function answerCommands(client: MqttClient): void {
  client.on('message', (topic, payload) => {
    if (!topic.startsWith('v1/devices/me/rpc/request/')) return;
    const { method } = JSON.parse(payload.toString()) as { method: string };
    void client.publishAsync(topic.replace('/request/', '/response/'), JSON.stringify({ answered: method }), { qos: 1 }).catch(() => undefined);
  });
}

describe('MQTT transport: SUBSCRIBE to RPC requests during a Redis outage', function () {
  this.timeout(60_000);
  let redisServer: TestRedis;
  let storeRedis: Redis;
  let registryRedis: Redis;
  let store: Store;
  let bus: ServiceBus;
  let sessions: SessionRegistry;
  let rpc: DeviceRpcService;
  let transport: MqttTransport;
  let port: number;
  const logs: string[] = [];
  const devices: Device[] = [];

  before(async () => {
    redisServer = await startTestRedis();
    const logger = { info: (t: string) => logs.push(`INFO ${t}`), warn: (t: string) => logs.push(`WARN ${t}`), debug: () => undefined };
    // The store's reads wait through the restart; the registry and the RPC service fail fast, as in src/app/system.ts.
    storeRedis = new Redis(redisServer.url);
    storeRedis.on('error', () => undefined);
    store = new Store(storeRedis);
    registryRedis = createRedis(redisServer.url, { role: 'client', connectionName: 'outage-test', logger });
    bus = new ServiceBus({ redisUrl: redisServer.url, logger });
    await bus.start();
    sessions = new SessionRegistry({ redis: registryRedis, bus, logger });
    rpc = new DeviceRpcService({ redis: registryRedis, bus, sessions, store, toRuleEngine: () => Promise.resolve(), logger });
    await rpc.start();
    transport = new MqttTransport(
      { serviceId: bus.serviceId, store, toRuleEngine: () => Promise.resolve(), rpc, limits: DEFAULT_TRANSPORT_LIMITS, logger },
      { port: 0, host: '127.0.0.1', sessions, auth: new DeviceAuth(store) },
    );
    port = await transport.start();
    const tenant = await store.tenants.create({ title: 'Outage tenant' });
    for (const version of [4, 5] as const) {
      const d = await store.devices.create(tenant.id.id, { name: `Outage device v${version}`, type: 'thermostat' });
      const token = `OUTAGE_TOKEN_V${version}`;
      await store.credentials.save(tenant.id.id, d.id.id, token);
      devices.push({ id: d.id.id, tenantId: tenant.id.id, token, version });
    }
  });
  after(async () => {
    for (const d of devices) d.client?.end(true);
    await transport?.close();
    await rpc?.close();
    sessions?.dispose();
    await bus?.close();
    registryRedis?.disconnect();
    storeRedis?.disconnect();
    await redisServer?.stop();
  });

  it('the granted subscription reaches the registry and the RPC service once Redis is back: waiting and new commands are answered (3.1.1 and 5)', async () => {
    for (const d of devices) {
      d.client = await connectDevice(port, d.token, d.version);
      answerCommands(d.client);
    }
    // A persistent command queued before the outage, while the device is not subscribed yet.
    const [v4, v5] = devices as [Device, Device];
    const waiting = command(v4, { persisted: true, method: 'queuedBefore', expirationTime: Date.now() + 50_000 });
    await rpc.sendToDevice(waiting);

    await redisServer.kill();
    const granted = await Promise.all(devices.map((d) => (d.client as MqttClient).subscribeAsync(RPC_FILTER, { qos: 1 })));
    expect(granted.map((g) => g.map((s) => s.qos))).to.deep.equal([[1], [1]]);
    // The registry's connection was down after the SUBACKs: a command sent on it after the
    // subscriptions' writes fails, so those writes failed too (the test covers the outage).
    expect(await registryRedis.ping().then(() => 'answered', () => 'failed')).to.equal('failed');

    await redisServer.restart();
    for (const d of devices) {
      const entries = await eventually(
        async () => {
          const all = await sessions.locateAll(d.id).catch(() => []);
          return all.length === 1 && all[0]?.rpcSubscribed === true ? all : null;
        },
        20_000,
        `the registry entry of the v${d.version} device`,
      );
      expect(entries).to.have.length(1);
    }

    // What waited from before goes out now, and new commands reach both devices.
    await eventually(async () => ((await rpc.repo.get(waiting.id).catch(() => null))?.rpc.status === 'SUCCESSFUL' ? true : null), 20_000, 'the waiting persistent command SUCCESSFUL');
    for (const d of [v4, v5]) {
      const outcome = await rpc.sendToDevice(command(d, { method: `after-v${d.version}` }));
      expect(outcome.error, `v${d.version}`).to.equal(null);
      expect(JSON.parse(outcome.response ?? 'null')).to.deep.equal({ answered: `after-v${d.version}` });
    }
  });

  it('subscribed and unsubscribed again during the outage: the registry ends with the last state, and commands do not go to the device', async () => {
    const d = devices[1] as Device;
    d.client?.end(true);
    const client = await connectDevice(port, d.token, d.version);
    d.client = client;
    const sessionId = (await sessions.locateAll(d.id))[0]?.sessionId as string;
    await redisServer.kill();
    expect((await client.subscribeAsync(RPC_FILTER, { qos: 1 })).map((g) => g.qos)).to.deep.equal([1]);
    await client.unsubscribeAsync(RPC_FILTER);
    expect(await registryRedis.ping().then(() => 'answered', () => 'failed')).to.equal('failed');
    const recordedLog = (l: string) => l.includes(sessionId) && l.includes('recorded after');
    await redisServer.restart();
    await eventually(async () => (logs.some(recordedLog) ? true : null), 20_000, 'the registry write after the outage');
    const entries = await sessions.locateAll(d.id);
    expect(entries.map((e) => [e.sessionId, e.rpcSubscribed])).to.deep.equal([[sessionId, false]]);
    // A command now finds no subscribed session: it is never sent and expires (not TIMEOUT, which means sent).
    const outcome = await rpc.sendToDevice(command(d, { method: 'nobodyListens', expirationTime: Date.now() + 1500 }));
    expect(outcome.error).to.equal('NO_ACTIVE_CONNECTION');
  });

  it('SUBSCRIBE and UNSUBSCRIBE back to back (Redis up): the registry ends unsubscribed, not with the write that was on its way', async () => {
    const d = devices[0] as Device;
    d.client?.end(true);
    const client = await connectDevice(port, d.token, d.version);
    d.client = client;
    // Same tick: the UNSUBSCRIBE arrives while the subscription's registry write is on its way.
    const both = Promise.all([client.subscribeAsync(RPC_FILTER, { qos: 1 }), client.unsubscribeAsync(RPC_FILTER)]);
    await both;
    await eventually(async () => ((await sessions.locateAll(d.id)).every((e) => !e.rpcSubscribed) ? true : null), 5000, 'the registry entry unsubscribed');
    const outcome = await rpc.sendToDevice(command(d, { method: 'nobodyListens', expirationTime: Date.now() + 1500 }));
    expect(outcome.error).to.equal('NO_ACTIVE_CONNECTION');
  });
});
