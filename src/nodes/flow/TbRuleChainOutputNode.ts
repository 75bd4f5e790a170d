import { defineNode } from '../../engine/node-api.js';

/** "output": returns the message to the chain that called this one, on the relation named like this node. */
export const TbRuleChainOutputNode = defineNode<{ version?: number }>({
  type: 'org.thingsboard.rule.engine.flow.TbRuleChainOutputNode',
  category: 'FLOW',
  uiName: 'output',
  version: 0,
  relations: [],
  configSchema: { type: 'object', properties: { version: { type: 'integer', default: 0 } } },
  defaultConfig: { version: 0 },
  create: (_config, init) => ({
    onMsg: (msg) => ({ kind: 'exitChain', msg, relation: init.self.name }),
  }),
});
