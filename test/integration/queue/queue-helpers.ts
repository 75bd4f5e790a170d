// Shared bits of the queue integration tests.
import { newMsg, type TbMsg } from '../../../src/msg/tb-msg.js';
import type { MsgOutcome } from '../../../src/engine/runtime.js';
import { parseQueueConfig, type QueueConfig } from '../../../src/queue/queue-config.js';
import type { RuleEngineConsumerOptions } from '../../../src/queue/consumer.js';

export const OK: MsgOutcome = { status: 'success', nodeExecutions: 1 };
export const FAIL = (error = 'boom'): MsgOutcome => ({ status: 'failure', error, failures: 1, nodeExecutions: 1 });

/** Short timings so that failover happens within a test. */
export const FAST: Pick<RuleEngineConsumerOptions, 'leaseTtlMs' | 'lockDurationMs' | 'stalledIntervalMs'> = {
  leaseTtlMs: 1500,
  lockDurationMs: 1500,
  stalledIntervalMs: 500,
};

export const silent = { info: () => undefined, warn: () => undefined };

/** A message from device `device`, carrying `seq` in its data. */
export function deviceMsg(device: string, seq: number, queueName = 'Main'): TbMsg {
  return newMsg({
    type: 'POST_TELEMETRY_REQUEST',
    originator: { entityType: 'DEVICE', id: device },
    data: JSON.stringify({ seq }),
    queueName,
    tenantId: 'tenant-1',
  });
}

export function seqOf(msg: TbMsg): number {
  return (JSON.parse(msg.data) as { seq: number }).seq;
}

export function queue(overrides: Record<string, unknown> & { name: string }): QueueConfig {
  const { submitStrategy, processingStrategy, ...rest } = overrides;
  return parseQueueConfig({
    topic: `tb_rule_engine.${overrides.name.toLowerCase()}`,
    partitions: 4,
    packProcessingTimeout: 2000,
    submitStrategy: { type: 'BURST', batchSize: 100, ...(submitStrategy as object | undefined) },
    processingStrategy: {
      type: 'SKIP_ALL_FAILURES',
      retries: 3,
      failurePercentage: 0,
      pauseBetweenRetries: 0.05,
      maxPauseBetweenRetries: 0.05,
      ...(processingStrategy as object | undefined),
    },
    ...rest,
  });
}

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
