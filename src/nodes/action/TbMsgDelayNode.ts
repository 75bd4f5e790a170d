import { defineNode, errorText, FAILURE, NodeConfigError, SUCCESS, tellFailure } from '../../engine/node-api.js';
import { processPattern } from '../../engine/patterns.js';
import { copyMsg, type TbMsg } from '../../msg/tb-msg.js';

export interface MsgDelayConfig {
  /** ThingsBoard: an int; fractions allowed here, see the schema. */
  periodInSeconds: number;
  maxPendingMsgs: number;
  useMetadataPeriodInSecondsPatterns: boolean;
  periodInSecondsPattern?: string;
}

/** What ThingsBoard's NumberUtils.isParsable accepts: an optional minus, digits with at most one inner or leading dot. */
const PARSABLE = /^-?(\d+(\.\d+)?|\.\d+)$/;

/**
 * "delay (deprecated)": acknowledges the message, keeps it in memory for periodInSeconds
 * (or the number a pattern gives, e.g. ${delay}), then sends a copy with a new id on
 * Success through the queue. Above maxPendingMsgs waiting messages a message fails. As in
 * ThingsBoard the waiting messages are lost when the node is stopped (hence deprecated).
 */
export const TbMsgDelayNode = defineNode<MsgDelayConfig>({
  type: 'org.thingsboard.rule.engine.delay.TbMsgDelayNode',
  category: 'ACTION',
  uiName: 'delay (deprecated)',
  version: 0,
  relations: [SUCCESS, FAILURE],
  configSchema: {
    type: 'object',
    properties: {
      // ThingsBoard: an integer >= 0; fractions are accepted for sub-second delays.
      periodInSeconds: { type: 'number', minimum: 0, default: 60 },
      maxPendingMsgs: { type: 'integer', minimum: 1, maximum: 100000, default: 1000 },
      useMetadataPeriodInSecondsPatterns: { type: 'boolean', default: false },
      periodInSecondsPattern: { type: 'string' },
    },
  },
  defaultConfig: { periodInSeconds: 60, maxPendingMsgs: 1000, useMetadataPeriodInSecondsPatterns: false },
  create(config, init) {
    const pattern = config.periodInSecondsPattern ?? '';
    if (config.useMetadataPeriodInSecondsPatterns && pattern.trim() === '') {
      throw new NodeConfigError('periodInSecondsPattern is required when useMetadataPeriodInSecondsPatterns is true', '/periodInSecondsPattern');
    }
    const pending = new Set<NodeJS.Timeout>();

    const delayMsOf = (msg: TbMsg): number => {
      if (!config.useMetadataPeriodInSecondsPatterns) return config.periodInSeconds * 1000;
      const text = processPattern(pattern, msg);
      // ThingsBoard then reads an int (a fraction throws there); here fractions are seconds too.
      if (!PARSABLE.test(text)) throw new Error(`Can't parse period in seconds from metadata using pattern: ${pattern}`);
      return Math.max(0, Number(text) * 1000);
    };

    return {
      onMsg(msg, ctx) {
        if (pending.size >= config.maxPendingMsgs) return tellFailure(msg, 'Max limit of pending messages reached!');
        let delayMs: number;
        try {
          delayMs = delayMsOf(msg);
        } catch (e) {
          return tellFailure(msg, e);
        }
        const timer = setTimeout(() => {
          pending.delete(timer);
          ctx.enqueueForTellNext(copyMsg(msg), SUCCESS).catch((e: unknown) => {
            init.services.logger.warn(`"${init.self.name}": could not queue delayed message ${msg.id}: ${errorText(e)}`);
          });
        }, delayMs);
        pending.add(timer);
        ctx.ack();
        return undefined;
      },
      destroy() {
        for (const timer of pending) clearTimeout(timer);
        pending.clear();
      },
    };
  },
});
