import { expect } from 'chai';
import type { Redis } from 'ioredis';
import type { TbMsg } from '../../../src/msg/tb-msg.js';
import { createRedis } from '../../../src/redis/connection.js';
import { RuleEngineConsumer } from '../../../src/queue/consumer.js';
import type { MsgHandler } from '../../../src/queue/pack.js';
import { RuleEngineProducer } from '../../../src/queue/producer.js';
import type { PackData } from '../../../src/queue/pack.js';
import { DEFAULT_KEY_BASE, partitionOf, partitionPrefix } from '../../../src/queue/partitions.js';
import { Queue } from 'bullmq';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { deviceMsg, FAST, OK, queue, seqOf, silent, sleep, waitFor } from './queue-helpers.js';

describe('queue: producer → consumer → handler', function () {
  this.timeout(20_000);
  let redis: TestRedis;
  let admin: Redis;
  const closers: (() => Promise<void>)[] = [];

  before(async () => {
    redis = await startTestRedis();
    admin = createRedis(redis.url, { role: 'client' });
  });
  after(async () => {
    admin.disconnect();
    await redis.stop();
  });
  beforeEach(() => admin.flushall());
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });

  function producer(queues: ReturnType<typeof queue>[]): RuleEngineProducer {
    const p = new RuleEngineProducer({ redisUrl: redis.url, queues });
    closers.push(() => p.close());
    return p;
  }

  async function consumer(queues: ReturnType<typeof queue>[], handler: MsgHandler, id?: string): Promise<RuleEngineConsumer> {
    const c = new RuleEngineConsumer({ redisUrl: redis.url, queues, handler, logger: silent, ...FAST, ...(id ? { consumerId: id } : {}) });
    closers.push(() => c.close());
    await c.start();
    return c;
  }

  it('delivers every message once to the handler (BURST, packs of many)', async () => {
    const q = queue({ name: 'Main' });
    const seen = new Map<string, number>();
    const c = await consumer([q], async (msg) => {
      seen.set(msg.id, (seen.get(msg.id) ?? 0) + 1);
      return OK;
    });
    const p = producer([q]);
    const msgs = Array.from({ length: 2000 }, (_, i) => deviceMsg(`dev-${i % 37}`, i));
    await Promise.all(msgs.map((m) => p.send(m)));
    await waitFor('all messages', () => seen.size === msgs.length);
    await sleep(100);
    expect([...seen.values()].every((n) => n === 1)).to.equal(true);
    const s = c.stats();
    expect(s.succeeded).to.equal(2000);
    expect(s.packs).to.be.lessThan(200); // packed, not one job per message
  });

  it('packs: a BURST queue gathers the messages of all partitions into one pack; a sequential queue keeps one pack per partition', async () => {
    const burst = queue({ name: 'Burst' });
    const ordered = queue({ name: 'Ordered', submitStrategy: { type: 'SEQUENTIAL_BY_ORIGINATOR' } });
    const p = producer([burst, ordered]);
    const devices = Array.from({ length: 12 }, (_, i) => `dev-${i}`);
    await Promise.all([...devices.map((d) => p.send(deviceMsg(d, 1), 'Burst')), ...devices.map((d) => p.send(deviceMsg(d, 1), 'Ordered'))]);
    const packs = async (name: string) => {
      const out: { partition: number; devices: string[] }[] = [];
      for (let partition = 0; partition < 4; partition++) {
        const q = new Queue<PackData>(name, { connection: admin, prefix: partitionPrefix(DEFAULT_KEY_BASE, partition) });
        for (const job of await q.getJobs(['wait'])) out.push({ partition, devices: job.data.m.map((m) => m.originator.id) });
        await q.close();
      }
      return out;
    };
    const burstPacks = await packs('Burst');
    expect(burstPacks).to.have.length(1);
    expect(burstPacks[0].devices).to.deep.equal(devices, 'in send order');
    expect(burstPacks[0].partition).to.equal(partitionOf(deviceMsg(devices[0], 1), burst), 'the partition of its first message');
    const orderedPacks = await packs('Ordered');
    expect(orderedPacks.length).to.be.greaterThan(1);
    for (const pack of orderedPacks) for (const d of pack.devices) expect(partitionOf(deviceMsg(d, 1), ordered)).to.equal(pack.partition);
    expect(orderedPacks.flatMap((x) => x.devices).sort()).to.deep.equal([...devices].sort());
  });

  it('send() uses msg.queueName, rejects an unknown queue, and resolves only once the pack is in Redis', async () => {
    const main = queue({ name: 'Main', partitions: 1 });
    const hp = queue({ name: 'HighPriority', partitions: 1 });
    const p = producer([main, hp]);
    await p.send(deviceMsg('d', 1, 'HighPriority'));
    expect(await admin.llen('{rc-q-0}:HighPriority:wait')).to.equal(1);
    expect(await admin.llen('{rc-q-0}:Main:wait')).to.equal(0);
    const err = await p.send(deviceMsg('d', 2, 'Nope')).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/unknown rule-engine queue "Nope"/);
  });

  it('gives the handler an ack: the pack completes without waiting for the rest of the chain', async () => {
    const q = queue({ name: 'Main', partitions: 1, packProcessingTimeout: 300 });
    let acked = 0;
    const c = await consumer([q], (_msg, ctx) => {
      ctx.onAck();
      acked++;
      return new Promise(() => undefined); // the chain never ends (e.g. waits for a device)
    });
    const p = producer([q]);
    await Promise.all([1, 2, 3].map((i) => p.send(deviceMsg('d', i))));
    await waitFor('acked packs', () => c.stats().succeeded === 3);
    expect(c.stats().timedOut).to.equal(0);
    expect(acked).to.equal(3);
  });

  for (const [type, maxInFlight] of [
    ['SEQUENTIAL', 1],
    ['BATCH', 5],
  ] as const) {
    it(`${type} keeps at most ${maxInFlight} message(s) of a partition in flight`, async () => {
      const q = queue({ name: 'Main', partitions: 1, submitStrategy: { type, batchSize: 5 } });
      let inFlight = 0;
      let max = 0;
      let done = 0;
      await consumer([q], async () => {
        inFlight++;
        max = Math.max(max, inFlight);
        await sleep(2);
        inFlight--;
        done++;
        return OK;
      });
      const p = producer([q]);
      await Promise.all(Array.from({ length: 60 }, (_, i) => p.send(deviceMsg(`d${i % 7}`, i))));
      await waitFor('all done', () => done === 60);
      expect(max).to.equal(maxInFlight);
    });
  }

  it('SEQUENTIAL_BY_ORIGINATOR: one in flight per originator, originators in parallel, order kept', async () => {
    const q = queue({ name: 'SequentialByOriginator', partitions: 2, submitStrategy: { type: 'SEQUENTIAL_BY_ORIGINATOR' } });
    const inFlight = new Map<string, number>();
    const order = new Map<string, number[]>();
    let maxPerDevice = 0;
    let maxTotal = 0;
    let total = 0;
    let done = 0;
    await consumer([q], async (msg: TbMsg) => {
      const d = msg.originator.id;
      inFlight.set(d, (inFlight.get(d) ?? 0) + 1);
      total++;
      maxPerDevice = Math.max(maxPerDevice, inFlight.get(d) ?? 0);
      maxTotal = Math.max(maxTotal, total);
      order.set(d, [...(order.get(d) ?? []), seqOf(msg)]);
      await sleep(1);
      inFlight.set(d, (inFlight.get(d) ?? 0) - 1);
      total--;
      done++;
      return OK;
    });
    const p = producer([q]);
    const N = 400;
    await Promise.all(Array.from({ length: N }, (_, i) => p.send(deviceMsg(`dev-${i % 10}`, i, q.name))));
    await waitFor('all done', () => done === N);
    expect(maxPerDevice).to.equal(1);
    expect(maxTotal).to.be.greaterThan(1);
    for (const seqs of order.values()) expect(seqs).to.deep.equal([...seqs].sort((a, b) => a - b));
  });

  it('bounds what BullMQ keeps of finished packs', async () => {
    const q = queue({ name: 'Main', partitions: 1 });
    let done = 0;
    await consumer([q], async () => {
      done++;
      return OK;
    });
    const p = new RuleEngineProducer({ redisUrl: redis.url, queues: [q], maxPackSize: 1, removeOnComplete: { count: 10 } });
    closers.push(() => p.close());
    for (let i = 0; i < 50; i++) await p.send(deviceMsg('d', i));
    await waitFor('all done', () => done === 50);
    await sleep(100);
    expect(await admin.zcard('{rc-q-0}:Main:completed')).to.be.at.most(10);
  });

  it('close() drains the packs in progress, and is safe to call twice', async () => {
    const q = queue({ name: 'Main', partitions: 1 });
    let started = 0;
    let finished = 0;
    const c = await consumer([q], async () => {
      started++;
      await sleep(300);
      finished++;
      return OK;
    });
    const p = producer([q]);
    await p.send(deviceMsg('d', 1));
    await waitFor('processing started', () => started === 1);
    await Promise.all([c.close(), c.close()]);
    await c.close();
    expect(finished).to.equal(1);
    expect(c.stats().packs).to.equal(1);
    await Promise.all([p.close(), p.close()]);
  });
});
