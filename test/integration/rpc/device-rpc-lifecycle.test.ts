// Server-side RPC through the device RPC service, one process, default BURST strategy: the
// lightweight outcomes of spec/rpc.md §2.5 and every persistent status transition of §6.2.
import { expect } from 'chai';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import type { Rpc } from '../../../src/rpc/rpc-types.js';
import { newDeviceId, rpcTo, sleep, TestProcess, waitFor } from './rpc-harness.js';

describe('device RPC service: lifecycle', function () {
  this.timeout(20_000);
  let redis: TestRedis;
  let p: TestProcess;

  before(async () => {
    redis = await startTestRedis();
    p = await TestProcess.start(redis.url);
  });
  after(async () => {
    await p.stop();
    await redis.stop();
  });

  const stored = async (rpcId: string): Promise<Rpc> => {
    const s = await p.rpc.repo.get(rpcId);
    if (!s) throw new Error(`rpc ${rpcId} not stored`);
    return s.rpc;
  };

  describe('lightweight', () => {
    it('two-way, device online: command with id 0, the reply is the outcome (S1)', async () => {
      const dev = newDeviceId();
      const s = await p.connect(dev);
      await s.subscribe();
      const req = rpcTo(dev, 5000, { method: 'setGpio', params: '{"pin":23,"value":1}' });
      const outcome = p.rpc.sendToDevice(req);
      const cmd = await s.waitSent(1);
      expect(cmd).to.deep.include({ requestId: 0, method: 'setGpio', params: '{"pin":23,"value":1}', oneway: false, persistent: false });
      s.ack(cmd.requestId);
      s.respond(cmd.requestId, '{"ok":true}');
      expect(await outcome).to.deep.equal({ rpcId: req.id, response: '{"ok":true}', error: null });
      await p.rpc.settle();
      expect(p.rpc.owns(dev)).to.equal(false, 'the lease is let go when nothing is pending');
      expect(await p.rpc.repo.ownerOf(dev)).to.equal(null);
      expect(p.events).to.have.length(0, 'lightweight RPCs emit no events');
    });

    it('two-way, device offline until expiry: NO_ACTIVE_CONNECTION (S2)', async () => {
      const dev = newDeviceId();
      const t0 = Date.now();
      const outcome = await p.rpc.sendToDevice(rpcTo(dev, 300));
      expect(outcome.error).to.equal('NO_ACTIVE_CONNECTION');
      expect(Date.now() - t0).to.be.within(250, 1000, 'answered by the actor at expiry, not the +1 s fallback');
    });

    it('two-way, device subscribes before expiry: it gets the command then', async () => {
      const dev = newDeviceId();
      const req = rpcTo(dev, 3000);
      const outcome = p.rpc.sendToDevice(req);
      await sleep(100);
      const s = await p.connect(dev);
      await s.subscribe();
      const cmd = await s.waitSent(1);
      s.respond(cmd.requestId, '42');
      expect(await outcome).to.deep.equal({ rpcId: req.id, response: '42', error: null });
    });

    it('two-way, received but never answered: TIMEOUT at expiry (S3); a late reply is stale', async () => {
      const dev = newDeviceId();
      const s = await p.connect(dev);
      await s.subscribe();
      const outcome = p.rpc.sendToDevice(rpcTo(dev, 300));
      const cmd = await s.waitSent(1);
      s.ack(cmd.requestId);
      expect((await outcome).error).to.equal('TIMEOUT');
      s.respond(cmd.requestId, '{"late":true}');
      await p.rpc.settle();
      expect(p.rpc.owns(dev)).to.equal(false);
    });

    it('one-way, device online: empty success as soon as it is written (S4)', async () => {
      const dev = newDeviceId();
      const s = await p.connect(dev);
      await s.subscribe();
      const req = rpcTo(dev, 5000, { oneway: true });
      expect(await p.rpc.sendToDevice(req)).to.deep.equal({ rpcId: req.id, response: null, error: null });
      expect(s.sent).to.have.length(1);
    });

    it('one-way, device offline: sent when it subscribes, answered then', async () => {
      const dev = newDeviceId();
      const req = rpcTo(dev, 3000, { oneway: true });
      const outcome = p.rpc.sendToDevice(req);
      await sleep(50);
      const s = await p.connect(dev);
      await s.subscribe();
      expect(await outcome).to.deep.equal({ rpcId: req.id, response: null, error: null });
      expect(s.sent.map((c) => c.method)).to.deep.equal([req.method]);
    });

    it('already expired on arrival: nobody answers but the +1 s fallback (TIMEOUT)', async () => {
      const dev = newDeviceId();
      const t0 = Date.now();
      const outcome = await p.rpc.sendToDevice(rpcTo(dev, -10));
      expect(outcome.error).to.equal('TIMEOUT');
      expect(Date.now() - t0).to.be.within(900, 2000);
    });

    it('a transport error reply is a successful outcome with the error JSON; plain text is wrapped', async () => {
      const dev = newDeviceId();
      const s = await p.connect(dev);
      await s.subscribe();
      const a = p.rpc.sendToDevice(rpcTo(dev, 5000));
      const c1 = await s.waitSent(1);
      s.error(c1.requestId, '{"result":"INVALID_ARGUMENTS","error":"bad params"}');
      expect((await a).response).to.equal('{"result":"INVALID_ARGUMENTS","error":"bad params"}');
      const b = p.rpc.sendToDevice(rpcTo(dev, 5000));
      const c2 = await s.waitSent(2);
      s.error(c2.requestId, 'write failed');
      expect((await b).response).to.equal('{"error":"write failed"}');
    });

    it('request ids count up per device: 0, 1, 2 ...', async () => {
      const dev = newDeviceId();
      const s = await p.connect(dev);
      await s.subscribe();
      for (let i = 0; i < 3; i++) {
        const o = p.rpc.sendToDevice(rpcTo(dev, 5000));
        const c = await s.waitSent(i + 1);
        s.respond(c.requestId, '{}');
        await o;
      }
      expect(s.sent.map((c) => c.requestId)).to.deep.equal([0, 1, 2]);
    });

    it('an HTTP long poll (SYNC session) takes one command per poll', async () => {
      const dev = newDeviceId();
      const a = rpcTo(dev, 5000, { oneway: true });
      const b = rpcTo(dev, 5000, { oneway: true });
      const oa = p.rpc.sendToDevice(a);
      const ob = p.rpc.sendToDevice(b);
      await sleep(50);
      const poll1 = await p.connect(dev, 'http');
      await poll1.subscribe();
      await oa;
      await p.rpc.settle();
      expect(poll1.sent.map((c) => c.method)).to.deep.equal([a.method]);
      const poll2 = await p.connect(dev, 'http');
      await poll2.subscribe();
      await ob;
      expect(poll2.sent.map((c) => c.method)).to.deep.equal([b.method]);
    });
  });

  describe('persistent', () => {
    it('two-way online: {"rpcId"} at once; QUEUED → SENT → DELIVERED → SUCCESSFUL, one event each (S5)', async () => {
      const dev = newDeviceId();
      const s = await p.connect(dev);
      await s.subscribe();
      const req = rpcTo(dev, 60_000, { persisted: true, additionalInfo: '{"note":"x"}' });
      const outcome = await p.rpc.sendToDevice(req);
      expect(outcome).to.deep.equal({ rpcId: req.id, response: JSON.stringify({ rpcId: req.id }), error: null });
      const cmd = await s.waitSent(1);
      expect(cmd.persistent).to.equal(true);
      await p.rpc.settle();
      expect((await stored(req.id)).status).to.equal('QUEUED');
      s.sentStatus(cmd.requestId);
      await p.rpc.settle();
      expect((await stored(req.id)).status).to.equal('SENT');
      s.ack(cmd.requestId);
      await p.rpc.settle();
      expect((await stored(req.id)).status).to.equal('DELIVERED');
      s.respond(cmd.requestId, '{"r":1}');
      await p.rpc.settle();
      const rpc = await stored(req.id);
      expect(rpc).to.deep.include({ status: 'SUCCESSFUL', response: { r: 1 }, additionalInfo: { note: 'x' }, expirationTime: req.expirationTime });
      expect(rpc.id).to.deep.equal({ entityType: 'RPC', id: req.id });
      expect(rpc.deviceId).to.deep.equal({ entityType: 'DEVICE', id: dev });
      expect(rpc.request).to.deep.equal({
        id: req.id,
        tenantId: { entityType: 'TENANT', id: 'tenant-1' },
        deviceId: { entityType: 'DEVICE', id: dev },
        oneway: false,
        expirationTime: req.expirationTime,
        body: { method: req.method, params: req.params },
        persisted: true,
        retries: null,
      });
      expect(p.eventTypes(req.id)).to.deep.equal(['RPC_QUEUED', 'RPC_SENT', 'RPC_DELIVERED', 'RPC_SUCCESSFUL']);
      const last = p.events.filter((e) => e.type === 'RPC_SUCCESSFUL').at(-1);
      expect(last?.originator).to.deep.equal({ entityType: 'DEVICE', id: dev });
      expect(last?.metaData).to.deep.equal({});
      expect(JSON.parse(last?.data ?? '{}')).to.deep.equal(rpc);
      expect(p.rpc.owns(dev)).to.equal(false);
    });

    it('offline until expiry: QUEUED → EXPIRED', async () => {
      const dev = newDeviceId();
      const req = rpcTo(dev, 300, { persisted: true });
      expect((await p.rpc.sendToDevice(req)).response).to.equal(JSON.stringify({ rpcId: req.id }));
      await waitFor(async () => (await stored(req.id)).status === 'EXPIRED', 'EXPIRED');
      await p.rpc.settle();
      expect(p.eventTypes(req.id)).to.deep.equal(['RPC_QUEUED', 'RPC_EXPIRED']);
    });

    it('expired on arrival: stored EXPIRED at once', async () => {
      const dev = newDeviceId();
      const req = rpcTo(dev, -5, { persisted: true });
      void p.rpc.sendToDevice(req);
      await waitFor(async () => (await p.rpc.repo.get(req.id))?.rpc.status === 'EXPIRED', 'EXPIRED');
      await p.rpc.settle();
      expect(p.eventTypes(req.id)).to.deep.equal(['RPC_EXPIRED']);
    });

    it('one-way over QoS 0: QUEUED → DELIVERED, final (S6)', async () => {
      const dev = newDeviceId();
      const s = (await p.connect(dev)).autoDeliver();
      await s.subscribe();
      const req = rpcTo(dev, 60_000, { persisted: true, oneway: true });
      await p.rpc.sendToDevice(req);
      await waitFor(async () => (await stored(req.id)).status === 'DELIVERED', 'DELIVERED');
      await p.rpc.settle();
      expect(p.eventTypes(req.id)).to.deep.equal(['RPC_QUEUED', 'RPC_DELIVERED']);
      expect(p.rpc.owns(dev)).to.equal(false, 'a delivered one-way RPC is done');
      expect(await p.redis.smembers(p.rpc.repo.keys.open(dev))).to.deep.equal([]);
    });

    it('a reply that arrives before the acknowledgement still makes it SUCCESSFUL', async () => {
      const dev = newDeviceId();
      const s = await p.connect(dev);
      await s.subscribe();
      const req = rpcTo(dev, 60_000, { persisted: true });
      await p.rpc.sendToDevice(req);
      const cmd = await s.waitSent(1);
      s.respond(cmd.requestId, 'ok');
      await waitFor(async () => (await stored(req.id)).status === 'SUCCESSFUL', 'SUCCESSFUL');
      expect((await stored(req.id)).response).to.deep.equal({ error: 'ok' }, 'a reply that is not JSON is stored as {"error": text}');
    });

    it('an error reply makes it FAILED', async () => {
      const dev = newDeviceId();
      const s = await p.connect(dev);
      await s.subscribe();
      const req = rpcTo(dev, 60_000, { persisted: true });
      await p.rpc.sendToDevice(req);
      const cmd = await s.waitSent(1);
      s.error(cmd.requestId, '{"result":"INVALID_ARGUMENTS","error":"no"}');
      await waitFor(async () => (await stored(req.id)).status === 'FAILED', 'FAILED');
      expect((await stored(req.id)).response).to.deep.equal({ result: 'INVALID_ARGUMENTS', error: 'no' });
      await p.rpc.settle();
      expect(p.eventTypes(req.id)).to.deep.equal(['RPC_QUEUED', 'RPC_FAILED']);
    });

    it('a reply over maxResponseBytes fails the RPC with the reason (beyond #8)', async () => {
      const big = await TestProcess.start(redis.url, { settings: { maxResponseBytes: 100 } });
      try {
        const dev = newDeviceId();
        const s = await big.connect(dev);
        await s.subscribe();
        const persistent = rpcTo(dev, 60_000, { persisted: true });
        await big.rpc.sendToDevice(persistent);
        const c1 = await s.waitSent(1);
        s.respond(c1.requestId, JSON.stringify({ data: 'x'.repeat(200) }));
        await waitFor(async () => (await big.rpc.repo.get(persistent.id))?.rpc.status === 'FAILED', 'FAILED');
        const failed = await big.rpc.repo.get(persistent.id);
        expect(failed?.rpc.response).to.deep.equal({ error: 'RPC reply of 211 bytes exceeds the limit of 100 bytes' });
        const light = big.rpc.sendToDevice(rpcTo(dev, 5000));
        const c2 = await s.waitSent(2);
        s.respond(c2.requestId, JSON.stringify({ data: 'y'.repeat(200) }));
        expect(JSON.parse((await light).response ?? '{}')).to.deep.equal({ error: 'RPC reply of 211 bytes exceeds the limit of 100 bytes' });
      } finally {
        await big.stop();
      }
    });

    it('the same requestUUID twice: stored once, both callers get {"rpcId"}', async () => {
      const dev = newDeviceId();
      const req = rpcTo(dev, 60_000, { persisted: true });
      await p.rpc.sendToDevice(req);
      expect((await p.rpc.sendToDevice(req)).response).to.equal(JSON.stringify({ rpcId: req.id }));
      await p.rpc.settle();
      expect(p.eventTypes(req.id)).to.deep.equal(['RPC_QUEUED']);
      await p.rpc.deleteRpc(req.id);
    });
  });
});
