import { expect } from 'chai';
import {
  DEFAULT_QUEUES,
  needsPartitionOwner,
  parseQueueConfig,
  parseQueueConfigs,
  QueueConfigError,
} from '../../../src/queue/queue-config.js';

describe('queue: settings', () => {
  it('has ThingsBoard default queues', () => {
    expect(DEFAULT_QUEUES.map((q) => [q.name, q.topic, q.partitions, q.packProcessingTimeout])).to.deep.equal([
      ['Main', 'tb_rule_engine.main', 10, 2000],
      ['HighPriority', 'tb_rule_engine.hp', 10, 2000],
      ['SequentialByOriginator', 'tb_rule_engine.sq', 10, 2000],
    ]);
    const [main, hp, sq] = DEFAULT_QUEUES;
    expect(main.submitStrategy).to.deep.equal({ type: 'BURST', batchSize: 1000 });
    expect(main.processingStrategy).to.deep.include({ type: 'SKIP_ALL_FAILURES', retries: 3, pauseBetweenRetries: 3 });
    expect(hp.submitStrategy).to.deep.equal({ type: 'BURST', batchSize: 100 });
    expect(hp.processingStrategy).to.deep.include({ type: 'RETRY_FAILED_AND_TIMED_OUT', retries: 0, pauseBetweenRetries: 5 });
    expect(sq.submitStrategy).to.deep.equal({ type: 'SEQUENTIAL_BY_ORIGINATOR', batchSize: 100 });
    expect(sq.processingStrategy).to.deep.include({ type: 'RETRY_FAILED_AND_TIMED_OUT', retries: 3, pauseBetweenRetries: 5 });
    expect(DEFAULT_QUEUES.map(needsPartitionOwner)).to.deep.equal([false, false, true]);
    expect(Object.isFrozen(sq.processingStrategy)).to.equal(true);
    for (const q of DEFAULT_QUEUES) expect(parseQueueConfig(q)).to.deep.equal(q);
  });

  it('accepts a queue as ThingsBoard exports it, and fills defaults', () => {
    const q = parseQueueConfig({
      id: { entityType: 'QUEUE', id: '7a1c8a30-0000-0000-0000-000000000000' },
      createdTime: 1700000000000,
      tenantId: { entityType: 'TENANT', id: '13814000-1dd2-11b2-8080-808080808080' },
      name: 'Commands',
      topic: 'tb_rule_engine.commands',
      pollInterval: 25,
      partitions: 2,
      consumerPerPartition: true,
      packProcessingTimeout: 5000,
      submitStrategy: { type: 'SEQUENTIAL_BY_TENANT' },
      processingStrategy: { type: 'RETRY_ALL' },
      additionalInfo: { description: '', customProperties: '', duplicateMsgToAllPartitions: false },
    });
    expect(q.submitStrategy).to.deep.equal({ type: 'SEQUENTIAL_BY_TENANT', batchSize: 1000 });
    expect(q.processingStrategy).to.deep.equal({
      type: 'RETRY_ALL',
      retries: 3,
      failurePercentage: 0,
      pauseBetweenRetries: 3,
      maxPauseBetweenRetries: 3,
    });
  });

  it('names every problem', () => {
    let err: QueueConfigError | undefined;
    try {
      parseQueueConfigs([
        { name: 'A:b', topic: 't', partitions: 0, packProcessingTimeout: 1, submitStrategy: { type: 'FAST' }, processingStrategy: { type: 'RETRY_ALL' } },
        { name: 'M', topic: 't', submitStrategy: { type: 'BURST' }, processingStrategy: { type: 'RETRY_ALL', pauseBetweenRetries: 10, maxPauseBetweenRetries: 5 } },
        { name: 'M', topic: 't', submitStrategy: { type: 'BURST' }, processingStrategy: { type: 'SKIP_ALL_FAILURES' } },
      ]);
    } catch (e) {
      err = e as QueueConfigError;
    }
    expect(err).to.be.instanceOf(QueueConfigError);
    const text = err?.problems.join('\n') ?? '';
    expect(text).to.match(/\/0\/name must match pattern/);
    expect(text).to.match(/\/0\/partitions must be >= 1/);
    expect(text).to.match(/\/0\/submitStrategy\/type must be one of/);
    expect(text).to.match(/\/1\/processingStrategy\/maxPauseBetweenRetries must not be below/);
    expect(text).to.match(/\/2\/name "M" is used twice/);
  });
});
