// What to do with a pack after an attempt: commit it, or retry some of its messages after a pause.
// Follows ThingsBoard's TbRuleEngineProcessingStrategyFactory.
import type { TbMsg } from '../msg/tb-msg.js';
import type { RetryState } from './pack.js';
import type { ProcessingStrategy } from './queue-config.js';

/** One attempt on a pack, each message in exactly one list, in pack order. */
export interface AttemptResult {
  readonly succeeded: readonly TbMsg[];
  readonly failed: readonly TbMsg[];
  /** Started but not done when the pack timeout struck. */
  readonly timedOut: readonly TbMsg[];
  /** Never started: the timeout struck first, or they wait behind a failed message of the same originator. */
  readonly notStarted: readonly TbMsg[];
}

/** commit: the pack is done; skipped = given up on. Otherwise retry `reprocess` after `pauseMs`. */
export type Decision =
  | { readonly commit: true; readonly skipped: readonly TbMsg[] }
  | {
      readonly commit: false;
      readonly reprocess: readonly TbMsg[];
      /** Unsuccessful messages this strategy does not retry (e.g. timed out under RETRY_FAILED). */
      readonly skipped: readonly TbMsg[];
      readonly pauseMs: number;
    };

interface Flags {
  readonly retrySucceeded: boolean;
  readonly retryFailed: boolean;
  readonly retryTimedOut: boolean;
}

const FLAGS: Record<ProcessingStrategy['type'], Flags | null> = {
  SKIP_ALL_FAILURES: null,
  SKIP_ALL_FAILURES_AND_TIMED_OUT: null,
  RETRY_ALL: { retrySucceeded: true, retryFailed: true, retryTimedOut: true },
  RETRY_FAILED: { retrySucceeded: false, retryFailed: true, retryTimedOut: false },
  RETRY_TIMED_OUT: { retrySucceeded: false, retryFailed: false, retryTimedOut: true },
  RETRY_FAILED_AND_TIMED_OUT: { retrySucceeded: false, retryFailed: true, retryTimedOut: true },
};

/** Whether failed messages get another attempt (then a failure must hold back the originator's later messages). */
export function retriesFailures(strategy: ProcessingStrategy): boolean {
  return FLAGS[strategy.type]?.retryFailed ?? false;
}

/**
 * Whether timed-out messages are abandoned (their handler's signal aborted). ThingsBoard lets them
 * run on only under SKIP_ALL_FAILURES (isSkipTimeoutMsgs() is false only there).
 */
export function abandonsTimedOut(strategy: ProcessingStrategy): boolean {
  return strategy.type !== 'SKIP_ALL_FAILURES';
}

/** The retry bookkeeping of one pack (a fresh one per pack, as ThingsBoard makes a new strategy instance). */
export class PackRetryPolicy {
  private retries: number;
  private pauseMs: number;
  private initialTotal: number;

  constructor(
    private readonly strategy: ProcessingStrategy,
    saved?: RetryState,
  ) {
    this.retries = saved?.retries ?? 0;
    this.pauseMs = saved?.pauseMs ?? strategy.pauseBetweenRetries * 1000;
    this.initialTotal = saved?.initialTotal ?? 0;
  }

  get state(): RetryState {
    return { retries: this.retries, pauseMs: this.pauseMs, initialTotal: this.initialTotal };
  }

  analyze(result: AttemptResult, attempted: readonly TbMsg[]): Decision {
    const { failed, timedOut, notStarted } = result;
    const unsuccessful = failed.length + timedOut.length + notStarted.length;
    if (unsuccessful === 0) return { commit: true, skipped: [] };
    const flags = FLAGS[this.strategy.type];
    const giveUp = (): Decision => ({ commit: true, skipped: [...failed, ...timedOut, ...notStarted] });
    if (flags === null) return giveUp();

    if (this.retries === 0 && this.initialTotal === 0) this.initialTotal = attempted.length;
    this.retries++;
    const { retries: maxRetries, failurePercentage } = this.strategy;
    if (maxRetries > 0 && this.retries > maxRetries) return giveUp();
    // ThingsBoard compares a ratio with the percentage (so its check never fires for >= 1%); we compare percents.
    if (failurePercentage > 0 && (unsuccessful * 100) / this.initialTotal > failurePercentage) return giveUp();

    const again = new Set<TbMsg>(notStarted); // never ran: they go whenever anything goes again
    if (flags.retryFailed) for (const m of failed) again.add(m);
    if (flags.retryTimedOut) for (const m of timedOut) again.add(m);
    if (flags.retrySucceeded) for (const m of result.succeeded) again.add(m);
    if (again.size === 0) return giveUp();

    return this.retry(result, attempted, again);
  }

  /**
   * An attempt during which the store (Redis) was unreachable. Its failed and never-started
   * messages go again, whatever the strategy, without using up its retries or failure percentage:
   * the failure says nothing about the messages, and a message acknowledged to a device must not
   * be skipped because Redis blinked. Timed-out messages go again when the strategy abandoned them;
   * under SKIP_ALL_FAILURES they still run (their writes wait for Redis) and are left to finish.
   * With nothing to retry, the strategy decides as usual.
   */
  analyzeOutage(result: AttemptResult, attempted: readonly TbMsg[], timedOutAbandoned: boolean): Decision {
    const again = new Set<TbMsg>([...result.failed, ...result.notStarted, ...(timedOutAbandoned ? result.timedOut : [])]);
    if (again.size === 0) return this.analyze(result, attempted);
    if (this.retries === 0 && this.initialTotal === 0) this.initialTotal = attempted.length;
    const flags = FLAGS[this.strategy.type];
    if (flags?.retrySucceeded) for (const m of result.succeeded) again.add(m);
    // The wait for Redis is the pause: it neither backs the strategy's pause off nor adds to it.
    return this.retry(result, attempted, again, 'outage');
  }

  private retry(result: AttemptResult, attempted: readonly TbMsg[], again: ReadonlySet<TbMsg>, cause: 'failure' | 'outage' = 'failure'): Decision {
    const pauseMs = cause === 'outage' ? 0 : this.pauseMs;
    const maxPauseMs = this.strategy.maxPauseBetweenRetries * 1000;
    if (cause === 'failure' && pauseMs > 0 && maxPauseMs > pauseMs) this.pauseMs = Math.min(maxPauseMs, pauseMs * 2);
    const ok = new Set(result.succeeded);
    return {
      commit: false,
      reprocess: attempted.filter((m) => again.has(m)),
      skipped: attempted.filter((m) => !again.has(m) && !ok.has(m)),
      pauseMs,
    };
  }
}
