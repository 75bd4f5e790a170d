import { defineNode, FAILURE, requireStore, SUCCESS, tellFailure, tellSuccess } from '../../engine/node-api.js';
import { processPattern } from '../../engine/patterns.js';
import type { SearchDirection } from '../../store/relations.js';
import { relationEnds } from '../filter/TbCheckRelationNode.js';
import {
  checkTargetType,
  deleteOriginatorRelations,
  findTargetEntity,
  relationActionProperties,
  upgradeRelationActionConfig,
  type RelationTargetConfig,
} from './TbCreateRelationNode.js';
import { tenantOf } from './TbMsgTimeseriesNode.js';

export interface TbDeleteRelationNodeConfig extends RelationTargetConfig {
  /** true: only the relation with the configured entity; false: every relation of relationType in that direction. */
  deleteForSingleEntity: boolean;
  direction: SearchDirection;
  /** Patterns allowed. */
  relationType: string;
}

const FAILED = 'Failed to delete relation(s) with originator!';

/**
 * Deletes the originator's COMMON relations of relationType in `direction` (FROM: originator →
 * entity, TO: entity → originator): all of them, or with deleteForSingleEntity only the one
 * with the target found as in the create relation node. Nothing to delete is Success too.
 */
export const TbDeleteRelationNode = defineNode<TbDeleteRelationNodeConfig>({
  type: 'org.thingsboard.rule.engine.action.TbDeleteRelationNode',
  category: 'ACTION',
  uiName: 'delete relation',
  version: 1,
  relations: [SUCCESS, FAILURE],
  configSchema: {
    type: 'object',
    properties: {
      ...relationActionProperties,
      deleteForSingleEntity: { type: 'boolean', default: false },
    },
  },
  defaultConfig: { deleteForSingleEntity: false, direction: 'FROM', relationType: 'Contains', entityNamePattern: '' },
  upgrade: upgradeRelationActionConfig,
  create(config, init) {
    const store = requireStore(init);
    // The target type matters (and is checked) only for a single-entity delete, as in ThingsBoard.
    const targetType = config.deleteForSingleEntity ? checkTargetType(config.entityType) : null;
    return {
      async onMsg(msg) {
        try {
          const tenantId = tenantOf(msg);
          const relationType = processPattern(config.relationType, msg);
          let deleted: boolean;
          if (targetType === null) {
            deleted = await deleteOriginatorRelations(store, tenantId, msg.originator, config.direction, relationType);
          } else {
            const target = await findTargetEntity(store, tenantId, targetType, config, msg, false);
            const { from, to } = relationEnds(config.direction, msg.originator, target);
            deleted = (await store.relations.get(tenantId, from, to, relationType)) === null || (await store.relations.delete(tenantId, from, to, relationType));
          }
          return deleted ? tellSuccess(msg) : tellFailure(msg, FAILED);
        } catch (e) {
          return tellFailure(msg, e);
        }
      },
    };
  },
});
