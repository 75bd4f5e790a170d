// PackRetryPolicy.analyzeOutage: what an attempt made while Redis was unreachable retries.
import { expect } from 'chai';
import { newMsg, type TbMsg } from '../../../src/msg/tb-msg.js';
import { PackRetryPolicy } from '../../../src/queue/processing-strategy.js';
import { parseQueueConfig, type ProcessingStrategy } from '../../../src/queue/queue-config.js';

function strategy(type: ProcessingStrategy['type'], retries: number): ProcessingStrategy {
  return parseQueueConfig({
    name: 'Q',
    topic: 'q',
    partitions: 1,
    packProcessingTimeout: 1000,
    submitStrategy: { type: 'BURST', batchSize: 10 },
    processingStrategy: { type, retries, failurePercentage: 0, pauseBetweenRetries: 0, maxPauseBetweenRetries: 0 },
  }).processingStrategy;
}

const msgs = (n: number): TbMsg[] => Array.from({ length: n }, (_, i) => newMsg({ type: 'T', originator: { entityType: 'DEVICE', id: `d${i}` }, data: `{"i":${i}}` }));

describe('queue: the processing strategy when Redis was unreachable during an attempt', () => {
  it('SKIP_ALL_FAILURES retries the failed and never-started messages, leaves the still-running timed-out ones', () => {
    const [ok, failed, timedOut, notStarted] = msgs(4) as [TbMsg, TbMsg, TbMsg, TbMsg];
    const policy = new PackRetryPolicy(strategy('SKIP_ALL_FAILURES', 3));
    const d = policy.analyzeOutage({ succeeded: [ok], failed: [failed], timedOut: [timedOut], notStarted: [notStarted] }, [ok, failed, timedOut, notStarted], false);
    expect(d.commit).to.equal(false);
    if (d.commit) return;
    expect(d.reprocess).to.deep.equal([failed, notStarted]);
    expect(d.skipped).to.deep.equal([timedOut]);
    // The same attempt with Redis up: skipped, as ThingsBoard does.
    const normal = new PackRetryPolicy(strategy('SKIP_ALL_FAILURES', 3)).analyze({ succeeded: [ok], failed: [failed], timedOut: [timedOut], notStarted: [notStarted] }, [ok, failed, timedOut, notStarted]);
    expect(normal).to.deep.equal({ commit: true, skipped: [failed, timedOut, notStarted] });
  });

  it('retries abandoned timed-out messages too, and does not use up the strategy’s retries', () => {
    const [a, b] = msgs(2) as [TbMsg, TbMsg];
    const policy = new PackRetryPolicy(strategy('RETRY_FAILED', 1));
    for (let i = 0; i < 5; i++) {
      const d = policy.analyzeOutage({ succeeded: [], failed: [a], timedOut: [b], notStarted: [] }, [a, b], true);
      expect(d.commit, `outage attempt ${i}`).to.equal(false);
    }
    expect(policy.state.retries).to.equal(0);
    // Redis up again: the strategy's one retry is still there, then it gives up.
    expect(policy.analyze({ succeeded: [b], failed: [a], timedOut: [], notStarted: [] }, [a, b]).commit).to.equal(false);
    expect(policy.analyze({ succeeded: [], failed: [a], timedOut: [], notStarted: [] }, [a])).to.deep.equal({ commit: true, skipped: [a] });
  });

  it('with nothing it may retry, decides as the strategy does', () => {
    const [a] = msgs(1) as [TbMsg];
    const d = new PackRetryPolicy(strategy('SKIP_ALL_FAILURES', 3)).analyzeOutage({ succeeded: [], failed: [], timedOut: [a], notStarted: [] }, [a], false);
    expect(d).to.deep.equal({ commit: true, skipped: [a] });
  });
});
