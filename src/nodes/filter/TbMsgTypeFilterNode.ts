import { defineNode, FAILURE, FALSE, tell, TRUE } from '../../engine/node-api.js';

export interface TbMsgTypeFilterNodeConfig {
  /** Exact type strings; custom types are allowed, so no enum. */
  messageTypes: string[];
}

/** True when the message type is one of `messageTypes`, else False. */
export const TbMsgTypeFilterNode = defineNode<TbMsgTypeFilterNodeConfig>({
  type: 'org.thingsboard.rule.engine.filter.TbMsgTypeFilterNode',
  category: 'FILTER',
  uiName: 'message type filter',
  version: 0,
  relations: [TRUE, FALSE, FAILURE],
  configSchema: {
    type: 'object',
    properties: {
      messageTypes: {
        type: 'array',
        items: { type: 'string' },
        default: ['POST_ATTRIBUTES_REQUEST', 'POST_TELEMETRY_REQUEST', 'TO_SERVER_RPC_REQUEST'],
      },
    },
  },
  defaultConfig: { messageTypes: ['POST_ATTRIBUTES_REQUEST', 'POST_TELEMETRY_REQUEST', 'TO_SERVER_RPC_REQUEST'] },
  create(config) {
    const types = new Set(config.messageTypes);
    return { onMsg: (msg) => tell(msg, types.has(msg.type) ? TRUE : FALSE) };
  },
});
