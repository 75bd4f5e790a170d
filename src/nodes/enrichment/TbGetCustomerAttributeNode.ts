import { defineNode, FAILURE, requireStore, SUCCESS } from '../../engine/node-api.js';
import { idOf } from '../../store/ids.js';
import {
  checkAttributesOrTelemetry,
  checkDataMapping,
  entityDataOnMsg,
  entityDataProperties,
  findCustomerId,
  upgradeEntityDataV0,
  type EntityDataConfig,
} from './entity-data-fetch.js';

export type TbGetCustomerAttributeNodeConfig = EntityDataConfig;

/**
 * Copies server attributes or latest time series of the originator's customer (a CUSTOMER
 * originator is its own customer) into the message, renamed by dataMapping.
 */
export const TbGetCustomerAttributeNode = defineNode<TbGetCustomerAttributeNodeConfig>({
  type: 'org.thingsboard.rule.engine.metadata.TbGetCustomerAttributeNode',
  category: 'ENRICHMENT',
  uiName: 'customer attributes',
  version: 1,
  relations: [SUCCESS, FAILURE],
  configSchema: { type: 'object', properties: entityDataProperties({ alarmThreshold: 'threshold' }) },
  defaultConfig: { dataMapping: { alarmThreshold: 'threshold' }, dataToFetch: 'ATTRIBUTES', fetchTo: 'METADATA' },
  upgrade: upgradeEntityDataV0,
  create(config, init) {
    checkDataMapping(config.dataMapping);
    checkAttributesOrTelemetry(config.dataToFetch);
    const store = requireStore(init);
    return {
      onMsg: entityDataOnMsg(store, config, async (tenantId, msg) => {
        const customerId = await findCustomerId(store, tenantId, msg.originator);
        // ThingsBoard's texts.
        if (customerId === undefined) throw new Error('Originator not found');
        if (customerId === null) throw new Error('Originator is not assigned to any customer');
        return idOf('CUSTOMER', customerId);
      }),
    };
  },
});
