// Device RPC across a Redis outage longer than the service bus heartbeat TTL (issue #7, reliability
// report (a): persistent RPCs EXPIRED with the device online, devices deaf afterwards). While Redis
// is away no process can renew its registration, so every registration has expired when Redis comes
// back, and until each process renews its own, a live process looks dead to the others. Acting on
// that look (taking over its devices' RPC leases, dropping its sessions from the registry) must not
// happen. Real redis-server (killed and restarted), real service bus, registry and RPC service.
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { newDeviceId, rpcTo, sleep, TestProcess, TestSession, waitFor } from './rpc-harness.js';

/** Short, so the outage outlasts it; the heartbeat is renewed every third of it. */
const HEARTBEAT_TTL_MS = 4000;

describe('device RPC service: a Redis outage longer than the heartbeat TTL', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let probe: Redis;
  const procs: TestProcess[] = [];

  beforeEach(async () => {
    redis = await startTestRedis();
    probe = new Redis(redis.url, { maxRetriesPerRequest: null });
    probe.on('error', () => undefined);
  });
  afterEach(async () => {
    for (const p of procs.splice(0)) await p.stop().catch(() => undefined);
    probe.disconnect();
    await redis.stop();
  });

  async function proc(serviceId: string, ownerIdleMs = 0): Promise<TestProcess> {
    const p = await TestProcess.start(redis.url, { serviceId, failFast: true, heartbeatTtlMs: HEARTBEAT_TTL_MS, settings: { ownerIdleMs } });
    procs.push(p);
    return p;
  }

  /** A device on `transport` that acknowledges and answers every command at once. */
  async function answeringDevice(transport: TestProcess, deviceId: string): Promise<TestSession> {
    const s = await transport.connect(deviceId, 'mqtt', { exclusive: true });
    s.onCommand = (r) => {
      s.ack(r.requestId);
      void s.respond(r.requestId, JSON.stringify({ echo: r.method })).catch(() => undefined);
    };
    await s.subscribe();
    await transport.rpc.settle();
    return s;
  }

  /**
   * Redis crashes and stays away longer than the heartbeat TTL, then comes back. Returns once every
   * process talks to Redis again and `late` has renewed its registration, which is then removed
   * again: the moment, real after every such outage, when `late`'s registration has expired and its
   * next heartbeat is not due yet (in production that lasts up to a third of the TTL after Redis is
   * back, plus ioredis' reconnect delay).
   */
  async function outage(late: TestProcess): Promise<void> {
    await redis.kill();
    await sleep(HEARTBEAT_TTL_MS + 500);
    await redis.restart();
    for (const p of procs) await waitFor(() => p.bus.aliveServices().then(() => true, () => false), `${p.serviceId} to reach Redis again`);
    const alive = `rc-svc:{${late.serviceId}}:alive`;
    await waitFor(async () => (await probe.exists(alive)) === 1, `${late.serviceId} to renew its registration`);
    await probe.del(alive);
  }

  it('the process keeping a device (commands come often) stays its only owner: a command after the outage is answered with the reply the device sent', async () => {
    const engine = await proc('engine-r1', 60_000);
    const transport = await proc('transport-r1');
    const dev = newDeviceId();
    const s = await answeringDevice(transport, dev);
    const before = rpcTo(dev, 5000);
    expect((await engine.rpc.sendToDevice(before)).response).to.equal(JSON.stringify({ echo: before.method }));
    expect(engine.rpc.owns(dev), 'the engine keeps the device between commands').to.equal(true);

    await outage(engine);
    // The device subscribes again (as one does after reconnecting): the transport process, which
    // has no actor for it, asks who owns the device while the engine looks dead.
    await s.subscribe();
    await transport.rpc.settle();
    expect(await engine.rpc.repo.ownerOf(dev), 'the lease of a live owner is not taken over').to.equal(engine.serviceId);

    const after = rpcTo(dev, 5000);
    const outcome = await engine.rpc.sendToDevice(after);
    expect(outcome.error).to.equal(null);
    expect(outcome.response).to.equal(JSON.stringify({ echo: after.method }));
    expect(transport.rpc.owns(dev)).to.equal(false);
  });

  it('a kept owner whose lease another process took over (it looked dead to that one) lets go of its state: its next command is answered', async () => {
    const engine = await proc('engine-r3', 60_000);
    const transport = await proc('transport-r3');
    const dev = newDeviceId();
    await answeringDevice(transport, dev);
    const before = rpcTo(dev, 5000);
    expect((await engine.rpc.sendToDevice(before)).response).to.equal(JSON.stringify({ echo: before.method }));
    expect(engine.rpc.owns(dev)).to.equal(true);
    // The engine loses Redis, and its registration is missing for a moment afterwards: the
    // transport process, finding it gone, takes the device over.
    await outage(engine);
    expect(await transport.rpc.repo.takeOwnership(dev, transport.serviceId, engine.serviceId)).to.equal(true);

    const after = rpcTo(dev, 3000);
    const outcome = await engine.rpc.sendToDevice(after);
    expect(outcome.error, 'the reply reached the caller').to.equal(null);
    expect(outcome.response).to.equal(JSON.stringify({ echo: after.method }));
    expect(engine.rpc.owns(dev), 'the engine no longer acts for the device').to.equal(false);
  });

  it('a kept owner reads its lease again only after this process may have looked dead: none between commands otherwise', async () => {
    // One process holding both the session and the device's RPC state, so that no delivery report
    // or reply is forwarded (forwarding looks the owner up, which is not the point here).
    const engine = await proc('engine-r4', 60_000);
    const dev = newDeviceId();
    await answeringDevice(engine, dev);
    expect((await engine.rpc.sendToDevice(rpcTo(dev, 5000))).error).to.equal(null);
    const ownerKey = engine.rpc.repo.keys.owner(dev);
    const monitor = await probe.monitor();
    const reads: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[0]?.toLowerCase() === 'get' && args[1] === ownerKey) reads.push(args[1]);
    });
    try {
      for (let i = 0; i < 3; i++) expect((await engine.rpc.sendToDevice(rpcTo(dev, 5000))).error).to.equal(null);
      await sleep(50);
      expect(reads, 'lease reads between commands').to.deep.equal([]);
    } finally {
      monitor.disconnect();
    }
  });

  it("a live transport process's sessions stay in the registry: a new owner still finds the device and its command is answered", async () => {
    const engine = await proc('engine-r2');
    const transport = await proc('transport-r2');
    const dev = newDeviceId();
    const s = await answeringDevice(transport, dev);

    await outage(transport);
    // The engine becomes the owner for a command and reads where the device listens.
    const req = rpcTo(dev, 5000, { persisted: true });
    await engine.rpc.sendToDevice(req);
    await waitFor(async () => (await engine.rpc.repo.get(req.id))?.rpc.status === 'SUCCESSFUL', 'the persistent RPC to be SUCCESSFUL', 8000);
    expect(s.sent.map((c) => c.method)).to.include(req.method);
    expect((await engine.sessions.locateAll(dev)).map((l) => l.sessionId), 'the session is still registered').to.deep.equal([s.sessionId]);
  });
});
