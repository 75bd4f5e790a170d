import { defineNode, FAILURE, tell } from '../../engine/node-api.js';
import { MSG_TYPES, switchRelationOf } from '../../msg/msg-types.js';

/** Routes each message by its type, on the relation ThingsBoard names for it ("Post telemetry", ...); custom types go to "Other". */
export const TbMsgTypeSwitchNode = defineNode<{ version?: number }>({
  type: 'org.thingsboard.rule.engine.filter.TbMsgTypeSwitchNode',
  category: 'FILTER',
  uiName: 'message type switch',
  version: 0,
  relations: [...new Set(MSG_TYPES.filter((t) => !t.tellSelfOnly).map((t) => t.switchRelation)), 'Other', FAILURE],
  configSchema: { type: 'object', properties: { version: { type: 'integer', default: 0 } } },
  defaultConfig: { version: 0 },
  create: () => ({
    onMsg: (msg) => tell(msg, switchRelationOf(msg.type)),
  }),
});
