import { expect } from 'chai';
import { createRedis } from '../../../src/redis/connection.js';
import { RuleEngineConsumer } from '../../../src/queue/consumer.js';
import { RuleEngineProducer } from '../../../src/queue/producer.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { deviceMsg, FAST, OK, queue, silent, sleep, waitFor } from './queue-helpers.js';

describe('queue: Redis restarted mid-run', function () {
  this.timeout(40_000);
  let redis: TestRedis;

  before(async () => (redis = await startTestRedis()));
  after(() => redis.stop());

  it('loses no acknowledged message, and processing resumes by itself', async () => {
    const main = queue({ name: 'Main', partitions: 4 });
    const sq = queue({
      name: 'SequentialByOriginator',
      partitions: 4,
      submitStrategy: { type: 'SEQUENTIAL_BY_ORIGINATOR' },
      processingStrategy: { type: 'RETRY_FAILED_AND_TIMED_OUT', retries: 3 },
    });
    const processed = new Set<string>();
    let runs = 0;
    const consumer = new RuleEngineConsumer({
      redisUrl: redis.url,
      queues: [main, sq],
      logger: process.env.QUEUE_LOG ? { info: (t) => console.log(t), warn: (t) => console.log(t) } : silent,
      ...FAST,
      handler: async (msg) => {
        runs++;
        processed.add(msg.id);
        await sleep(1);
        return OK;
      },
    });
    await consumer.start();
    const producer = new RuleEngineProducer({ redisUrl: redis.url, queues: [main, sq] });
    const runId = async () => {
      const admin = createRedis(redis.url, { role: 'client', logger: silent });
      try {
        return /run_id:(\w+)/.exec(await admin.info('server'))?.[1];
      } finally {
        admin.disconnect();
      }
    };
    const before = await runId();
    let ackedWhenBack = -1;
    const acked: string[] = [];
    let refused = 0;
    let restarting: Promise<void> | undefined;
    try {
      for (let round = 0; round < 60; round++) {
        if (round === 20) restarting = redis.restart().then(() => void (ackedWhenBack = acked.length));
        await Promise.all(
          Array.from({ length: 20 }, (_, i) => {
            const msg = deviceMsg(`dev-${i}`, round * 20 + i, i % 2 === 0 ? main.name : sq.name);
            return producer.send(msg).then(
              () => void acked.push(msg.id),
              () => void refused++,
            );
          }),
        );
        await sleep(round >= 20 && round < 30 ? 100 : 20);
      }
      await restarting;
      await waitFor('every acknowledged message', () => acked.every((id) => processed.has(id)), 25_000);
    } finally {
      await producer.close();
      await consumer.close();
    }
    expect(await runId()).to.not.equal(before);
    expect(ackedWhenBack).to.be.within(0, 1100); // Redis was back while messages were still being sent
    console.log(`      (${acked.length} acknowledged, ${refused} refused while Redis was down, ${runs - processed.size} processed twice)`);
    // A send during the short outage either waits for the reconnection or is refused; never lost once resolved.
    expect(acked.length + refused).to.equal(1200);
    expect(acked.length).to.be.greaterThan(800);
  });
});
