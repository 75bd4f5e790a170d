import { defineNode, FAILURE, requireStore, SUCCESS, tellSuccess, type JsonObject } from '../../engine/node-api.js';
import {
  checkDataMapping,
  dataMappingSchema,
  dataObjectOf,
  Enrichment,
  entityFields,
  FETCH_TO_SCHEMA,
  orFailure,
  putFields,
  tenantOf,
  type FetchTo,
} from './entity-data-fetch.js';

export interface TbGetOriginatorFieldsNodeConfig {
  /**
   * Entity field (a dotted path into the entity as ThingsBoard serializes it: id, name, type,
   * label, title, email, createdTime, customerId, additionalInfo.description, ...) → target key
   * (patterns allowed). Fields the entity does not have are ignored.
   */
  dataMapping: Record<string, string>;
  /** Skip fields that are null or empty instead of writing "null" / "". */
  ignoreNullStrings: boolean;
  fetchTo: FetchTo;
}

/**
 * Version 0 → 1: `fieldsMapping` → `dataMapping`, fetchTo METADATA. A config without
 * `fieldsMapping` is left as it is (ThingsBoard keeps a config its upgrade cannot handle).
 */
function upgrade(fromVersion: number, config: JsonObject): JsonObject {
  if (fromVersion !== 0 || !('fieldsMapping' in config)) return config;
  const { fieldsMapping, ...rest } = config;
  return { ...rest, dataMapping: rest.dataMapping ?? fieldsMapping, fetchTo: rest.fetchTo ?? 'METADATA' };
}

/**
 * Copies fields of the originator (a tenant, customer, device, user or alarm of the store) into
 * the message metadata or data, as text.
 */
export const TbGetOriginatorFieldsNode = defineNode<TbGetOriginatorFieldsNodeConfig>({
  type: 'org.thingsboard.rule.engine.metadata.TbGetOriginatorFieldsNode',
  category: 'ENRICHMENT',
  uiName: 'originator fields',
  version: 1,
  relations: [SUCCESS, FAILURE],
  configSchema: {
    type: 'object',
    properties: {
      dataMapping: dataMappingSchema({ name: 'originatorName', type: 'originatorType' }),
      ignoreNullStrings: { type: 'boolean', default: false },
      fetchTo: FETCH_TO_SCHEMA,
    },
  },
  defaultConfig: { dataMapping: { name: 'originatorName', type: 'originatorType' }, ignoreNullStrings: false, fetchTo: 'METADATA' },
  upgrade,
  create(config, init) {
    checkDataMapping(config.dataMapping);
    const store = requireStore(init);
    return {
      onMsg: (msg) =>
        orFailure(msg, async () => {
          const tenantId = tenantOf(msg);
          const out = new Enrichment(msg, config.fetchTo, config.fetchTo === 'DATA' ? dataObjectOf(msg) : null);
          putFields(out, await entityFields(store, tenantId, msg.originator), config.dataMapping, msg, config.ignoreNullStrings);
          return tellSuccess(out.build());
        }),
    };
  },
});
