import { defineNode, FAILURE, tell, tellFailure } from '../../engine/node-api.js';
import { ENTITY_TYPES, entityNormalName, isEntityType } from '../../msg/entity.js';

/** Routes each message on its originator's entity type name: "Device", "Asset", "Entity View", ... */
export const TbOriginatorTypeSwitchNode = defineNode<{ version?: number }>({
  type: 'org.thingsboard.rule.engine.filter.TbOriginatorTypeSwitchNode',
  category: 'FILTER',
  uiName: 'entity type switch',
  version: 0,
  relations: [...Object.values(ENTITY_TYPES), FAILURE],
  configSchema: { type: 'object', properties: { version: { type: 'integer', default: 0 } } },
  defaultConfig: { version: 0 },
  create: () => ({
    onMsg(msg) {
      const type: unknown = msg.originator.entityType;
      // Messages built elsewhere are typed but not checked; an unknown type cannot be routed.
      if (!isEntityType(type)) return tellFailure(msg, `Unsupported originator entity type: ${String(type)}`);
      return tell(msg, entityNormalName(type));
    },
  }),
});
