import { defineNode, FAILURE, FALSE, tell, TRUE } from '../../engine/node-api.js';
import { ENTITY_TYPE_NAMES, type EntityType } from '../../msg/entity.js';

export interface TbOriginatorTypeFilterNodeConfig {
  originatorTypes: EntityType[];
}

/** True when the originator's entity type is one of `originatorTypes`, else False. */
export const TbOriginatorTypeFilterNode = defineNode<TbOriginatorTypeFilterNodeConfig>({
  type: 'org.thingsboard.rule.engine.filter.TbOriginatorTypeFilterNode',
  category: 'FILTER',
  uiName: 'entity type filter',
  version: 0,
  relations: [TRUE, FALSE, FAILURE],
  configSchema: {
    type: 'object',
    properties: {
      // ThingsBoard deserializes into EntityType, so an unknown name fails the node's init.
      originatorTypes: { type: 'array', items: { type: 'string', enum: ENTITY_TYPE_NAMES }, default: ['DEVICE'] },
    },
  },
  defaultConfig: { originatorTypes: ['DEVICE'] },
  create(config) {
    const types = new Set<string>(config.originatorTypes);
    return { onMsg: (msg) => tell(msg, types.has(msg.originator.entityType) ? TRUE : FALSE) };
  },
});
