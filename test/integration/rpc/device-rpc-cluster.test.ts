// Several processes on one Redis: commands and replies routed through the service bus to the
// device's owner and to the process holding its session (beyond #5); recovery of every open
// persistent RPC after a restart or a crash (beyond #1); request ids monotonic across restarts (#7).
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { newDeviceId, rpcTo, sleep, TestProcess, waitFor } from './rpc-harness.js';

describe('device RPC service: processes', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  const procs: TestProcess[] = [];

  before(async () => (redis = await startTestRedis()));
  after(() => redis.stop());
  afterEach(async () => {
    for (const p of procs.splice(0)) await p.stop().catch(() => undefined);
  });

  async function proc(serviceId?: string, settings = {}): Promise<TestProcess> {
    const p = await TestProcess.start(redis.url, { serviceId, settings });
    procs.push(p);
    return p;
  }

  async function crash(p: TestProcess): Promise<void> {
    procs.splice(procs.indexOf(p), 1);
    await p.stop({ crash: true });
  }

  const statusOf = async (p: TestProcess, rpcId: string) => (await p.rpc.repo.get(rpcId))?.rpc.status;

  describe('routing', () => {
    it('rule engine on one process, the device session on another: command, delivery and reply cross the bus', async () => {
      const engine = await proc('engine-1');
      const transport = await proc('transport-1');
      const dev = newDeviceId();
      const s = await transport.connect(dev);
      await s.subscribe();
      await transport.rpc.settle();
      const req = rpcTo(dev, 5000, { persisted: true });
      expect((await engine.rpc.sendToDevice(req)).response).to.equal(JSON.stringify({ rpcId: req.id }));
      const cmd = await s.waitSent(1);
      expect(engine.rpc.owns(dev)).to.equal(true, 'the process that got the command took the device');
      s.sentStatus(cmd.requestId);
      s.ack(cmd.requestId);
      s.respond(cmd.requestId, '{"v":1}');
      await waitFor(async () => (await statusOf(engine, req.id)) === 'SUCCESSFUL', 'SUCCESSFUL');
      await engine.rpc.settle();
      expect(engine.eventTypes(req.id)).to.deep.equal(['RPC_QUEUED', 'RPC_SENT', 'RPC_DELIVERED', 'RPC_SUCCESSFUL']);
      expect(transport.events).to.have.length(0, 'events come from the owner only');
      expect(engine.rpc.owns(dev)).to.equal(false);
    });

    it('an owner keeps an idle device for ownerIdleMs, other processes forward to it meanwhile, then it lets go', async () => {
      const a = await proc('idle-a', { ownerIdleMs: 400 });
      const b = await proc('idle-b');
      const dev = newDeviceId();
      const s = (await b.connect(dev)).autoDeliver();
      await s.subscribe();
      await b.rpc.settle();
      const first = a.rpc.sendToDevice(rpcTo(dev, 5000));
      s.respond((await s.waitSent(1)).requestId, '1');
      expect((await first).response).to.equal('1');
      await a.rpc.settle();
      expect(a.rpc.owns(dev)).to.equal(true, 'kept while idle');
      expect(await a.rpc.repo.ownerOf(dev)).to.equal('idle-a');
      // b's command goes to the idle owner, which still knows b's session.
      const second = b.rpc.sendToDevice(rpcTo(dev, 5000));
      s.respond((await s.waitSent(2)).requestId, '2');
      expect((await second).response).to.equal('2');
      expect(b.rpc.owns(dev)).to.equal(false);
      await waitFor(() => !a.rpc.owns(dev), 'let go after the idle time', 5000);
      expect(await a.rpc.repo.ownerOf(dev)).to.equal(null);
      // A device taken only for its subscription (nothing pending) goes at once: the process that
      // sends its commands should become the owner.
      const other = newDeviceId();
      await (await a.connect(other)).subscribe();
      await a.rpc.settle();
      expect(a.rpc.owns(other)).to.equal(false);
      expect(await a.rpc.repo.ownerOf(other)).to.equal(null);
    });

    it('a kept owner that missed a subscription (told while Redis was away) finds it in the registry before the next command', async () => {
      const a = await proc('keep-a', { ownerIdleMs: 60_000 });
      const b = await proc('keep-b');
      const dev = newDeviceId();
      const old = (await b.connect(dev)).autoDeliver();
      await old.subscribe();
      await b.rpc.settle();
      const first = a.rpc.sendToDevice(rpcTo(dev, 5000));
      old.respond((await old.waitSent(1)).requestId, '1');
      expect((await first).response).to.equal('1');
      await a.rpc.settle();
      expect(a.rpc.owns(dev)).to.equal(true, 'kept while idle');
      // The device reconnects; the registry has the new session, but the owner is never told
      // (the subscription and the old session's end were lost in an outage).
      const fresh = (await b.connect(dev)).autoDeliver();
      fresh.rpcSubscribed = true;
      await b.sessions.update(fresh);
      await b.sessions.unregister(old);
      await sleep(5_100); // older than the owner's view of the sessions may get
      const second = a.rpc.sendToDevice(rpcTo(dev, 4000));
      fresh.respond((await fresh.waitSent(1)).requestId, '2');
      expect((await second).response).to.equal('2');
    });

    it('a lightweight two-way reply reaches the caller on another process than the owner', async () => {
      const a = await proc('proc-a');
      const b = await proc('proc-b');
      const dev = newDeviceId();
      // b takes the device first (a persistent command while the device is offline) ...
      const first = rpcTo(dev, 10_000, { persisted: true });
      await b.rpc.sendToDevice(first);
      expect(b.rpc.owns(dev)).to.equal(true);
      // ... so a's command is forwarded to b, and the outcome comes back to a.
      const req = rpcTo(dev, 5000);
      const outcome = a.rpc.sendToDevice(req);
      const s = await a.connect(dev);
      await s.subscribe();
      await s.waitSent(2);
      expect(a.rpc.owns(dev)).to.equal(false);
      const cmd = s.sent.find((c) => c.method === req.method);
      s.respond(cmd?.requestId ?? -1, '"pong"');
      expect(await outcome).to.deep.equal({ rpcId: req.id, response: '"pong"', error: null });
    });

    it('the owner of a device whose session is on another process learns of a subscription there', async () => {
      const engine = await proc('engine-2');
      const transport = await proc('transport-2');
      const dev = newDeviceId();
      const req = rpcTo(dev, 5000);
      const outcome = engine.rpc.sendToDevice(req);
      await sleep(50);
      const s = await transport.connect(dev);
      await s.subscribe();
      const cmd = await s.waitSent(1);
      s.respond(cmd.requestId, '7');
      expect((await outcome).response).to.equal('7');
    });

    it('a device subscribing just as its first command comes: the command stays with the process that sent it, not with the transport process (which may die with it)', async () => {
      const engine = await proc('engine-race');
      const transport = await proc('transport-race');
      const devs = Array.from({ length: 20 }, () => newDeviceId());
      const sessions = await Promise.all(devs.map((d) => transport.connect(d)));
      // As a transport does: the registry has the subscription before the RPC service is told.
      for (const s of sessions) {
        s.rpcSubscribed = true;
        await transport.sessions.update(s);
      }
      for (const [i, s] of sessions.entries()) {
        transport.rpc.onRpcSubscribe(s);
        void engine.rpc.sendToDevice(rpcTo(devs[i], 5000));
      }
      for (const s of sessions) await s.waitSent(1);
      await Promise.all([engine.rpc.settle(), transport.rpc.settle()]);
      expect(devs.filter((d) => transport.rpc.owns(d)), 'devices whose command went to the transport process').to.deep.equal([]);
      expect(devs.filter((d) => engine.rpc.owns(d))).to.have.length(devs.length);
    });

    it('a command for a session its process no longer has: the owner is told and drops it', async () => {
      const engine = await proc('engine-3');
      const transport = await proc('transport-3');
      const dev = newDeviceId();
      // A registry entry whose session the transport no longer holds (it lost the socket unnoticed).
      const ghost = { sessionId: 'ghost-session', serviceId: transport.serviceId, protocol: 'mqtt', rpcSubscribed: true, since: Date.now() };
      await transport.redis.hset(`rc:{sess:${dev}}:sessions`, ghost.sessionId, JSON.stringify(ghost));
      const outcome = engine.rpc.sendToDevice(rpcTo(dev, 400));
      await sleep(100);
      // Told by the transport, the owner forgot the session: a real one subscribing now gets the command.
      const s = await transport.connect(dev);
      await s.subscribe();
      const cmd = await s.waitSent(1);
      s.respond(cmd.requestId, '"ok"');
      expect((await outcome).response).to.equal('"ok"');
    });

    it('a client-side reply goes to the transport process and session named in the metadata; a gone one is dropped', async () => {
      const engine = await proc('engine-4');
      const transport = await proc('transport-4');
      const s = await transport.connect(newDeviceId());
      await engine.rpc.sendToServerRpcReply(transport.serviceId, s.sessionId, 7, '{"time":1}');
      await waitFor(() => s.replies.length === 1, 'reply');
      expect(s.replies[0]).to.deep.equal({ requestId: 7, payload: '{"time":1}' });
      await engine.rpc.sendToServerRpcReply('no-such-service', s.sessionId, 8, '{}');
      await engine.rpc.sendToServerRpcReply(transport.serviceId, 'no-such-session', 9, '{}');
      await sleep(100);
      expect(s.replies).to.have.length(1);
    });
  });

  describe('restarts', () => {
    it('request ids go on counting after a restart (beyond #7)', async () => {
      const dev = newDeviceId();
      let p = await proc('restart-1');
      let s = await p.connect(dev);
      await s.subscribe();
      for (let i = 0; i < 2; i++) {
        const o = p.rpc.sendToDevice(rpcTo(dev, 5000));
        s.respond((await s.waitSent(i + 1)).requestId, '{}');
        await o;
      }
      await p.stop();
      procs.splice(procs.indexOf(p), 1);
      p = await proc('restart-1');
      s = await p.connect(dev);
      await s.subscribe();
      void p.rpc.sendToDevice(rpcTo(dev, 5000));
      expect((await s.waitSent(1)).requestId).to.equal(2);
    });

    it('request ids an owner reserved but did not use: given back when it lets go, skipped when it crashed (beyond #7)', async () => {
      const dev = newDeviceId();
      const idsFrom = async (p: TestProcess, n: number): Promise<number[]> => {
        const s = await p.connect(dev);
        await s.subscribe();
        const ids: number[] = [];
        for (let i = 0; i < n; i++) {
          const o = p.rpc.sendToDevice(rpcTo(dev, 5000));
          const cmd = await s.waitSent(i + 1);
          ids.push(cmd.requestId);
          s.respond(cmd.requestId, '{}');
          await o;
        }
        return ids;
      };
      const crashed = await proc('ids-1', { ownerIdleMs: 60_000 });
      expect(await idsFrom(crashed, 2)).to.deep.equal([0, 1]);
      await crash(crashed);
      const next = await proc('ids-2', { ownerIdleMs: 60_000 });
      const after = await idsFrom(next, 2);
      expect(after[0]).to.be.greaterThan(1, 'past every id the crashed owner may have used');
      expect(after[1]).to.equal(after[0] + 1);
      await next.stop();
      procs.splice(procs.indexOf(next), 1);
      expect(await idsFrom(await proc('ids-3'), 1)).to.deep.equal([after[1] + 1], 'a graceful owner gave its unused ids back');
    });

    it('after a crash and restart every open persistent RPC is resumed (beyond #1)', async () => {
      const dev = newDeviceId();
      let p = await proc('restart-2', { maxRetries: 5 });
      const s1 = await p.connect(dev);
      await s1.subscribe();
      const queued = rpcTo(dev, 60_000, { persisted: true });
      const sent = rpcTo(dev, 60_000, { persisted: true });
      const timedOut = rpcTo(dev, 60_000, { persisted: true });
      const delivered = rpcTo(dev, 60_000, { persisted: true });
      const expiring = rpcTo(dev, 600, { persisted: true });
      for (const r of [sent, timedOut, delivered, expiring]) await p.rpc.sendToDevice(r);
      await s1.waitSent(4);
      const idOf = (m: string) => s1.sent.find((c) => c.method === m)?.requestId ?? -1;
      s1.sentStatus(idOf(sent.method));
      s1.sentStatus(idOf(timedOut.method));
      s1.noAck(idOf(timedOut.method));
      s1.sentStatus(idOf(delivered.method));
      s1.ack(idOf(delivered.method));
      s1.close('going offline');
      await p.rpc.sendToDevice(queued);
      await p.rpc.settle();
      expect(await statusOf(p, queued.id)).to.equal('QUEUED');
      expect(await statusOf(p, sent.id)).to.equal('SENT');
      expect(await statusOf(p, timedOut.id)).to.equal('TIMEOUT');
      expect(await statusOf(p, delivered.id)).to.equal('DELIVERED');
      await crash(p);
      await sleep(700);

      p = await proc('restart-2');
      await p.rpc.settle();
      expect(p.rpc.owns(dev)).to.equal(true, 'the restarted process took its device back');
      expect(await statusOf(p, expiring.id)).to.equal('EXPIRED');
      const s2 = await p.connect(dev);
      await s2.subscribe();
      await s2.waitSent(3);
      await p.rpc.settle();
      expect(s2.sent.map((c) => c.method).sort()).to.deep.equal([queued.method, sent.method, timedOut.method].sort(), 'not yet delivered: sent again');
      expect(s2.sent.find((c) => c.method === sent.method)?.requestId).to.equal(idOf(sent.method), 'with its old id');
      s2.respond(idOf(delivered.method), '{"late":"but matched"}');
      await waitFor(async () => (await statusOf(p, delivered.id)) === 'SUCCESSFUL', 'delivered one answered');
      expect((await p.rpc.repo.get(delivered.id))?.rpc.response).to.deep.equal({ late: 'but matched' });
      expect((await p.rpc.repo.get(timedOut.id))?.attempts).to.equal(1, 'attempts survive the restart');
    });

    it('a crashed owner\'s devices are taken over by another process, which re-sends to the live session', async () => {
      const dev = newDeviceId();
      const owner = await proc('owner-x', { recoveryIntervalMs: 100 });
      const other = await proc('other-x', { recoveryIntervalMs: 100 });
      const req = rpcTo(dev, 60_000, { persisted: true });
      await owner.rpc.sendToDevice(req);
      expect(owner.rpc.owns(dev)).to.equal(true);
      const s = await other.connect(dev);
      s.rpcSubscribed = true;
      await other.sessions.update(s); // in the registry, but the owner never heard of it
      await crash(owner);
      const cmd = await s.waitSent(1);
      expect(cmd.method).to.equal(req.method);
      expect(other.rpc.owns(dev)).to.equal(true);
      expect(await other.rpc.repo.ownerOf(dev)).to.equal('other-x');
      s.ack(cmd.requestId);
      s.respond(cmd.requestId, '{}');
      await waitFor(async () => (await statusOf(other, req.id)) === 'SUCCESSFUL', 'SUCCESSFUL');
    });

    it('a command for a device whose owner crashed is handled by the process that got it', async () => {
      const dev = newDeviceId();
      const owner = await proc('owner-y');
      const other = await proc('other-y');
      await owner.rpc.sendToDevice(rpcTo(dev, 60_000, { persisted: true }));
      await crash(owner);
      const s = await other.connect(dev);
      await s.subscribe();
      await s.waitSent(1);
      const req = rpcTo(dev, 5000);
      const outcome = other.rpc.sendToDevice(req);
      await s.waitSent(2);
      s.respond(s.last.requestId, '1');
      expect((await outcome).response).to.equal('1');
    });

    it('a graceful stop lets go of the leases: the next process takes over at once', async () => {
      const dev = newDeviceId();
      const first = await proc('first-z');
      const req = rpcTo(dev, 60_000, { persisted: true });
      await first.rpc.sendToDevice(req);
      procs.splice(procs.indexOf(first), 1);
      const ownerKey = first.rpc.repo.keys.owner(dev);
      await first.stop();
      const raw = new Redis(redis.url);
      expect(await raw.get(ownerKey)).to.equal(null);
      raw.disconnect();
      const second = await proc('second-z');
      await second.rpc.settle();
      expect(second.rpc.owns(dev)).to.equal(true);
    });
  });
});
