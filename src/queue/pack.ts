// A pack: the unit a producer adds and a consumer takes, one BullMQ job holding several messages.
// One job per message costs BullMQ a Lua script on add and another on completion per message;
// a pack pays them once for up to a few hundred messages (see scripts/bench/pipeline.ts).
import type { TbMsg } from '../msg/tb-msg.js';
import type { MsgOutcome } from '../engine/runtime.js';

export const PACK_JOB_NAME = 'pack';

/** Where a pack's retries stand; saved in the job when a pack is handed back mid-retry. */
export interface RetryState {
  /** Retries done so far. */
  readonly retries: number;
  /** Pause before the next retry, ms (doubles up to the strategy's maximum). */
  readonly pauseMs: number;
  /** Messages in the pack before the first retry (the failure percentage is of these). */
  readonly initialTotal: number;
}

/** BullMQ job data. Short keys: this JSON is written for every pack. */
export interface PackData {
  /** Messages in the order they were sent. */
  readonly m: TbMsg[];
  readonly r?: RetryState;
}

/** The job's return value (kept in Redis until BullMQ removes the job). */
export interface PackSummary {
  readonly succeeded: number;
  readonly failed: number;
  readonly timedOut: number;
  /** Failed or timed-out messages given up on by the processing strategy. */
  readonly skipped: number;
  readonly attempts: number;
}

/** What a consumer gives the handler with each message. */
export interface MsgHandlerContext {
  /** Marks the message done now (TbAckNode, RPC request): the pack does not wait for the rest. */
  readonly onAck: () => void;
  /** Aborted when the message is given up on (timed out, consumer closing); handlers may stop early. */
  readonly signal: AbortSignal;
  /** 1 for the first attempt on this pack, 2 for the first retry, ... */
  readonly attempt: number;
}

/** Processes one message; the runtime's `process` fits: `(msg, ctx) => runtime.process(msg, { onAck: ctx.onAck })`. */
export type MsgHandler = (msg: TbMsg, ctx: MsgHandlerContext) => Promise<MsgOutcome>;

/** The chain runtime as a handler: a message is done when its chain ends or a node acks it. */
export function chainHandler(runtime: { process(msg: TbMsg, opts: { onAck?: () => void }): Promise<MsgOutcome> }): MsgHandler {
  return (msg, ctx) => runtime.process(msg, { onAck: ctx.onAck });
}

/** Job data read back from Redis, checked enough to fail clearly on a foreign job. */
export function readPack(data: unknown): PackData {
  if (typeof data !== 'object' || data === null || !Array.isArray((data as { m?: unknown }).m)) {
    throw new TypeError('queue job is not a message pack (expected {"m": [TbMsg, ...]})');
  }
  return data as PackData;
}
