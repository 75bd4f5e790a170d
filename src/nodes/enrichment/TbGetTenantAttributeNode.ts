import { defineNode, FAILURE, requireStore, SUCCESS } from '../../engine/node-api.js';
import { idOf } from '../../store/ids.js';
import {
  checkAttributesOrTelemetry,
  checkDataMapping,
  entityDataOnMsg,
  entityDataProperties,
  upgradeEntityDataV0,
  type EntityDataConfig,
} from './entity-data-fetch.js';

export type TbGetTenantAttributeNodeConfig = EntityDataConfig;

/** Copies server attributes or latest time series of the message's tenant into the message, renamed by dataMapping. */
export const TbGetTenantAttributeNode = defineNode<TbGetTenantAttributeNodeConfig>({
  type: 'org.thingsboard.rule.engine.metadata.TbGetTenantAttributeNode',
  category: 'ENRICHMENT',
  uiName: 'tenant attributes',
  version: 1,
  relations: [SUCCESS, FAILURE],
  configSchema: { type: 'object', properties: entityDataProperties({ alarmThreshold: 'threshold' }) },
  defaultConfig: { dataMapping: { alarmThreshold: 'threshold' }, dataToFetch: 'ATTRIBUTES', fetchTo: 'METADATA' },
  upgrade: upgradeEntityDataV0,
  create(config, init) {
    checkDataMapping(config.dataMapping);
    checkAttributesOrTelemetry(config.dataToFetch);
    const store = requireStore(init);
    return { onMsg: entityDataOnMsg(store, config, (tenantId) => Promise.resolve(idOf('TENANT', tenantId))) };
  },
});
