// Every node type rpc-chains runs: one file per node, one line here.
import type { RuleNodeDefinition } from '../engine/node-api.js';
import { NodeRegistry } from '../engine/registry.js';
import { TbCheckMessageNode } from './filter/TbCheckMessageNode.js';
import { TbJsFilterNode } from './filter/TbJsFilterNode.js';
import { TbJsSwitchNode } from './filter/TbJsSwitchNode.js';
import { TbMsgTypeFilterNode } from './filter/TbMsgTypeFilterNode.js';
import { TbMsgTypeSwitchNode } from './filter/TbMsgTypeSwitchNode.js';
import { TbOriginatorTypeFilterNode } from './filter/TbOriginatorTypeFilterNode.js';
import { TbOriginatorTypeSwitchNode } from './filter/TbOriginatorTypeSwitchNode.js';
import { TbCopyKeysNode } from './transform/TbCopyKeysNode.js';
import { TbDeleteKeysNode } from './transform/TbDeleteKeysNode.js';
import { TbJsonPathNode } from './transform/TbJsonPathNode.js';
import { TbRenameKeysNode } from './transform/TbRenameKeysNode.js';
import { TbSplitArrayMsgNode } from './transform/TbSplitArrayMsgNode.js';
import { TbTransformMsgNode } from './transform/TbTransformMsgNode.js';
import { TbLogNode } from './action/TbLogNode.js';
import { TbGetAttributesNode } from './enrichment/TbGetAttributesNode.js';
import { TbGetDeviceAttrNode } from './enrichment/TbGetDeviceAttrNode.js';
import { TbGetRelatedAttributeNode } from './enrichment/TbGetRelatedAttributeNode.js';
import { TbGetCustomerAttributeNode } from './enrichment/TbGetCustomerAttributeNode.js';
import { TbGetTenantAttributeNode } from './enrichment/TbGetTenantAttributeNode.js';
import { TbGetOriginatorFieldsNode } from './enrichment/TbGetOriginatorFieldsNode.js';
import { CalculateDeltaNode } from './enrichment/CalculateDeltaNode.js';
import { TbChangeOriginatorNode } from './transform/TbChangeOriginatorNode.js';
import { TbMsgTimeseriesNode } from './action/TbMsgTimeseriesNode.js';
import { TbMsgAttributesNode } from './action/TbMsgAttributesNode.js';
import { TbMsgDeleteAttributesNode } from './action/TbMsgDeleteAttributesNode.js';
import { TbCheckRelationNode } from './filter/TbCheckRelationNode.js';
import { TbDeviceTypeSwitchNode } from './filter/TbDeviceTypeSwitchNode.js';
import { TbCheckAlarmStatusNode } from './filter/TbCheckAlarmStatusNode.js';
import { TbDeviceStateNode } from './action/TbDeviceStateNode.js';
import { TbCreateRelationNode } from './action/TbCreateRelationNode.js';
import { TbDeleteRelationNode } from './action/TbDeleteRelationNode.js';
import { TbCreateAlarmNode } from './action/TbCreateAlarmNode.js';
import { TbClearAlarmNode } from './action/TbClearAlarmNode.js';
import { TbDeviceProfileNode } from './action/TbDeviceProfileNode.js';
import { TbMsgCountNode } from './action/TbMsgCountNode.js';
import { TbMsgGeneratorNode } from './action/TbMsgGeneratorNode.js';
import { TbMsgDelayNode } from './action/TbMsgDelayNode.js';
import { TbMsgDeduplicationNode } from './transform/TbMsgDeduplicationNode.js';
import { TbCheckpointNode } from './flow/TbCheckpointNode.js';
import { TbMqttNode } from './external/TbMqttNode.js';
import { TbRestApiCallNode } from './external/TbRestApiCallNode.js';
import { TbSendRPCRequestNode } from './action/TbSendRPCRequestNode.js';
import { TbSendRPCReplyNode } from './action/TbSendRPCReplyNode.js';
import { TbAckNode } from './flow/TbAckNode.js';
import { TbRuleChainInputNode } from './flow/TbRuleChainInputNode.js';
import { TbRuleChainOutputNode } from './flow/TbRuleChainOutputNode.js';

export const BUILTIN_NODES: readonly RuleNodeDefinition<unknown>[] = [
  TbMsgTypeSwitchNode,
  TbMsgTypeFilterNode,
  TbJsFilterNode,
  TbJsSwitchNode,
  TbCheckMessageNode,
  TbOriginatorTypeFilterNode,
  TbOriginatorTypeSwitchNode,
  TbTransformMsgNode,
  TbCopyKeysNode,
  TbRenameKeysNode,
  TbDeleteKeysNode,
  TbJsonPathNode,
  TbSplitArrayMsgNode,
  TbLogNode,
  TbRuleChainInputNode,
  TbRuleChainOutputNode,
  TbAckNode,
  TbGetAttributesNode,
  TbGetDeviceAttrNode,
  TbGetRelatedAttributeNode,
  TbGetCustomerAttributeNode,
  TbGetTenantAttributeNode,
  TbGetOriginatorFieldsNode,
  CalculateDeltaNode,
  TbChangeOriginatorNode,
  TbMsgTimeseriesNode,
  TbMsgAttributesNode,
  TbMsgDeleteAttributesNode,
  TbCheckRelationNode,
  TbDeviceTypeSwitchNode,
  TbCheckAlarmStatusNode,
  TbDeviceStateNode,
  TbCreateRelationNode,
  TbDeleteRelationNode,
  TbCreateAlarmNode,
  TbClearAlarmNode,
  TbDeviceProfileNode,
  TbMsgCountNode,
  TbMsgGeneratorNode,
  TbMsgDelayNode,
  TbMsgDeduplicationNode,
  TbCheckpointNode,
  TbMqttNode,
  TbRestApiCallNode,
  TbSendRPCRequestNode,
  TbSendRPCReplyNode,
];

export function builtinRegistry(): NodeRegistry {
  return new NodeRegistry(BUILTIN_NODES);
}
