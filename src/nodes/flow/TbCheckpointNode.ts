import { defineNode, FAILURE, type JsonObject, SUCCESS, tellFailure } from '../../engine/node-api.js';
import { DEFAULT_QUEUE, transformMsg } from '../../msg/tb-msg.js';

export interface CheckpointConfig {
  version?: number;
  /**
   * Only in configurations upgraded from version 0, where the queue was part of the
   * configuration. ThingsBoard's upgrade moves it to the node's queueName; ours only sees
   * the configuration, so it keeps the value here, and the node's own queueName (from
   * the export) wins when both are set.
   */
  queueName?: string;
}

/**
 * "checkpoint": moves the message to the node's queue (Main when it has none). The same
 * message (same id) is queued there to continue on this node's Success connections; once
 * it is safely queued the original is acknowledged. A failed enqueue → Failure.
 */
export const TbCheckpointNode = defineNode<CheckpointConfig>({
  type: 'org.thingsboard.rule.engine.flow.TbCheckpointNode',
  category: 'FLOW',
  uiName: 'checkpoint',
  version: 1,
  relations: [SUCCESS, FAILURE],
  configSchema: {
    type: 'object',
    properties: {
      version: { type: 'integer', default: 0 },
      queueName: { type: 'string' },
    },
  },
  defaultConfig: { version: 0 },
  upgrade(fromVersion: number, config: JsonObject): JsonObject {
    const out: JsonObject = { ...config };
    if (fromVersion === 0 && typeof out.queueName !== 'string') delete out.queueName;
    return out;
  },
  create(config, init) {
    // ThingsBoard resolves a missing queue name to Main.
    const queueName = init.queueName || config.queueName || DEFAULT_QUEUE;
    return {
      async onMsg(msg, ctx) {
        try {
          await ctx.enqueueForTellNext(transformMsg(msg, { queueName }), SUCCESS);
        } catch (e) {
          return tellFailure(msg, e);
        }
        ctx.ack();
        return undefined;
      },
    };
  },
});
