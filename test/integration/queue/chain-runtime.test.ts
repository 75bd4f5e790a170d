import { expect } from 'chai';
import { defineNode, tellFailure, tellSuccess, type RuleNodeDefinition } from '../../../src/engine/node-api.js';
import { importChain } from '../../../src/engine/importer/import-chain.js';
import { NodeRegistry } from '../../../src/engine/registry.js';
import { ChainRuntime } from '../../../src/engine/runtime.js';
import type { TbMsg } from '../../../src/msg/tb-msg.js';
import { TbMsgTypeSwitchNode } from '../../../src/nodes/filter/TbMsgTypeSwitchNode.js';
import { RuleEngineConsumer } from '../../../src/queue/consumer.js';
import { chainHandler } from '../../../src/queue/pack.js';
import { RuleEngineProducer } from '../../../src/queue/producer.js';
import { chainDoc } from '../../helpers/chain-builder.js';
import { testServices } from '../../helpers/node-harness.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { deviceMsg, FAST, queue, silent, waitFor } from './queue-helpers.js';

describe('queue: with the chain runtime as handler', function () {
  this.timeout(20_000);
  let redis: TestRedis;
  before(async () => (redis = await startTestRedis()));
  after(() => redis.stop());

  it('runs queued messages through a rule chain; an unhandled Failure is retried per the strategy', async () => {
    const sunk: TbMsg[] = [];
    const failures = new Map<string, number>();
    // Fails a message the first time it sees it: the queue's RETRY_FAILED must bring it back.
    const FlakySink = defineNode<{ version?: number }>({
      type: 'test.FlakySink',
      category: 'ACTION',
      uiName: 'flaky sink',
      version: 0,
      relations: ['Success', 'Failure'],
      configSchema: { type: 'object' },
      defaultConfig: {},
      create: () => ({
        onMsg: (msg) => {
          const n = (failures.get(msg.id) ?? 0) + 1;
          failures.set(msg.id, n);
          if (n === 1 && (JSON.parse(msg.data) as { seq: number }).seq % 3 === 0) return tellFailure(msg, 'first time fails');
          sunk.push(msg);
          return tellSuccess(msg);
        },
      }),
    });
    const registry = new NodeRegistry([TbMsgTypeSwitchNode, FlakySink] as RuleNodeDefinition<unknown>[]);
    const doc = chainDoc(
      'root',
      [
        { type: 'org.thingsboard.rule.engine.filter.TbMsgTypeSwitchNode', name: 'switch' },
        { type: 'test.FlakySink', name: 'sink' },
      ],
      [[0, 1, 'Post telemetry']],
    );
    const imported = importChain(doc, { source: 'root.json', registry });
    if (!imported.ok) throw new Error(JSON.stringify(imported.issues));
    const runtime = new ChainRuntime({ services: testServices(), maxNodeExecutionsPerMessage: 50 });
    runtime.load([imported.chain]);
    runtime.setRootChain(imported.chain.id, 'tenant-1'); // deviceMsg() is from tenant-1

    const q = queue({ name: 'Main', partitions: 2, processingStrategy: { type: 'RETRY_FAILED', retries: 2 } });
    const consumer = new RuleEngineConsumer({ redisUrl: redis.url, queues: [q], handler: chainHandler(runtime), logger: silent, ...FAST });
    const producer = new RuleEngineProducer({ redisUrl: redis.url, queues: [q] });
    try {
      await consumer.start();
      await Promise.all(Array.from({ length: 30 }, (_, i) => producer.send(deviceMsg(`dev-${i % 4}`, i))));
      await waitFor('all sunk', () => sunk.length === 30);
      expect(new Set(sunk.map((m) => m.id)).size).to.equal(30);
      expect(consumer.stats()).to.include({ succeeded: 30, failed: 10, skipped: 0 });
    } finally {
      await producer.close();
      await consumer.close();
      await runtime.close();
    }
  });
});
