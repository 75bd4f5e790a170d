// Benchmark: messages through Redis from a producer to a consumer with a no-op handler,
//   1. rpc-chains' queue (packs of messages per BullMQ job, partitions, strategies),
//   2. bare BullMQ, one job per message (the baseline),
// and the service bus round trip (with bare Redis pub/sub for comparison).
// Starts its own redis-server (AOF on, as `npm start` runs it).
//   npx tsx scripts/bench/pipeline.ts [messages]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Queue, Worker } from 'bullmq';
import { newMsg, type TbMsg } from '../../src/msg/tb-msg.js';
import { RuleEngineConsumer } from '../../src/queue/consumer.js';
import { RuleEngineProducer } from '../../src/queue/producer.js';
import { DEFAULT_QUEUES } from '../../src/queue/queue-config.js';
import { ServiceBus } from '../../src/queue/service-bus.js';
import { createRedis } from '../../src/redis/connection.js';
import { startEmbeddedRedis } from '../../src/redis/embedded-redis.js';

const TOTAL = Number(process.argv[2] ?? 100_000);
const WINDOW = 5000; // sends in flight at once
const DEVICES = 1000;

function msgs(n: number): TbMsg[] {
  return Array.from({ length: n }, (_, i) =>
    newMsg({
      type: 'POST_TELEMETRY_REQUEST',
      originator: { entityType: 'DEVICE', id: `00000000-0000-0000-0000-${String(i % DEVICES).padStart(12, '0')}` },
      data: JSON.stringify({ temperature: 20 + (i % 10), humidity: 50 }),
      metaData: { deviceName: `dev-${i % DEVICES}`, deviceType: 'default', ts: String(Date.now()) },
      tenantId: 'tenant-1',
    }),
  );
}

/** Runs `send` over all items with at most WINDOW in flight. */
async function windowed<T>(items: readonly T[], send: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: WINDOW }, async () => {
      while (next < items.length) await send(items[next++]);
    }),
  );
}

function rate(n: number, ms: number): string {
  return `${Math.round((n / ms) * 1000).toLocaleString('en-US')} msg/s`;
}

async function pipeline(url: string, data: readonly TbMsg[], label: string, maxPackSize: number): Promise<void> {
  let done = 0;
  let finish: () => void = () => undefined;
  const all = new Promise<void>((r) => (finish = r));
  const consumer = new RuleEngineConsumer({
    redisUrl: url,
    queues: DEFAULT_QUEUES.filter((q) => q.name === 'Main'),
    consumerId: 'bench',
    handler: () => {
      if (++done === data.length) finish();
      return Promise.resolve({ status: 'success', nodeExecutions: 0 });
    },
  });
  await consumer.start();
  const producer = new RuleEngineProducer({ redisUrl: url, maxPackSize });
  const t0 = performance.now();
  await windowed(data, (m) => producer.send(m));
  const sent = performance.now() - t0;
  await all;
  const total = performance.now() - t0;
  await producer.close();
  await consumer.close();
  const s = consumer.stats();
  console.log(`${label}: produced ${rate(data.length, sent)}; end to end ${rate(data.length, total)} (${(total / 1000).toFixed(2)} s, ${s.packs} packs, ${(data.length / s.packs).toFixed(0)} msg/pack)`);
}

/** One message at a time: from send() to the handler, at no load (what an RPC call pays). */
async function latency(url: string, n: number): Promise<void> {
  let wake: () => void = () => undefined;
  const consumer = new RuleEngineConsumer({
    redisUrl: url,
    queues: DEFAULT_QUEUES,
    consumerId: 'latency',
    handler: () => {
      wake();
      return Promise.resolve({ status: 'success', nodeExecutions: 0 });
    },
  });
  await consumer.start();
  await new Promise((r) => setTimeout(r, 500)); // SequentialByOriginator leases taken
  const producer = new RuleEngineProducer({ redisUrl: url });
  const [m] = msgs(1);
  for (const queueName of ['Main', 'SequentialByOriginator']) {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const got = new Promise<void>((r) => (wake = r));
      const t0 = performance.now();
      await producer.send({ ...m, id: String(i) }, queueName);
      await got;
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const at = (q: number) => times[Math.floor(q * (times.length - 1))].toFixed(2);
    console.log(`one message at a time, send() → handler, ${queueName}: median ${at(0.5)} ms, p99 ${at(0.99)} ms`);
  }
  await producer.close();
  await consumer.close();
}

async function bareBullmq(url: string, data: readonly TbMsg[], concurrency: number): Promise<void> {
  const conn = createRedis(url, { role: 'worker' });
  const queue = new Queue<TbMsg>('bare', { connection: conn, prefix: '{bare}', defaultJobOptions: { removeOnComplete: { count: 100 }, removeOnFail: { count: 1000 } } });
  let done = 0;
  let finish: () => void = () => undefined;
  const all = new Promise<void>((r) => (finish = r));
  const worker = new Worker<TbMsg>(
    'bare',
    () => {
      if (++done === data.length) finish();
      return Promise.resolve();
    },
    { connection: conn, prefix: '{bare}', concurrency },
  );
  const t0 = performance.now();
  await windowed(data, (m) => queue.add('msg', m));
  const sent = performance.now() - t0;
  await all;
  const total = performance.now() - t0;
  console.log(`bare BullMQ, 1 job per message, worker concurrency ${concurrency}: produced ${rate(data.length, sent)}; end to end ${rate(data.length, total)} (${(total / 1000).toFixed(2)} s)`);
  await worker.close();
  await queue.close();
  conn.disconnect();
}

async function busRoundTrip(url: string, n: number): Promise<void> {
  const a = new ServiceBus({ redisUrl: url, serviceId: 'bench-a' });
  const b = new ServiceBus({ redisUrl: url, serviceId: 'bench-b' });
  await Promise.all([a.start(), b.start()]);
  b.on('ping', (p, env) => void b.send(env.from, 'pong', p));
  let wake: () => void = () => undefined;
  a.on('pong', () => wake());
  const trip = async () => {
    const got = new Promise<void>((r) => (wake = r));
    await a.send('bench-b', 'ping', { requestId: 1, data: '{"ok":true}' });
    await got;
  };
  for (let i = 0; i < 200; i++) await trip();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await trip();
  const ms = (performance.now() - t0) / n;
  let local = 0;
  a.on('self', () => void local++);
  const t1 = performance.now();
  for (let i = 0; i < n; i++) await a.send('bench-a', 'self', i);
  await new Promise((r) => setImmediate(r));
  const localMs = (performance.now() - t1) / n;
  console.log(`service bus round trip (stream inbox, same host): ${(ms * 1000).toFixed(0)} µs; local hop ${(localMs * 1000).toFixed(1)} µs (${local} delivered)`);
  await Promise.all([a.close(), b.close()]);

  // Bare pub/sub, for comparison: what a channel per service would cost.
  const pubA = createRedis(url, { role: 'client' });
  const pubB = createRedis(url, { role: 'client' });
  const subA = createRedis(url, { role: 'worker' });
  const subB = createRedis(url, { role: 'worker' });
  await subA.subscribe('to-a');
  await subB.subscribe('to-b');
  subB.on('message', (_c: string, m: string) => void pubB.publish('to-a', m));
  subA.on('message', () => wake());
  const ptrip = async () => {
    const got = new Promise<void>((r) => (wake = r));
    await pubA.publish('to-b', '{"requestId":1}');
    await got;
  };
  for (let i = 0; i < 200; i++) await ptrip();
  const t2 = performance.now();
  for (let i = 0; i < n; i++) await ptrip();
  console.log(`bare Redis pub/sub round trip: ${(((performance.now() - t2) / n) * 1000).toFixed(0)} µs`);
  for (const c of [pubA, pubB, subA, subB]) c.disconnect();
}

const dir = await mkdtemp(join(tmpdir(), 'rc-bench-'));
const redis = await startEmbeddedRedis({ dataDir: dir, appendOnly: true });
try {
  const data = msgs(TOTAL);
  console.log(`${TOTAL} messages, ${DEVICES} devices, ${WINDOW} sends in flight, redis-server with AOF (everysec)`);
  const flush = createRedis(redis.url, { role: 'client' });
  await pipeline(redis.url, data, 'rpc-chains queue (Main: BURST, 10 partitions, packs ≤ 500)', 500);
  await flush.flushall();
  await pipeline(redis.url, data.slice(0, Math.min(TOTAL, 50_000)), 'rpc-chains queue, packs of 1 (= a job per message)', 1);
  await flush.flushall();
  await bareBullmq(redis.url, data.slice(0, Math.min(TOTAL, 50_000)), 50);
  await flush.flushall();
  await latency(redis.url, 500);
  await flush.flushall();
  flush.disconnect();
  await busRoundTrip(redis.url, 2000);
} finally {
  await redis.stop();
  await rm(dir, { recursive: true, force: true });
}
