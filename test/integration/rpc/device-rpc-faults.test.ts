// Device RPC when Redis or a transport process fails (issue #7, docs/reliability.md (a), (a′), (b)):
// what a device reported must not be acknowledged and then lost, and commands must follow the
// device's live session. Real redis-server (killed and restarted), real service bus and registry.
import { expect } from 'chai';
import { ApiError } from '../../../src/api/errors.js';
import { DEFAULT_RPC_SETTINGS } from '../../../src/rpc/rpc-settings.js';
import { parseRpcBody, RestRpcCalls, rpcCallMsg } from '../../../src/rpc/rest-rpc.js';
import { rpcEntity } from '../../../src/rpc/rpc-types.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { newDeviceId, rpcTo, sleep, TestProcess, waitFor } from './rpc-harness.js';

describe('device RPC service: faults', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  const procs: TestProcess[] = [];

  beforeEach(async () => (redis = await startTestRedis()));
  afterEach(async () => {
    for (const p of procs.splice(0)) await p.stop().catch(() => undefined);
    await redis.stop();
  });

  async function proc(opts: Parameters<typeof TestProcess.start>[1] = {}): Promise<TestProcess> {
    const p = await TestProcess.start(redis.url, { failFast: true, ...opts });
    procs.push(p);
    return p;
  }

  async function crash(p: TestProcess): Promise<void> {
    procs.splice(procs.indexOf(p), 1);
    await p.stop({ crash: true });
  }

  const statusOf = async (p: TestProcess, rpcId: string) => (await p.rpc.repo.get(rpcId))?.rpc.status;

  /** A persistent two-way RPC on `p`'s device, delivered to `s` and waiting for its reply. */
  async function delivered(p: TestProcess, deviceId: string) {
    const s = await p.connect(deviceId);
    await s.subscribe();
    const req = rpcTo(deviceId, 20_000, { persisted: true });
    await p.rpc.sendToDevice(req);
    const cmd = await s.waitSent(1);
    s.ack(cmd.requestId);
    await waitFor(async () => (await statusOf(p, req.id)) === 'DELIVERED', 'DELIVERED');
    return { s, req, cmd };
  }

  describe('a device reply while Redis is away', () => {
    it('is handed on once Redis is back: the promise the transport acknowledges on resolves then, and the RPC is SUCCESSFUL', async () => {
      const p = await proc();
      const dev = newDeviceId();
      const { s, req, cmd } = await delivered(p, dev);
      await redis.kill();
      let settled = false;
      const handed = s.respond(cmd.requestId, '{"v":1}').finally(() => (settled = true));
      await sleep(500);
      expect(settled, 'not acknowledged while Redis is away').to.equal(false);
      await redis.restart();
      await handed;
      expect(await statusOf(p, req.id)).to.equal('SUCCESSFUL');
      expect((await p.rpc.repo.get(req.id))?.rpc.response).to.deep.equal({ v: 1 });
    });

    it('is refused when Redis stays away longer than the wait, and the RPC still takes the reply the device sends again', async () => {
      const p = await proc({ redisWaitMs: 300 });
      const dev = newDeviceId();
      const { s, req, cmd } = await delivered(p, dev);
      await redis.kill();
      let refused: unknown;
      await s.respond(cmd.requestId, '{"v":2}').catch((e: unknown) => (refused = e));
      expect(refused, 'the reply is refused').to.be.instanceOf(Error);
      await redis.restart();
      // The device did not get a PUBACK: it sends the reply again.
      await waitFor(
        () =>
          s.respond(cmd.requestId, '{"v":2}').then(
            () => true,
            () => false,
          ),
        'the reply to be taken after Redis came back',
        10_000,
      );
      expect(await statusOf(p, req.id)).to.equal('SUCCESSFUL');
      expect((await p.rpc.repo.get(req.id))?.rpc.response).to.deep.equal({ v: 2 });
    });

    it('an RPC that expires while Redis is away is stored EXPIRED once it is back', async () => {
      const p = await proc();
      const dev = newDeviceId();
      const s = await p.connect(dev);
      await s.subscribe();
      const req = rpcTo(dev, 1500, { persisted: true });
      await p.rpc.sendToDevice(req);
      const cmd = await s.waitSent(1);
      s.ack(cmd.requestId);
      await waitFor(async () => (await statusOf(p, req.id)) === 'DELIVERED', 'DELIVERED');
      await redis.kill();
      await sleep(2000);
      await redis.restart();
      await waitFor(async () => (await statusOf(p, req.id).catch(() => undefined)) === 'EXPIRED', 'EXPIRED', 10_000);
    });
  });

  describe('a command while Redis is away', () => {
    it('is stored once Redis is back, and its caller gets {"rpcId"}, not INTERNAL (the RPC node had already acknowledged its message)', async () => {
      const p = await proc();
      const dev = newDeviceId();
      const s = await p.connect(dev);
      await s.subscribe();
      await p.rpc.settle();
      await redis.kill();
      const req = rpcTo(dev, 20_000, { persisted: true });
      const outcome = p.rpc.sendToDevice(req);
      await sleep(500);
      await redis.restart();
      expect(await outcome).to.deep.equal({ rpcId: req.id, response: JSON.stringify({ rpcId: req.id }), error: null });
      const cmd = await s.waitSent(1, 10_000);
      expect(cmd.method).to.equal(req.method);
      expect(await statusOf(p, req.id)).to.be.oneOf(['QUEUED', 'SENT']);
    });
  });

  describe('creation', () => {
    it('a persistent RPC stored but held by no actor (its creation ran twice across a Redis crash) is taken up when its requestUUID comes: sent, not left to expire', async () => {
      const p = await proc();
      const dev = newDeviceId();
      const s = await p.connect(dev);
      await s.subscribe();
      // Something pending keeps the device's actor in memory.
      await p.rpc.sendToDevice(rpcTo(dev, 20_000, { persisted: true }));
      await s.waitSent(1);
      // The RPC as its first, lost-reply creation left it: stored QUEUED, in no actor's memory.
      const orphan = rpcTo(dev, 20_000, { persisted: true });
      const requestId = await p.rpc.repo.nextRequestId(dev);
      expect(await p.rpc.repo.create({ rpc: rpcEntity(orphan, 'QUEUED', Date.now()), requestId, attempts: 0 })).to.equal(true);
      // ioredis' second run of the creation finds it there: the same requestUUID again.
      expect((await p.rpc.sendToDevice(orphan)).response).to.equal(JSON.stringify({ rpcId: orphan.id }));
      const cmd = await s.waitSent(2);
      expect(cmd).to.deep.include({ requestId, method: orphan.method });
      s.ack(cmd.requestId);
      await s.respond(cmd.requestId, '{"ok":1}');
      await waitFor(async () => (await statusOf(p, orphan.id)) === 'SUCCESSFUL', 'SUCCESSFUL');
    });
  });

  describe('sessions', () => {
    it('the transport process holding the session dies with the command in flight: after the device moves, a delivery timeout on the new session re-sends it there', async () => {
      const engine = await proc({ serviceId: 'engine-f1' });
      const t1 = await proc({ serviceId: 'transport-f1' });
      const t2 = await proc({ serviceId: 'transport-f2' });
      const dev = newDeviceId();
      const first = await t1.connect(dev, 'mqtt', { exclusive: true });
      await first.subscribe();
      await t1.rpc.settle();
      const req = rpcTo(dev, 20_000, { persisted: true });
      await engine.rpc.sendToDevice(req);
      const cmd = await first.waitSent(1);
      first.sentStatus(cmd.requestId);
      await waitFor(async () => (await statusOf(engine, req.id)) === 'SENT', 'SENT');
      // t1 dies: nobody reports its session closed, and its heartbeat has not expired yet.
      await crash(t1);
      const second = await t2.connect(dev, 'mqtt', { exclusive: true });
      await second.subscribe();
      const copy = await second.waitSent(1);
      expect(copy.requestId).to.equal(cmd.requestId);
      // The device leaves this copy unacknowledged too.
      second.noAck(copy.requestId);
      const again = await second.waitSent(2);
      expect(again.requestId).to.equal(cmd.requestId);
      second.ack(again.requestId);
      await second.respond(again.requestId, '{"moved":true}');
      await waitFor(async () => (await statusOf(engine, req.id)) === 'SUCCESSFUL', 'SUCCESSFUL');
    });

    it('a send that fails on Redis keeps the session subscribed: the command goes again and later commands still reach it', async () => {
      const engine = await proc({ serviceId: 'engine-f2' });
      const transport = await proc({ serviceId: 'transport-f3' });
      const dev = newDeviceId();
      // The engine owns the device (a command pending for it) before the session subscribes elsewhere.
      const waiting = rpcTo(dev, 20_000, { persisted: true });
      await engine.rpc.sendToDevice(waiting);
      expect(engine.rpc.owns(dev)).to.equal(true);
      // Writing to the transport's inbox fails with a real Redis error (WRONGTYPE) for a while.
      const inbox = `rc-svc:{${transport.serviceId}}:inbox`;
      await engine.redis.del(inbox);
      await engine.redis.set(inbox, 'not a stream');
      const s = await transport.connect(dev);
      await s.subscribe();
      await transport.rpc.settle();
      // The subscription crosses the bus to the engine, which then fails to send the command.
      await waitFor(async () => (await engine.redis.xlen(`rc-svc:{${engine.serviceId}}:inbox`)) > 0, 'the subscription forwarded to the engine');
      await sleep(300);
      await engine.rpc.settle();
      expect(s.sent, 'nothing could be sent yet').to.have.length(0);
      await engine.redis.del(inbox);
      const cmd = await s.waitSent(1);
      expect(cmd.method).to.equal(waiting.method);
      s.ack(cmd.requestId);
      await s.respond(cmd.requestId, '{}');
      await waitFor(async () => (await statusOf(engine, waiting.id)) === 'SUCCESSFUL', 'SUCCESSFUL');
      const later = rpcTo(dev, 5000);
      const outcome = engine.rpc.sendToDevice(later);
      const next = await s.waitSent(2);
      expect(next.method).to.equal(later.method);
      s.ack(next.requestId);
      await s.respond(next.requestId, '"pong"');
      expect((await outcome).response).to.equal('"pong"');
    });
  });

  describe('a persistent REST call whose answer does not come', () => {
    function persistentCall(api: TestProcess, dev: string) {
      const body = parseRpcBody('{"method":"setGpio","params":{"pin":1},"persistent":true,"timeout":60000}', DEFAULT_RPC_SETTINGS);
      const msg = rpcCallMsg(
        { tenantId: 'tenant-1', deviceId: dev, deviceName: 'D', deviceType: 'default', route: { ruleChainId: null, queueName: null } },
        body,
        { oneway: false, originServiceId: api.serviceId, customerId: null },
      );
      return { body, msg };
    }

    it('the RPC was stored but the answer to the API process was lost: the caller gets {"rpcId"} once it is found', async () => {
      const api = await proc({ serviceId: 'api-f1' });
      const engine = await proc({ serviceId: 'engine-f3' });
      const dev = newDeviceId();
      const { body, msg } = persistentCall(api, dev);
      // "The rule engine" stores the RPC (as the RPC request node does); its answer never reaches the API process.
      const calls = new RestRpcCalls(api.bus, async () => void engine.rpc.sendToDevice(rpcTo(dev, 60_000, { id: body.requestUUID, persisted: true })), {
        isStored: (deviceId, rpcId) => api.rpc.repo.exists(deviceId, rpcId),
        storedCheckMs: 100,
      });
      try {
        expect(await calls.call(msg, body)).to.deep.equal({ rpcId: body.requestUUID, response: JSON.stringify({ rpcId: body.requestUUID }), error: null });
        expect(await statusOf(api, body.requestUUID)).to.equal('QUEUED');
      } finally {
        calls.close();
      }
    });

    it('the message was lost before any RPC node stored it: a clear error once the store wait is over, not a wait until expiration', async () => {
      const api = await proc({ serviceId: 'api-f2' });
      const dev = newDeviceId();
      const { body, msg } = persistentCall(api, dev);
      const calls = new RestRpcCalls(api.bus, () => Promise.resolve(), {
        isStored: (deviceId, rpcId) => api.rpc.repo.exists(deviceId, rpcId),
        storedCheckMs: 100,
        storeWaitMs: 500,
      });
      try {
        const failure = await calls.call(msg, body).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(failure).to.be.instanceOf(ApiError);
        expect((failure as ApiError).status).to.equal(500);
        expect((failure as ApiError).message).to.include(body.requestUUID).and.include('same requestUUID');
        expect(calls.waiting).to.equal(0);
      } finally {
        calls.close();
      }
    });
  });
});
