// Delivery: the three submit strategies (spec/rpc.md §5.5), re-sends after a delivery timeout in
// every strategy with a bounded backoff (beyond #2, #3), close-session-on-delivery-timeout (§5.6,
// S8), and DELETE cancelling pending sends and retries (§2.6, beyond #9).
import { expect } from 'chai';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { RETRIES_EXHAUSTED, RESPONSE_AWAIT_TIMEOUT } from '../../../src/rpc/device-rpc-actor.js';
import type { RpcSettings, RpcSubmitStrategy } from '../../../src/rpc/rpc-settings.js';
import { newDeviceId, rpcTo, sleep, TestProcess, waitFor } from './rpc-harness.js';

describe('device RPC service: delivery', function () {
  this.timeout(20_000);
  let redis: TestRedis;
  const procs: TestProcess[] = [];

  before(async () => (redis = await startTestRedis()));
  after(() => redis.stop());
  afterEach(async () => {
    for (const p of procs.splice(0)) await p.stop();
  });

  async function proc(settings: Partial<RpcSettings> = {}): Promise<TestProcess> {
    const p = await TestProcess.start(redis.url, { settings });
    procs.push(p);
    return p;
  }

  const status = async (p: TestProcess, rpcId: string) => (await p.rpc.repo.get(rpcId))?.rpc.status;

  describe('retries after a delivery timeout', () => {
    for (const strategy of ['BURST', 'SEQUENTIAL_ON_ACK_FROM_DEVICE', 'SEQUENTIAL_ON_RESPONSE_FROM_DEVICE'] as RpcSubmitStrategy[]) {
      it(`${strategy}: re-sent after a backoff while retries remain, then FAILED with the reason`, async () => {
        const p = await proc({ submitStrategy: strategy, retryBackoffMs: 100, retryBackoffMaxMs: 150 });
        const dev = newDeviceId();
        const s = await p.connect(dev);
        await s.subscribe();
        const req = rpcTo(dev, 60_000, { persisted: true, retries: 2 });
        await p.rpc.sendToDevice(req);
        let cmd = await s.waitSent(1);
        const t0 = Date.now();
        s.noAck(cmd.requestId);
        await waitFor(async () => (await status(p, req.id)) === 'TIMEOUT', 'TIMEOUT');
        expect(s.sent).to.have.length(1, 'not re-sent before the backoff');
        cmd = await s.waitSent(2);
        expect(Date.now() - t0).to.be.within(80, 1000);
        expect(cmd.requestId).to.equal(s.sent[0].requestId, 'the same command, the same id');
        s.noAck(cmd.requestId);
        cmd = await s.waitSent(3);
        expect(Date.now() - t0).to.be.at.least(200, 'second pause: 100 doubled, capped at 150');
        s.noAck(cmd.requestId);
        await waitFor(async () => (await status(p, req.id)) === 'FAILED', 'FAILED');
        expect((await p.rpc.repo.get(req.id))?.rpc.response).to.deep.equal({ error: RETRIES_EXHAUSTED(2) });
        expect((await p.rpc.repo.get(req.id))?.attempts).to.equal(2);
        await p.rpc.settle();
        expect(p.eventTypes(req.id)).to.deep.equal(['RPC_QUEUED', 'RPC_TIMEOUT', 'RPC_TIMEOUT', 'RPC_FAILED']);
        await sleep(300);
        expect(s.sent).to.have.length(3);
      });
    }

    it('a delivered retry ends the retrying: QUEUED → SENT → TIMEOUT → SENT → DELIVERED', async () => {
      const p = await proc();
      const dev = newDeviceId();
      const s = await p.connect(dev);
      await s.subscribe();
      const req = rpcTo(dev, 60_000, { persisted: true, oneway: true });
      await p.rpc.sendToDevice(req);
      let cmd = await s.waitSent(1);
      s.sentStatus(cmd.requestId);
      s.noAck(cmd.requestId);
      cmd = await s.waitSent(2);
      s.sentStatus(cmd.requestId);
      s.ack(cmd.requestId);
      await waitFor(async () => (await status(p, req.id)) === 'DELIVERED', 'DELIVERED');
      await p.rpc.settle();
      expect(p.eventTypes(req.id)).to.deep.equal(['RPC_QUEUED', 'RPC_SENT', 'RPC_TIMEOUT', 'RPC_SENT', 'RPC_DELIVERED']);
    });

    it('retries: 0 → FAILED at the first timeout; a lightweight caller is answered at once (beyond #3)', async () => {
      const p = await proc();
      const dev = newDeviceId();
      const s = await p.connect(dev);
      await s.subscribe();
      const req = rpcTo(dev, 10_000, { retries: 0 });
      const outcome = p.rpc.sendToDevice(req);
      const cmd = await s.waitSent(1);
      const t0 = Date.now();
      s.noAck(cmd.requestId);
      expect(await outcome).to.deep.equal({ rpcId: req.id, response: null, error: 'TIMEOUT' });
      expect(Date.now() - t0).to.be.below(1000);
    });

    it('retries above maxRetries are capped by it', async () => {
      const p = await proc({ maxRetries: 1 });
      const dev = newDeviceId();
      const s = await p.connect(dev);
      await s.subscribe();
      const req = rpcTo(dev, 60_000, { persisted: true, retries: 9 });
      await p.rpc.sendToDevice(req);
      s.noAck((await s.waitSent(1)).requestId);
      s.noAck((await s.waitSent(2)).requestId);
      await waitFor(async () => (await status(p, req.id)) === 'FAILED', 'FAILED');
      expect((await p.rpc.repo.get(req.id))?.rpc.response).to.deep.equal({ error: RETRIES_EXHAUSTED(1) });
    });

    it('no session at retry time: re-sent when the device subscribes again', async () => {
      const p = await proc();
      const dev = newDeviceId();
      const s1 = await p.connect(dev);
      await s1.subscribe();
      const req = rpcTo(dev, 60_000, { persisted: true });
      await p.rpc.sendToDevice(req);
      const cmd = await s1.waitSent(1);
      s1.noAck(cmd.requestId);
      s1.close('gone');
      await sleep(200);
      const s2 = await p.connect(dev);
      await s2.subscribe();
      expect((await s2.waitSent(1)).requestId).to.equal(cmd.requestId);
    });
  });

  describe('submit strategies', () => {
    it('BURST: every command goes at once', async () => {
      const p = await proc({ submitStrategy: 'BURST' });
      const dev = newDeviceId();
      const s = await p.connect(dev);
      await s.subscribe();
      void p.rpc.sendToDevice(rpcTo(dev, 5000));
      void p.rpc.sendToDevice(rpcTo(dev, 5000));
      void p.rpc.sendToDevice(rpcTo(dev, 5000));
      await s.waitSent(3);
    });

    it('BURST: a reconnecting device gets every pending command not yet delivered', async () => {
      const p = await proc({ submitStrategy: 'BURST' });
      const dev = newDeviceId();
      const s1 = await p.connect(dev);
      await s1.subscribe();
      const a = rpcTo(dev, 5000);
      const b = rpcTo(dev, 5000);
      void p.rpc.sendToDevice(a);
      void p.rpc.sendToDevice(b);
      const ca = await s1.waitSent(1);
      await s1.waitSent(2);
      s1.ack(ca.requestId);
      await p.rpc.settle();
      s1.close('reconnect');
      const s2 = await p.connect(dev);
      await s2.subscribe();
      await s2.waitSent(1);
      await p.rpc.settle();
      expect(s2.sent.map((c) => c.method)).to.deep.equal([b.method]);
    });

    it('SEQUENTIAL_ON_ACK_FROM_DEVICE: the next command goes when the previous one is delivered', async () => {
      const p = await proc({ submitStrategy: 'SEQUENTIAL_ON_ACK_FROM_DEVICE' });
      const dev = newDeviceId();
      const s = await p.connect(dev);
      await s.subscribe();
      const a = rpcTo(dev, 5000);
      const b = rpcTo(dev, 5000, { oneway: true });
      const c = rpcTo(dev, 5000);
      const oa = p.rpc.sendToDevice(a);
      const ob = p.rpc.sendToDevice(b);
      void p.rpc.sendToDevice(c);
      await s.waitSent(1);
      await p.rpc.settle();
      expect(s.sent.map((x) => x.method)).to.deep.equal([a.method]);
      s.ack(s.sent[0].requestId);
      await s.waitSent(2);
      await p.rpc.settle();
      expect(s.sent.map((x) => x.method)).to.deep.equal([a.method, b.method], 'a delivered, not answered: b goes');
      let answered = false;
      void ob.then(() => (answered = true));
      await sleep(50);
      expect(answered).to.equal(false, 'a sequential one-way command is answered when delivered');
      s.ack(s.sent[1].requestId);
      expect(await ob).to.deep.include({ error: null });
      await s.waitSent(3);
      s.respond(s.sent[0].requestId, '"a"');
      expect((await oa).response).to.equal('"a"');
    });

    it('SEQUENTIAL_ON_RESPONSE_FROM_DEVICE: the next command goes when the previous one is answered', async () => {
      const p = await proc({ submitStrategy: 'SEQUENTIAL_ON_RESPONSE_FROM_DEVICE' });
      const dev = newDeviceId();
      const s = await p.connect(dev);
      await s.subscribe();
      const a = rpcTo(dev, 5000);
      const b = rpcTo(dev, 5000);
      const oa = p.rpc.sendToDevice(a);
      const ob = p.rpc.sendToDevice(b);
      await s.waitSent(1);
      s.ack(s.sent[0].requestId);
      await sleep(100);
      expect(s.sent).to.have.length(1, 'delivered but not answered: b waits');
      s.respond(s.sent[0].requestId, '1');
      expect((await oa).response).to.equal('1');
      await s.waitSent(2);
      expect(s.last.method).to.equal(b.method);
      s.respond(s.last.requestId, '2');
      expect((await ob).response).to.equal('2');
    });

    it('SEQUENTIAL_ON_RESPONSE_FROM_DEVICE: no reply within responseTimeoutMs → FAILED, next goes', async () => {
      const p = await proc({ submitStrategy: 'SEQUENTIAL_ON_RESPONSE_FROM_DEVICE', responseTimeoutMs: 200 });
      const dev = newDeviceId();
      const s = await p.connect(dev);
      await s.subscribe();
      const a = rpcTo(dev, 10_000, { persisted: true });
      const b = rpcTo(dev, 10_000);
      await p.rpc.sendToDevice(a);
      const ob = p.rpc.sendToDevice(b);
      await s.waitSent(1);
      s.ack(s.sent[0].requestId);
      await waitFor(async () => (await status(p, a.id)) === 'FAILED', 'FAILED');
      expect((await p.rpc.repo.get(a.id))?.rpc.response).to.deep.equal({ error: RESPONSE_AWAIT_TIMEOUT });
      await s.waitSent(2);
      s.respond(s.last.requestId, '"b"');
      expect((await ob).response).to.equal('"b"');
    });

    it('sequential: an expired head lets the next one go', async () => {
      const p = await proc({ submitStrategy: 'SEQUENTIAL_ON_ACK_FROM_DEVICE' });
      const dev = newDeviceId();
      const s = await p.connect(dev);
      await s.subscribe();
      const a = rpcTo(dev, 200);
      const b = rpcTo(dev, 5000);
      const oa = p.rpc.sendToDevice(a);
      void p.rpc.sendToDevice(b);
      await s.waitSent(1);
      expect((await oa).error).to.equal('TIMEOUT');
      await s.waitSent(2);
      expect(s.last.method).to.equal(b.method);
    });
  });

  describe('close session on delivery timeout', () => {
    it('retries exhausted → back to QUEUED, sessions closed; sent again after reconnect (S8)', async () => {
      const p = await proc({ closeSessionOnDeliveryTimeout: true });
      const dev = newDeviceId();
      const s1 = await p.connect(dev);
      await s1.subscribe();
      const req = rpcTo(dev, 60_000, { persisted: true, retries: 0 });
      await p.rpc.sendToDevice(req);
      const cmd = await s1.waitSent(1);
      s1.sentStatus(cmd.requestId);
      s1.noAck(cmd.requestId);
      await waitFor(() => s1.closedWith !== undefined, 'session closed');
      await waitFor(async () => (await status(p, req.id)) === 'QUEUED', 'QUEUED');
      await p.rpc.settle();
      expect(p.eventTypes(req.id)).to.deep.equal(['RPC_QUEUED', 'RPC_SENT', 'RPC_QUEUED']);
      const s2 = await p.connect(dev);
      await s2.subscribe();
      expect((await s2.waitSent(1)).requestId).to.equal(cmd.requestId);
      s2.ack(cmd.requestId);
      s2.respond(cmd.requestId, '{}');
      await waitFor(async () => (await status(p, req.id)) === 'SUCCESSFUL', 'SUCCESSFUL');
    });
  });

  describe('DELETE', () => {
    it('removes the row, emits RPC_DELETED and cancels a scheduled re-send (beyond #9)', async () => {
      const p = await proc({ retryBackoffMs: 300, retryBackoffMaxMs: 300 });
      const dev = newDeviceId();
      const s = await p.connect(dev);
      await s.subscribe();
      const req = rpcTo(dev, 60_000, { persisted: true });
      await p.rpc.sendToDevice(req);
      const cmd = await s.waitSent(1);
      s.noAck(cmd.requestId);
      await waitFor(async () => (await status(p, req.id)) === 'TIMEOUT', 'TIMEOUT');
      const removed = await p.rpc.deleteRpc(req.id);
      expect(removed?.rpc.status).to.equal('TIMEOUT');
      expect(await p.rpc.repo.get(req.id)).to.equal(null);
      await sleep(500);
      expect(s.sent).to.have.length(1, 'not re-sent after the delete');
      await p.rpc.settle();
      const deleted = p.events.find((e) => e.type === 'RPC_DELETED');
      expect(JSON.parse(deleted?.data ?? '{}')).to.deep.include({ status: 'DELETED' });
      expect(p.rpc.owns(dev)).to.equal(false);
      expect(await p.rpc.deleteRpc(req.id)).to.equal(null);
    });

    it('a QUEUED RPC deleted while the device is offline is never sent', async () => {
      const p = await proc();
      const dev = newDeviceId();
      const req = rpcTo(dev, 60_000, { persisted: true });
      await p.rpc.sendToDevice(req);
      await p.rpc.deleteRpc(req.id);
      const s = await p.connect(dev);
      await s.subscribe();
      await sleep(200);
      expect(s.sent).to.have.length(0);
    });

    it('sequential: deleting the head lets the next one go', async () => {
      const p = await proc({ submitStrategy: 'SEQUENTIAL_ON_ACK_FROM_DEVICE' });
      const dev = newDeviceId();
      const s = await p.connect(dev);
      await s.subscribe();
      const a = rpcTo(dev, 60_000, { persisted: true });
      const b = rpcTo(dev, 60_000, { persisted: true });
      await p.rpc.sendToDevice(a);
      await p.rpc.sendToDevice(b);
      await s.waitSent(1);
      await p.rpc.deleteRpc(a.id);
      await s.waitSent(2);
      expect(s.last.method).to.equal(b.method);
    });
  });
});
