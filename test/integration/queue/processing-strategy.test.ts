import { expect } from 'chai';
import type { Redis } from 'ioredis';
import type { TbMsg } from '../../../src/msg/tb-msg.js';
import { createRedis } from '../../../src/redis/connection.js';
import { RuleEngineConsumer } from '../../../src/queue/consumer.js';
import type { MsgHandler } from '../../../src/queue/pack.js';
import { RuleEngineProducer } from '../../../src/queue/producer.js';
import type { QueueConfig } from '../../../src/queue/queue-config.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { deviceMsg, FAIL, FAST, OK, queue, seqOf, silent, sleep, waitFor } from './queue-helpers.js';

/**
 * Each test sends one pack (one partition, all sends in one tick) whose messages say in their data
 * how many times they fail (`fail`) or hang (`hang`) before they succeed.
 */
describe('queue: processing strategies', function () {
  this.timeout(20_000);
  let redis: TestRedis;
  let admin: Redis;
  let consumer: RuleEngineConsumer | undefined;
  let producer: RuleEngineProducer | undefined;

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
    await consumer?.close();
    await producer?.close();
    consumer = producer = undefined;
  });

  interface Plan {
    fail?: number;
    hang?: number;
  }

  /** Calls per message (by seq), with when they happened. */
  class Recorder {
    readonly calls = new Map<number, number[]>();
    readonly aborted = new Set<number>();
    readonly errors: string[] = [];
    count(seq: number): number {
      return this.calls.get(seq)?.length ?? 0;
    }
    readonly handler: MsgHandler = (msg, ctx) => {
      const seq = seqOf(msg);
      const times = this.calls.get(seq) ?? [];
      times.push(Date.now());
      this.calls.set(seq, times);
      const plan = JSON.parse(msg.data) as Plan & { seq: number };
      const n = times.length;
      if (n <= (plan.hang ?? 0)) {
        ctx.signal.addEventListener('abort', () => this.aborted.add(seq));
        return new Promise(() => undefined);
      }
      if (n <= (plan.hang ?? 0) + (plan.fail ?? 0)) return Promise.resolve(FAIL(`planned failure ${n}`));
      return Promise.resolve(OK);
    };
  }

  async function runPack(q: QueueConfig, plans: Plan[], originators?: string[]): Promise<Recorder> {
    const rec = new Recorder();
    consumer = new RuleEngineConsumer({
      redisUrl: redis.url,
      queues: [q],
      handler: rec.handler,
      logger: silent,
      ...FAST,
      onMsgFailure: (msg, error, queueName) => rec.errors.push(`${queueName} ${seqOf(msg)}: ${error}`),
    });
    await consumer.start();
    producer = new RuleEngineProducer({ redisUrl: redis.url, queues: [q] });
    const msgs: TbMsg[] = plans.map((plan, seq) => {
      const m = deviceMsg(originators?.[seq] ?? `dev-${seq}`, seq, q.name);
      return { ...m, data: JSON.stringify({ ...plan, seq }) };
    });
    await Promise.all(msgs.map((m) => producer?.send(m)));
    await waitFor('the pack to complete', () => (consumer?.stats().packs ?? 0) >= 1, 15_000);
    return rec;
  }

  const pack = (type: QueueConfig['processingStrategy']['type'], extra: Record<string, unknown> = {}) =>
    queue({ name: 'Q', partitions: 1, packProcessingTimeout: 300, processingStrategy: { type, ...extra } });

  it('SKIP_ALL_FAILURES: a failed message is not retried; the pack commits', async () => {
    const rec = await runPack(pack('SKIP_ALL_FAILURES'), [{}, { fail: 1 }, {}]);
    expect([0, 1, 2].map((s) => rec.count(s))).to.deep.equal([1, 1, 1]);
    expect(consumer?.stats()).to.include({ succeeded: 2, failed: 1, skipped: 1 });
    expect(rec.errors).to.deep.equal(['Q 1: planned failure 1']);
  });

  it('SKIP_ALL_FAILURES lets a timed-out message run on; SKIP_ALL_FAILURES_AND_TIMED_OUT abandons it', async () => {
    let rec = await runPack(pack('SKIP_ALL_FAILURES'), [{ hang: 1 }, {}]);
    expect(rec.count(0)).to.equal(1);
    expect(rec.aborted.size).to.equal(0);
    expect(consumer?.stats()).to.include({ succeeded: 1, timedOut: 1, skipped: 1 });
    await consumer?.close();
    await producer?.close();
    await admin.flushall();
    rec = await runPack(pack('SKIP_ALL_FAILURES_AND_TIMED_OUT'), [{ hang: 1 }, {}]);
    expect(rec.count(0)).to.equal(1);
    expect([...rec.aborted]).to.deep.equal([0]);
  });

  it('RETRY_FAILED: only the failed message runs again, until it succeeds', async () => {
    const rec = await runPack(pack('RETRY_FAILED', { retries: 3 }), [{}, { fail: 2 }, {}]);
    expect([0, 1, 2].map((s) => rec.count(s))).to.deep.equal([1, 3, 1]);
    expect(consumer?.stats()).to.include({ succeeded: 3, failed: 2, skipped: 0 });
  });

  it('RETRY_FAILED gives up after `retries` retries', async () => {
    const rec = await runPack(pack('RETRY_FAILED', { retries: 2 }), [{ fail: 10 }, {}]);
    expect(rec.count(0)).to.equal(3);
    expect(consumer?.stats()).to.include({ succeeded: 1, skipped: 1 });
  });

  it('RETRY_FAILED does not retry a timed-out message', async () => {
    const rec = await runPack(pack('RETRY_FAILED', { retries: 3 }), [{ hang: 1 }, { fail: 1 }]);
    expect([rec.count(0), rec.count(1)]).to.deep.equal([1, 2]);
    expect(consumer?.stats()).to.include({ succeeded: 1, skipped: 1 });
  });

  it('RETRY_TIMED_OUT retries the timed-out message (abandoning the first run), not the failed one', async () => {
    const rec = await runPack(pack('RETRY_TIMED_OUT', { retries: 3 }), [{ hang: 1 }, { fail: 1 }, {}]);
    expect([0, 1, 2].map((s) => rec.count(s))).to.deep.equal([2, 1, 1]);
    expect([...rec.aborted]).to.deep.equal([0]);
    expect(consumer?.stats()).to.include({ succeeded: 2, skipped: 1 });
  });

  it('RETRY_ALL runs the whole pack again when one message failed', async () => {
    const rec = await runPack(pack('RETRY_ALL', { retries: 3 }), [{}, { fail: 1 }, {}]);
    expect([0, 1, 2].map((s) => rec.count(s))).to.deep.equal([2, 2, 2]);
    expect(consumer?.stats()).to.include({ succeeded: 3, skipped: 0 });
  });

  it('RETRY_FAILED_AND_TIMED_OUT with retries 0 retries without limit', async () => {
    const rec = await runPack(pack('RETRY_FAILED_AND_TIMED_OUT', { retries: 0, pauseBetweenRetries: 0.01, maxPauseBetweenRetries: 0.01 }), [
      { fail: 7 },
      { hang: 1 },
    ]);
    expect([rec.count(0), rec.count(1)]).to.deep.equal([8, 2]);
    expect(consumer?.stats()).to.include({ succeeded: 2, skipped: 0 });
  });

  it('failurePercentage: no retry when more than that share of the pack went wrong', async () => {
    const rec = await runPack(pack('RETRY_FAILED', { retries: 3, failurePercentage: 50 }), [{ fail: 1 }, { fail: 1 }, { fail: 1 }, {}]);
    expect([0, 1, 2, 3].map((s) => rec.count(s))).to.deep.equal([1, 1, 1, 1]);
    expect(consumer?.stats()).to.include({ skipped: 3 });
  });

  it('pauses between retries, doubling up to maxPauseBetweenRetries', async () => {
    const rec = await runPack(pack('RETRY_FAILED', { retries: 5, pauseBetweenRetries: 0.1, maxPauseBetweenRetries: 0.3 }), [{ fail: 4 }]);
    const t = rec.calls.get(0) ?? [];
    expect(t).to.have.length(5);
    const gaps = t.slice(1).map((v, i) => v - t[i]);
    const expected = [100, 200, 300, 300];
    gaps.forEach((g, i) => expect(g).to.be.within(expected[i] - 5, expected[i] + 150));
  });

  it('SEQUENTIAL_BY_ORIGINATOR + retry: a failed message holds back its originator only, and order is kept', async () => {
    const q = queue({
      name: 'SQ',
      partitions: 1,
      packProcessingTimeout: 1000,
      submitStrategy: { type: 'SEQUENTIAL_BY_ORIGINATOR' },
      processingStrategy: { type: 'RETRY_FAILED_AND_TIMED_OUT', retries: 3, pauseBetweenRetries: 0.2, maxPauseBetweenRetries: 0.2 },
    });
    const rec = await runPack(q, [{}, { fail: 1 }, {}, {}, {}], ['A', 'A', 'A', 'B', 'B']);
    const first = (s: number) => rec.calls.get(s)?.[0] ?? Infinity;
    const last = (s: number) => rec.calls.get(s)?.at(-1) ?? Infinity;
    expect([0, 1, 2, 3, 4].map((s) => rec.count(s))).to.deep.equal([1, 2, 1, 1, 1]);
    expect(first(2)).to.be.at.least(last(1)); // A's third waited for A's second to succeed
    expect(last(4)).to.be.below(last(1)); // B did not wait for A's retry
    expect(consumer?.stats()).to.include({ succeeded: 5, skipped: 0 });
  });

  it('closing during a retry pause hands the rest of the pack back with its retry state', async () => {
    const q = pack('RETRY_FAILED', { retries: 5, pauseBetweenRetries: 5, maxPauseBetweenRetries: 5 });
    const rec = await runPackNoWait(q, [{}, { fail: 1 }]);
    await waitFor('the first attempt', () => rec.count(1) === 1);
    await sleep(50);
    await consumer?.close();
    expect(consumer?.stats().handedBack).to.equal(1);
    const job = await admin.lrange('{rc-q-0}:Q:wait', 0, -1);
    expect(job).to.have.length(1);
    const data = JSON.parse((await admin.hget(`{rc-q-0}:Q:${job[0]}`, 'data')) ?? '{}') as { m: TbMsg[]; r: { retries: number } };
    expect(data.m.map(seqOf)).to.deep.equal([1]);
    expect(data.r.retries).to.equal(1);
    // Another consumer takes it from there, at once: only the failed message runs again.
    consumer = new RuleEngineConsumer({ redisUrl: redis.url, queues: [q], handler: rec.handler, logger: silent, ...FAST });
    await consumer.start();
    await waitFor('the pack to complete', () => (consumer?.stats().packs ?? 0) === 1, 2000);
    expect([rec.count(0), rec.count(1)]).to.deep.equal([1, 2]);
  });

  async function runPackNoWait(q: QueueConfig, plans: Plan[]): Promise<Recorder> {
    const rec = new Recorder();
    consumer = new RuleEngineConsumer({ redisUrl: redis.url, queues: [q], handler: rec.handler, logger: silent, ...FAST });
    await consumer.start();
    producer = new RuleEngineProducer({ redisUrl: redis.url, queues: [q] });
    await Promise.all(plans.map((plan, seq) => producer?.send({ ...deviceMsg(`dev-${seq}`, seq, q.name), data: JSON.stringify({ ...plan, seq }) })));
    return rec;
  }
});
