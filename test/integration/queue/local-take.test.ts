import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createRedis } from '../../../src/redis/connection.js';
import { RuleEngineConsumer } from '../../../src/queue/consumer.js';
import type { MsgHandler, PackData, PackSummary } from '../../../src/queue/pack.js';
import { RuleEngineProducer } from '../../../src/queue/producer.js';
import { DEFAULT_KEY_BASE, partitionPrefix } from '../../../src/queue/partitions.js';
import type { QueueConfig } from '../../../src/queue/queue-config.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { deviceMsg, FAIL, FAST, OK, queue, seqOf, silent, sleep, waitFor } from './queue-helpers.js';

const TAKING_PROCESS = fileURLToPath(new URL('./fixtures/taking-process.ts', import.meta.url));

/**
 * A pack added by the process that also consumes its (BURST) queue is added already active and
 * locked for that consumer, and runs there at once (src/queue/local-take.ts). These tests check it
 * against BullMQ itself: the job's state, lock, completion and stalled recovery.
 */
describe('queue: packs taken as they are added', function () {
  this.timeout(30_000);
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

  // One partition, so that every pack and its BullMQ keys are found in one place.
  const MAIN = queue({ name: 'Main', partitions: 1, packProcessingTimeout: 20_000 });

  function bullQueue(q: QueueConfig): Queue<PackData, PackSummary> {
    const b = new Queue<PackData, PackSummary>(q.name, { connection: admin, prefix: partitionPrefix(DEFAULT_KEY_BASE, 0) });
    closers.push(() => b.close());
    return b;
  }

  async function system(q: QueueConfig, handler: MsgHandler, extra: { packsPerPartition?: number; id?: string } = {}) {
    const consumer = new RuleEngineConsumer({ redisUrl: redis.url, queues: [q], handler, logger: silent, ...FAST, consumerId: extra.id ?? 'local', ...(extra.packsPerPartition ? { packsPerPartition: extra.packsPerPartition } : {}) });
    const producer = new RuleEngineProducer({ redisUrl: redis.url, queues: [q] });
    closers.push(() => producer.close());
    closers.push(() => consumer.close());
    await consumer.start();
    producer.setLocalConsumer(consumer);
    return { consumer, producer };
  }

  /** A handler that holds every message until release(), counting starts per sequence number. */
  function gatedHandler() {
    const starts = new Map<number, number>();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const handler: MsgHandler = async (msg) => {
      starts.set(seqOf(msg), (starts.get(seqOf(msg)) ?? 0) + 1);
      await gate;
      return OK;
    };
    return { handler, starts, release: () => open() };
  }

  async function lockToken(jobId: string): Promise<string | null> {
    return admin.get(`${partitionPrefix(DEFAULT_KEY_BASE, 0)}:Main:${jobId}:lock`);
  }

  it('is active and locked while it runs (the lock renewed past its duration), then completed as BullMQ completes a job', async () => {
    const gated = gatedHandler();
    const { consumer, producer } = await system(MAIN, gated.handler);
    const bull = bullQueue(MAIN);
    await producer.send(deviceMsg('dev-1', 1));
    await waitFor('the pack to start', () => gated.starts.get(1) === 1);

    const [job] = await bull.getActive();
    expect(job, 'active job').to.not.equal(undefined);
    expect(job.data.m.map(seqOf)).to.deep.equal([1]);
    expect(job.attemptsStarted).to.equal(1);
    expect(job.processedOn).to.be.a('number');
    expect(await bull.getWaitingCount()).to.equal(0);
    // The lock is the taken one, not one the worker's own fetch would have set.
    expect(await lockToken(job.id ?? '')).to.match(/:taken-\d+$/);

    // Past two lock durations (FAST: 1.5 s) with stalled checks every 0.5 s: renewed, never stalled.
    await sleep(FAST.lockDurationMs! * 2 + 500);
    expect(await bull.getJobState(job.id ?? '')).to.equal('active');
    expect(gated.starts.get(1)).to.equal(1);

    gated.release();
    await waitFor('completion', async () => (await bull.getJobState(job.id ?? '')) === 'completed');
    const done = await bull.getJob(job.id ?? '');
    expect(done?.returnvalue).to.include({ succeeded: 1, failed: 0, attempts: 1 });
    expect(done?.finishedOn).to.be.a('number');
    expect(await lockToken(job.id ?? '')).to.equal(null);
    expect(await bull.getActiveCount()).to.equal(0);
    expect(consumer.stats()).to.include({ packs: 1, succeeded: 1 });
    // The events BullMQ's own add and fetch write, and its completion.
    const events = (await admin.xrange(`${partitionPrefix(DEFAULT_KEY_BASE, 0)}:Main:events`, '-', '+')).map(([, f]) => `${f[1]}:${f[3]}`);
    expect(events).to.include.members([`added:${job.id}`, `active:${job.id}`, `completed:${job.id}`]);
  });

  it('goes the usual way when the consumer has no room, or the queue is paused; every message still runs once', async () => {
    const gated = gatedHandler();
    const { producer } = await system(MAIN, gated.handler, { packsPerPartition: 1 });
    const bull = bullQueue(MAIN);
    await producer.send(deviceMsg('dev-1', 1)); // taken
    await waitFor('pack 1 to start', () => gated.starts.get(1) === 1);
    await producer.send(deviceMsg('dev-2', 2)); // no room: added to wait, fetched by the worker's own slot
    await waitFor('pack 2 to start', () => gated.starts.get(2) === 1);
    const tokens = await Promise.all((await bull.getActive()).map(async (j) => [seqOf(j.data.m[0]), await lockToken(j.id ?? '')] as const));
    const byPack = new Map(tokens);
    expect(byPack.get(1)).to.match(/:taken-\d+$/);
    expect(byPack.get(2)).to.be.a('string').and.not.match(/:taken-/);

    gated.release();
    await waitFor('both done', async () => (await bull.getCompletedCount()) === 2);

    await bull.pause();
    await producer.send(deviceMsg('dev-3', 3)); // paused: the script refuses, the usual add keeps it
    // BullMQ 6 keeps a paused queue's jobs in its wait list.
    expect(await bull.getJobCounts('wait', 'active')).to.deep.equal({ wait: 1, active: 0 });
    await sleep(200);
    expect(gated.starts.has(3)).to.equal(false);
    await bull.resume();
    await waitFor('pack 3', () => gated.starts.get(3) === 1);
    await waitFor('all done', async () => (await bull.getCompletedCount()) === 3);
    expect([...gated.starts.values()]).to.deep.equal([1, 1, 1]);
  });

  it('is not taken while the partition already runs as many packs as its worker may', async () => {
    const gated = gatedHandler();
    const { producer } = await system(MAIN, gated.handler, { packsPerPartition: 1 });
    const bull = bullQueue(MAIN);
    // From a process that does not consume: the worker fetches it, into its only slot.
    const other = new RuleEngineProducer({ redisUrl: redis.url, queues: [MAIN] });
    closers.push(() => other.close());
    await other.send(deviceMsg('dev-1', 1));
    await waitFor('pack 1 to start', () => gated.starts.get(1) === 1);
    await producer.send(deviceMsg('dev-2', 2)); // the partition is full: it waits in the queue
    await sleep(200);
    expect(gated.starts.has(2)).to.equal(false);
    expect(await bull.getJobCounts('wait', 'active')).to.deep.equal({ wait: 1, active: 1 });
    gated.release();
    await waitFor('both done', async () => (await bull.getCompletedCount()) === 2);
    expect([...gated.starts.values()]).to.deep.equal([1, 1]);
  });

  it('closing the consumer waits for a taken pack, which still completes', async () => {
    let finished = 0;
    const { consumer, producer } = await system(MAIN, async () => {
      await sleep(400);
      finished++;
      return OK;
    });
    const bull = bullQueue(MAIN);
    await producer.send(deviceMsg('dev-1', 1));
    await waitFor('taken pack running', async () => (await bull.getActiveCount()) === 1);
    await consumer.close();
    expect(finished).to.equal(1);
    expect(await bull.getJobCounts('completed', 'active', 'wait')).to.deep.equal({ completed: 1, active: 0, wait: 0 });
  });

  it('closing while a taken pack runs: a fetched pack waiting to retry is handed back once, with its retry state', async () => {
    const q = queue({ name: 'Main', partitions: 1, packProcessingTimeout: 20_000, processingStrategy: { type: 'RETRY_FAILED', retries: 0, pauseBetweenRetries: 1, maxPauseBetweenRetries: 1 } });
    let failures = 0;
    const { consumer, producer } = await system(q, async (msg) => {
      if (seqOf(msg) === 2) {
        failures++;
        return FAIL();
      }
      await sleep(1500);
      return OK;
    }, { packsPerPartition: 1 });
    const bull = bullQueue(q);
    await producer.send(deviceMsg('dev-1', 1)); // taken; runs 1.5 s
    // From a process that does not consume: the worker fetches it, into its own slot.
    const other = new RuleEngineProducer({ redisUrl: redis.url, queues: [q] });
    closers.push(() => other.close());
    await other.send(deviceMsg('dev-2', 2));
    await waitFor('the fetched pack to fail once', () => failures === 1);
    await consumer.close();
    // Handed back to the queue, and not fetched again by the closing worker.
    expect(failures).to.equal(1);
    expect(consumer.stats()).to.include({ handedBack: 1, packs: 1, succeeded: 1 });
    const waiting = await bull.getWaiting();
    expect(waiting.map((j) => j.data.m.map(seqOf))).to.deep.equal([[2]]);
    expect(waiting[0].data.r).to.include({ initialTotal: 1 });
    expect(await bull.getJobCounts('active', 'completed')).to.deep.equal({ active: 0, completed: 1 });
  });

  it('a process killed while it runs taken packs: another consumer runs them once their lock expires', async () => {
    const RECORD = 'test:taken-record';
    const count = 5;
    const config = { redisUrl: redis.url, consumerId: 'doomed', queue: MAIN, record: RECORD, count, lockDurationMs: FAST.lockDurationMs, stalledIntervalMs: FAST.stalledIntervalMs };
    const child = spawn(process.execPath, ['--import', 'tsx', TAKING_PROCESS], { env: { ...process.env, TAKING_CONFIG: JSON.stringify(config) }, stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    closers.push(async () => {
      child.kill('SIGKILL');
      await exited;
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()).includes('sent') && resolve());
      void exited.then(() => reject(new Error('the taking process exited early')));
    });
    await waitFor('the child to start every message', async () => (await admin.llen(RECORD)) === count);
    const bull = bullQueue(MAIN);
    const active = await bull.getActive();
    expect(active.length).to.be.greaterThan(0);
    for (const j of active) expect(await lockToken(j.id ?? '')).to.match(/:taken-\d+$/);

    child.kill('SIGKILL');
    await exited;
    const seen = new Map<number, number>();
    await system(MAIN, async (msg) => {
      seen.set(seqOf(msg), (seen.get(seqOf(msg)) ?? 0) + 1);
      return OK;
    }, { id: 'survivor' });
    await waitFor('the survivor to run every message', () => seen.size === count, 20_000);
    expect([...seen.keys()].sort((a, b) => a - b)).to.deep.equal([0, 1, 2, 3, 4]);
    expect([...seen.values()].every((n) => n === 1)).to.equal(true);
    await waitFor('completed', async () => (await bull.getActiveCount()) === 0 && (await bull.getCompletedCount()) === active.length);
  });
});
