// Redis crashes while the rule engine is processing acknowledged messages, and a rule node's write
// fails because of it (Save Timeseries through a fail-fast connection). Whatever the queue's
// processing strategy (SKIP_ALL_FAILURES skips failures; RETRY_FAILED with 1 retry gives up after
// it), such a message is retried once Redis is back, and stored: the failure was the store's, not
// the message's (issue #7). A message that fails with Redis up is still skipped as the strategy says.
import { expect } from 'chai';
import { importChain } from '../../../src/engine/importer/import-chain.js';
import { ChainRuntime, type MsgOutcome } from '../../../src/engine/runtime.js';
import type { TbMsg } from '../../../src/msg/tb-msg.js';
import { builtinRegistry } from '../../../src/nodes/index.js';
import { RuleEngineConsumer } from '../../../src/queue/consumer.js';
import type { MsgHandler } from '../../../src/queue/pack.js';
import { RuleEngineProducer } from '../../../src/queue/producer.js';
import { createRedis } from '../../../src/redis/connection.js';
import { Store } from '../../../src/store/store.js';
import { testServices } from '../../helpers/node-harness.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { ROOT_CHAIN } from '../reliability/telemetry.js';
import { deviceMsg, FAST, queue, silent, sleep, waitFor } from './queue-helpers.js';

const TENANT = 'tenant-1'; // deviceMsg() is from tenant-1

describe('queue: a rule node failing because Redis is down', function () {
  this.timeout(60_000);
  let redis: TestRedis;
  before(async () => {
    redis = await startTestRedis();
    // Every acknowledged pack survives the SIGKILL below.
    const admin = createRedis(redis.url, { role: 'client', logger: silent });
    await admin.config('SET', 'appendfsync', 'always');
    admin.disconnect();
  });
  after(() => redis.stop());

  it('is retried once Redis is back, under SKIP_ALL_FAILURES and past RETRY_FAILED’s retries; nothing acknowledged is lost', async () => {
    // The nodes write through a connection that fails fast while Redis is away (as the API's and
    // the RPC service's do), so that the outage reaches the chain as a node failure.
    const nodeRedis = createRedis(redis.url, { role: 'client', logger: silent });
    const store = new Store(nodeRedis);
    const imported = importChain(ROOT_CHAIN, { source: 'root', registry: builtinRegistry() });
    if (!imported.ok) throw new Error(JSON.stringify(imported.issues));
    const runtime = new ChainRuntime({ services: testServices({ store }), maxNodeExecutionsPerMessage: 50 });
    runtime.load([imported.chain]);
    runtime.setRootChain(imported.chain.id, TENANT);

    // Messages wait at the gate until Redis has been killed: their saves then fail.
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let waiting = 0;
    const failures: string[] = [];
    const handler: MsgHandler = async (msg, ctx) => {
      waiting++;
      await gate;
      const outcome: MsgOutcome = await runtime.process(msg, { onAck: ctx.onAck });
      if (outcome.status === 'failure') failures.push(outcome.error);
      return outcome;
    };
    const main = queue({ name: 'Main', partitions: 2, packProcessingTimeout: 20_000 });
    const retrying = queue({
      name: 'RetryOnce',
      partitions: 2,
      packProcessingTimeout: 20_000,
      processingStrategy: { type: 'RETRY_FAILED', retries: 1 },
    });
    const consumer = new RuleEngineConsumer({ redisUrl: redis.url, queues: [main, retrying], handler, logger: silent, ...FAST });
    const producerRedis = createRedis(redis.url, { role: 'client', logger: silent });
    const producer = new RuleEngineProducer({ redis: producerRedis, queues: [main, retrying] });
    // Each message saves its own key: one point = stored.
    const msgs: TbMsg[] = Array.from({ length: 40 }, (_, i) => ({ ...deviceMsg(`dev-${i % 4}`, i, i % 2 === 0 ? main.name : retrying.name), data: JSON.stringify({ [`m${i}`]: i }) }));
    const pointsOf = (m: TbMsg) => store.redis.zcard(store.keys.timeseries(m.originator, Object.keys(JSON.parse(m.data) as object)[0] as string));
    try {
      await consumer.start();
      await Promise.all(msgs.map((m) => producer.send(m))); // all acknowledged
      await waitFor('the packs to be taken', () => waiting >= msgs.length);
      await redis.kill();
      openGate();
      // Every message failed in Save Timeseries; Redis stays away a little longer than RetryOnce's
      // pause (50 ms), so that its one retry would fail too.
      await waitFor('the failures while Redis is down', () => failures.length >= msgs.length, 20_000);
      expect(failures.every((e) => /Save Timeseries/.test(e)), failures[0]).to.equal(true);
      await sleep(500);
      await redis.restart();

      await waitFor('every message stored', async () => (await Promise.all(msgs.map(pointsOf).map((p) => p.catch(() => 0)))).every((n) => n > 0), 30_000);
      expect(consumer.stats().skipped).to.equal(0);
      expect(consumer.stats().retriedAfterOutage).to.be.at.least(msgs.length);

      // With Redis up, a failure is the message's own: SKIP_ALL_FAILURES skips it as before.
      const broken = { ...deviceMsg('dev-x', 1000, main.name), data: 'not json' };
      const skippedBefore = consumer.stats().skipped;
      await producer.send(broken);
      await waitFor('the broken message skipped', () => consumer.stats().skipped > skippedBefore);
      expect(consumer.stats().skipped).to.equal(skippedBefore + 1);
    } finally {
      openGate();
      await producer.close();
      await consumer.close();
      await runtime.close();
      nodeRedis.disconnect();
      producerRedis.disconnect();
    }
  });
});
