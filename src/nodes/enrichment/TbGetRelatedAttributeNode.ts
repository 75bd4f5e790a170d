import { defineNode, FAILURE, requireStore, SUCCESS } from '../../engine/node-api.js';
import {
  checkDataMapping,
  defaultRelationsQuery,
  entityDataOnMsg,
  entityDataProperties,
  findFirstRelated,
  RELATIONS_QUERY_SCHEMA,
  upgradeEntityDataV0,
  type EntityDataConfig,
  type RelationsQueryConfig,
} from './entity-data-fetch.js';

export interface TbGetRelatedAttributeNodeConfig extends EntityDataConfig {
  relationsQuery: RelationsQueryConfig;
}

export const RELATED_ENTITY_NOT_FOUND = 'Failed to find related entity to message originator using relation query specified in the configuration!';

/**
 * Copies server attributes, latest time series or fields (dataToFetch) of the first entity the
 * relations query finds (oldest relation first) into the message, renamed by dataMapping.
 * No related entity: Failure. Fields that are null or empty are skipped, as in ThingsBoard.
 */
export const TbGetRelatedAttributeNode = defineNode<TbGetRelatedAttributeNodeConfig>({
  type: 'org.thingsboard.rule.engine.metadata.TbGetRelatedAttributeNode',
  category: 'ENRICHMENT',
  uiName: 'related entity data',
  version: 1,
  relations: [SUCCESS, FAILURE],
  configSchema: {
    type: 'object',
    properties: { ...entityDataProperties({ serialNumber: 'sn' }), relationsQuery: RELATIONS_QUERY_SCHEMA },
  },
  defaultConfig: { dataMapping: { serialNumber: 'sn' }, dataToFetch: 'ATTRIBUTES', fetchTo: 'METADATA', relationsQuery: defaultRelationsQuery() },
  upgrade: upgradeEntityDataV0,
  create(config, init) {
    checkDataMapping(config.dataMapping);
    const store = requireStore(init);
    return {
      onMsg: entityDataOnMsg(store, config, async (tenantId, msg) => {
        const related = await findFirstRelated(store, tenantId, msg.originator, config.relationsQuery);
        if (!related) throw new Error(RELATED_ENTITY_NOT_FOUND);
        return related;
      }),
    };
  },
});
