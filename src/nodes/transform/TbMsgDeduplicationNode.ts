import {
  defineNode,
  type EnqueueForTellNext,
  errorText,
  FAILURE,
  type JsonObject,
  SUCCESS,
  tellFailure,
} from '../../engine/node-api.js';
import type { EntityId } from '../../msg/entity.js';
import { copyMsg, DEFAULT_QUEUE, newMsg, type TbMsg } from '../../msg/tb-msg.js';
import { entityKey } from '../../store/ids.js';

export type DeduplicationStrategy = 'FIRST' | 'LAST' | 'ALL';

export interface MsgDeduplicationConfig {
  /** The window in seconds (ThingsBoard: an int; fractions allowed here, see the schema). */
  interval: number;
  strategy: DeduplicationStrategy;
  /** The type of the ALL strategy's message; ThingsBoard's UI fills in POST_TELEMETRY_REQUEST. */
  outMsgType?: string;
  maxPendingMsgs: number;
  maxRetries: number;
  /** Only in configurations upgraded from version 0: see TbMsgGeneratorNode's MsgGeneratorConfig.queueName. */
  queueName?: string;
}

/** How long to wait before queueing an output again (ThingsBoard: 10 s). Tests shorten it. */
export const deduplicationTiming = { retryDelayMs: 10_000 };

interface Pending {
  readonly msg: TbMsg;
  /** The message's metadata ts, else its own ts (ThingsBoard's getMetaDataTs). */
  readonly ts: number;
  /** Sends the chosen message on from where the original was (its chain stack included). */
  readonly enqueue: EnqueueForTellNext;
}

interface Window {
  readonly originator: EntityId;
  readonly msgs: Pending[];
  timer: NodeJS.Timeout | null;
}

/**
 * "deduplication": per originator, keeps the messages (acknowledged) and, for each window
 * of `interval` seconds by their metadata ts, sends one message on Success through the
 * queue at the window's end: FIRST or LAST a copy (new id) of the earliest or latest one;
 * ALL a new message of type outMsgType whose data is the JSON array of every message's
 * {msg, metadata}. More than maxPendingMsgs waiting for one originator → Failure. A failed
 * enqueue is tried again up to maxRetries times.
 *
 * State is in memory per process, which is enough while one process owns an originator.
 * ThingsBoard too keeps it in the node's memory (per partition, lost on restart).
 */
export const TbMsgDeduplicationNode = defineNode<MsgDeduplicationConfig>({
  type: 'org.thingsboard.rule.engine.deduplication.TbMsgDeduplicationNode',
  category: 'TRANSFORMATION',
  uiName: 'deduplication',
  version: 1,
  relations: [SUCCESS, FAILURE],
  configSchema: {
    type: 'object',
    properties: {
      // ThingsBoard's UI asks for an integer >= 1; any positive number is accepted for sub-second windows.
      interval: { type: 'number', exclusiveMinimum: 0, default: 60 },
      strategy: { type: 'string', enum: ['FIRST', 'LAST', 'ALL'], default: 'FIRST' },
      outMsgType: { type: 'string' },
      maxPendingMsgs: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
      maxRetries: { type: 'integer', minimum: 0, maximum: 100, default: 3 },
      queueName: { type: 'string' },
    },
  },
  defaultConfig: { interval: 60, strategy: 'FIRST', maxPendingMsgs: 100, maxRetries: 3 },
  // ThingsBoard 0→1 moves queueName out of the configuration; see MsgDeduplicationConfig.queueName.
  upgrade(fromVersion: number, config: JsonObject): JsonObject {
    const out: JsonObject = { ...config };
    if (fromVersion === 0 && typeof out.queueName !== 'string') delete out.queueName;
    return out;
  },
  create(config, init) {
    const intervalMs = config.interval * 1000;
    const queueName = init.queueName ?? config.queueName ?? null;
    const outMsgType = config.outMsgType || 'POST_TELEMETRY_REQUEST';
    const windows = new Map<string, Window>();
    const retryTimers = new Set<NodeJS.Timeout>();
    let stopped = false;

    const enqueueWithRetry = (msg: TbMsg, enqueue: EnqueueForTellNext, attempt: number): void => {
      enqueue(msg, SUCCESS).catch((e: unknown) => {
        if (stopped) return;
        if (attempt < config.maxRetries) {
          const timer = setTimeout(() => {
            retryTimers.delete(timer);
            enqueueWithRetry(msg, enqueue, attempt + 1);
          }, deduplicationTiming.retryDelayMs);
          retryTimers.add(timer);
        } else {
          init.services.logger.warn(
            `"${init.self.name}": max retries [${config.maxRetries}] exhausted, dropping deduplication result message ${msg.id}: ${errorText(e)}`,
          );
        }
      });
    };

    const schedule = (key: string, w: Window) => {
      // ThingsBoard ticks 1 ms after the interval, so that a window that ends now is complete.
      w.timer ??= setTimeout(() => tick(key), intervalMs + 1);
    };

    const tick = (key: string) => {
      const w = windows.get(key);
      if (!w) return;
      w.timer = null;
      const now = Date.now();
      const outputs: { msg: TbMsg; enqueue: EnqueueForTellNext }[] = [];
      for (;;) {
        const start = earliest(w.msgs);
        if (start === null || start + intervalMs > now) break;
        const inPack = (p: Pending) => p.ts >= start && p.ts < start + intervalMs;
        const pack = w.msgs.filter(inPack);
        const rest = w.msgs.filter((p) => !inPack(p));
        w.msgs.length = 0;
        w.msgs.push(...rest);
        outputs.push(outputOf(pack, w.originator, now));
      }
      if (w.msgs.length > 0) schedule(key, w);
      else windows.delete(key);
      for (const o of outputs) enqueueWithRetry(o.msg, o.enqueue, 0);
    };

    const outputOf = (pack: Pending[], originator: EntityId, now: number): { msg: TbMsg; enqueue: EnqueueForTellNext } => {
      if (config.strategy === 'ALL') {
        const msg = newMsg({
          type: outMsgType,
          originator,
          tenantId: pack[0].msg.tenantId,
          queueName: queueName ?? DEFAULT_QUEUE,
          metaData: { ts: String(now) },
          data: JSON.stringify(pack.map((p) => ({ msg: dataValue(p.msg), metadata: p.msg.metaData }))),
        });
        return { msg, enqueue: init.enqueueForTellNext };
      }
      // Strict comparison as in ThingsBoard: among equal timestamps the one that came first wins.
      let chosen = pack[0];
      for (const p of pack) {
        if (config.strategy === 'FIRST' ? p.ts < chosen.ts : p.ts > chosen.ts) chosen = p;
      }
      return { msg: copyMsg(chosen.msg, queueName === null ? {} : { queueName }), enqueue: chosen.enqueue };
    };

    return {
      onMsg(msg, ctx) {
        const key = entityKey(msg.originator);
        let w = windows.get(key);
        if (!w) {
          w = { originator: msg.originator, msgs: [], timer: null };
          windows.set(key, w);
        }
        if (w.msgs.length >= config.maxPendingMsgs) {
          return tellFailure(msg, `[${init.self.id}] Max limit of pending messages reached for deduplication id: [${msg.originator.id}]`);
        }
        w.msgs.push({ msg, ts: metaDataTs(msg), enqueue: ctx.enqueueForTellNext });
        ctx.ack();
        schedule(key, w);
        return undefined;
      },
      destroy() {
        stopped = true;
        for (const w of windows.values()) if (w.timer) clearTimeout(w.timer);
        windows.clear();
        for (const timer of retryTimers) clearTimeout(timer);
        retryTimers.clear();
      },
    };
  },
});

function earliest(msgs: readonly Pending[]): number | null {
  let min: number | null = null;
  for (const p of msgs) if (min === null || p.ts < min) min = p.ts;
  return min;
}

/** ThingsBoard's TbMsg.getMetaDataTs: metadata "ts" when it is a whole number, else the message's ts. */
function metaDataTs(msg: TbMsg): number {
  const ts = msg.metaData.ts;
  return ts !== undefined && /^[+-]?\d+$/.test(ts) ? Number(ts) : msg.ts;
}

/** The message data as JSON; data that is not JSON (ThingsBoard would drop the window) is kept as a string. */
function dataValue(msg: TbMsg): unknown {
  try {
    return JSON.parse(msg.data) as unknown;
  } catch {
    return msg.data;
  }
}
