import { defineNode, FAILURE } from '../../engine/node-api.js';

export interface RuleChainInputConfig {
  ruleChainId: string;
  forwardMsgToDefaultRuleChain: boolean;
}

/**
 * "rule chain": continues the message in another chain. The target's output nodes bring it
 * back here, on the relation named after the output node. Which chain ids mean is fixed at
 * import (see link-chains.ts); loops across chains are caught by the runtime's stack check.
 */
export const TbRuleChainInputNode = defineNode<RuleChainInputConfig>({
  type: 'org.thingsboard.rule.engine.flow.TbRuleChainInputNode',
  category: 'FLOW',
  uiName: 'rule chain',
  version: 1,
  relations: [FAILURE],
  customRelations: true,
  configSchema: {
    type: 'object',
    required: ['ruleChainId'],
    properties: {
      ruleChainId: { type: 'string', minLength: 1 },
      forwardMsgToDefaultRuleChain: { type: 'boolean', default: false },
    },
  },
  defaultConfig: { ruleChainId: '', forwardMsgToDefaultRuleChain: false },
  upgrade: (fromVersion, config) => (fromVersion === 0 ? { forwardMsgToDefaultRuleChain: false, ...config } : config),
  // forwardMsgToDefaultRuleChain needs the originator's device profile, which the store brings;
  // until then the configured chain (ThingsBoard's fallback) is used.
  create: (config) => ({
    onMsg: (msg) => ({ kind: 'enterChain', msg, chainId: config.ruleChainId }),
  }),
});
