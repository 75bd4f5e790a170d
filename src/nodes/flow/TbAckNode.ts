import { defineNode, FAILURE, SUCCESS, tellSuccess } from '../../engine/node-api.js';

/** Acknowledges the queue message right away, then goes on through Success. */
export const TbAckNode = defineNode<{ version?: number }>({
  type: 'org.thingsboard.rule.engine.flow.TbAckNode',
  category: 'FLOW',
  uiName: 'acknowledge',
  version: 0,
  relations: [SUCCESS, FAILURE],
  configSchema: { type: 'object', properties: { version: { type: 'integer', default: 0 } } },
  defaultConfig: { version: 0 },
  create: () => ({
    onMsg(msg, ctx) {
      ctx.ack();
      return tellSuccess(msg);
    },
  }),
});
