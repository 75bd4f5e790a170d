// One attempt on a pack: hands its messages to the handler as the submit strategy says, and sorts
// them into succeeded / failed / timed out / not started when all are done or the pack timeout strikes.
import type { TbMsg } from '../msg/tb-msg.js';
import type { MsgHandler, MsgHandlerContext } from './pack.js';
import type { AttemptResult } from './processing-strategy.js';
import type { SubmitStrategy } from './queue-config.js';

export interface AttemptOptions {
  readonly submit: SubmitStrategy;
  /** The ordering key (originator or tenant) for SEQUENTIAL_BY_ORIGINATOR / SEQUENTIAL_BY_TENANT. */
  readonly keyOf: (msg: TbMsg) => string;
  readonly handler: MsgHandler;
  readonly timeoutMs: number;
  /** In sequential strategies, a failure holds back that key's later messages (they must not overtake a retry). */
  readonly holdBackAfterFailure: boolean;
  /** Abort the signal of messages still running at the timeout. */
  readonly abandonTimedOut: boolean;
  readonly attempt: number;
  /** Where a failed message's error goes. */
  readonly onFailure?: (msg: TbMsg, error: string) => void;
}

const enum State {
  Idle,
  Running,
  Succeeded,
  Failed,
}

/** Per message: its state, and its abort controller, made only if the handler reads `signal`. */
class MsgRun implements MsgHandlerContext {
  state = State.Idle;
  private controller: AbortController | undefined;
  private settle: ((ok: boolean) => void) | undefined;
  readonly onAck: () => void;

  constructor(
    readonly msg: TbMsg,
    readonly attempt: number,
  ) {
    this.onAck = () => this.finish(true);
  }

  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  abort(reason: string): void {
    this.controller?.abort(new Error(reason));
  }

  /** Runs the handler; resolves true on success or ack, false on failure. Never rejects. */
  run(handler: MsgHandler, onFailure: ((msg: TbMsg, error: string) => void) | undefined): Promise<boolean> {
    this.state = State.Running;
    return new Promise<boolean>((resolve) => {
      this.settle = resolve;
      let outcome: ReturnType<MsgHandler>;
      try {
        outcome = handler(this.msg, this);
      } catch (e) {
        outcome = Promise.reject(e);
      }
      outcome.then(
        (o) => {
          if (o.status === 'failure' && this.state === State.Running) onFailure?.(this.msg, o.error);
          this.finish(o.status === 'success');
        },
        (e: unknown) => {
          if (this.state === State.Running) onFailure?.(this.msg, e instanceof Error ? e.message : String(e));
          this.finish(false);
        },
      );
    });
  }

  private finish(ok: boolean): void {
    if (this.state !== State.Running) return; // acked before the outcome, or already settled
    this.state = ok ? State.Succeeded : State.Failed;
    this.settle?.(ok);
  }
}

export async function runAttempt(msgs: readonly TbMsg[], opts: AttemptOptions): Promise<AttemptResult> {
  const runs = msgs.map((m) => new MsgRun(m, opts.attempt));
  let expired = false;
  const start = (r: MsgRun) => r.run(opts.handler, opts.onFailure);

  /** Runs a list one after another; stops at the timeout, or at a failure when holding back. */
  const inSequence = async (list: readonly MsgRun[]): Promise<void> => {
    for (const r of list) {
      if (expired) return;
      const ok = await start(r);
      if (!ok && opts.holdBackAfterFailure) return;
    }
  };

  let all: Promise<unknown>;
  switch (opts.submit.type) {
    case 'BURST':
      all = Promise.all(runs.map(start));
      break;
    case 'BATCH':
      all = (async () => {
        const size = opts.submit.batchSize;
        for (let i = 0; i < runs.length && !expired; i += size) await Promise.all(runs.slice(i, i + size).map(start));
      })();
      break;
    case 'SEQUENTIAL':
      all = inSequence(runs);
      break;
    case 'SEQUENTIAL_BY_ORIGINATOR':
    case 'SEQUENTIAL_BY_TENANT': {
      const byKey = new Map<string, MsgRun[]>();
      for (const r of runs) {
        const key = opts.keyOf(r.msg);
        const list = byKey.get(key);
        if (list) list.push(r);
        else byKey.set(key, [r]);
      }
      all = Promise.all([...byKey.values()].map(inSequence));
      break;
    }
  }

  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, opts.timeoutMs)));
  await Promise.race([all, timeout]);
  clearTimeout(timer);
  expired = true;

  const succeeded: TbMsg[] = [];
  const failed: TbMsg[] = [];
  const timedOut: TbMsg[] = [];
  const notStarted: TbMsg[] = [];
  for (const r of runs) {
    switch (r.state) {
      case State.Succeeded:
        succeeded.push(r.msg);
        break;
      case State.Failed:
        failed.push(r.msg);
        break;
      case State.Running:
        timedOut.push(r.msg);
        if (opts.abandonTimedOut) r.abort(`pack processing timeout (${opts.timeoutMs} ms)`);
        break;
      case State.Idle:
        notStarted.push(r.msg);
        break;
    }
  }
  return { succeeded, failed, timedOut, notStarted };
}
