// Processes one pack to its end: attempts, the processing strategy's verdict, pauses between retries.
import type { TbMsg } from '../msg/tb-msg.js';
import { orderingKey } from './partitions.js';
import type { MsgHandler, PackSummary, RetryState } from './pack.js';
import { abandonsTimedOut, PackRetryPolicy, retriesFailures } from './processing-strategy.js';
import type { QueueConfig } from './queue-config.js';
import type { StoreOutages } from './store-reachability.js';
import { runAttempt } from './submit-strategy.js';

export interface PackHooks {
  /**
   * Asked before each retry: a reason to stop here (consumer closing, partition lost), or undefined
   * to go on. When stopping, the messages still to do are handed back.
   */
  readonly stopReason: () => string | undefined;
  /** Waits `ms`; resolves false if woken early because the pack should stop. */
  readonly pause: (ms: number) => Promise<boolean>;
  readonly onFailure?: (msg: TbMsg, error: string) => void;
  /**
   * Whether Redis was reachable during each attempt: when it was not, the unsuccessful messages
   * are retried once it is back, outside the processing strategy's limits (issue #7).
   */
  readonly store?: StoreOutages;
  /** Waits until Redis is reachable; resolves false if woken early because the pack should stop. */
  readonly untilReachable?: () => Promise<boolean>;
  /** Told when an attempt is retried because Redis was unreachable. */
  readonly onOutageRetry?: (messages: number) => void;
}

export type PackOutcome =
  | { readonly kind: 'done'; readonly summary: PackSummary }
  /** Stopped between attempts: these messages still need processing, with this retry state. */
  | { readonly kind: 'handBack'; readonly remaining: readonly TbMsg[]; readonly state: RetryState; readonly reason: string };

export async function processPack(
  queue: QueueConfig,
  handler: MsgHandler,
  msgs: readonly TbMsg[],
  saved: RetryState | undefined,
  hooks: PackHooks,
): Promise<PackOutcome> {
  const policy = new PackRetryPolicy(queue.processingStrategy, saved);
  const holdBack = retriesFailures(queue.processingStrategy);
  const abandon = abandonsTimedOut(queue.processingStrategy);
  const keyOf = (m: TbMsg) => orderingKey(m, queue);
  let todo = msgs;
  let succeeded = 0;
  let failed = 0;
  let timedOut = 0;
  let skipped = 0;
  for (let attempt = (saved?.retries ?? 0) + 1; ; attempt++) {
    const mark = hooks.store?.mark();
    const result = await runAttempt(todo, {
      submit: queue.submitStrategy,
      keyOf,
      handler,
      timeoutMs: queue.packProcessingTimeout,
      holdBackAfterFailure: holdBack,
      abandonTimedOut: abandon,
      attempt,
      ...(hooks.onFailure ? { onFailure: hooks.onFailure } : {}),
    });
    succeeded += result.succeeded.length;
    failed += result.failed.length;
    timedOut += result.timedOut.length;
    const unsuccessful = result.failed.length + result.timedOut.length + result.notStarted.length;
    const outage = mark !== undefined && unsuccessful > 0 && hooks.store?.unreachableSince(mark) === true;
    const decision = outage ? policy.analyzeOutage(result, todo, abandon) : policy.analyze(result, todo);
    skipped += decision.skipped.length;
    if (decision.commit) return { kind: 'done', summary: { succeeded, failed, timedOut, skipped, attempts: attempt } };
    // RETRY_ALL runs successful messages again; count each message's success once, at the end.
    if (queue.processingStrategy.type === 'RETRY_ALL') {
      const again = new Set(decision.reprocess);
      succeeded -= result.succeeded.filter((m) => again.has(m)).length;
    }
    todo = decision.reprocess;
    if (outage) hooks.onOutageRetry?.(todo.length);
    let reason = hooks.stopReason();
    if (reason === undefined && outage && hooks.untilReachable && !(await hooks.untilReachable())) reason = hooks.stopReason() ?? 'interrupted';
    if (reason === undefined && !(await hooks.pause(decision.pauseMs))) reason = hooks.stopReason() ?? 'interrupted';
    if (reason !== undefined) return { kind: 'handBack', remaining: todo, state: policy.state, reason };
  }
}
