import type { SchemaObject } from 'ajv';
import { defineNode, FAILURE, requireStore, SUCCESS } from '../../engine/node-api.js';
import type { EntityId } from '../../msg/entity.js';
import type { Store } from '../../store/store.js';
import {
  attributesOnMsg,
  defaultGetAttributesConfig,
  GET_ATTRIBUTES_PROPERTIES,
  upgradeFetchToData,
  type GetAttributesConfig,
} from './attribute-fetch.js';
import { DIRECTION_SCHEMA, type SearchDirection } from './entity-data-fetch.js';

/** ThingsBoard's DeviceRelationsQuery. */
export interface DeviceRelationsQueryConfig {
  direction?: SearchDirection;
  /** <= 0: unlimited */
  maxLevel: number;
  /** Relation type; null or absent means "Contains", empty means any type. */
  relationType?: string | null;
  /** Device types (device.type) to accept; as in ThingsBoard an empty list accepts none. */
  deviceTypes: string[];
  fetchLastLevelOnly: boolean;
}

export interface TbGetDeviceAttrNodeConfig extends GetAttributesConfig {
  deviceRelationsQuery: DeviceRelationsQueryConfig;
}

export const RELATED_DEVICE_NOT_FOUND =
  'Failed to find related device to message originator using relation query specified in the configuration!';

function defaultDeviceRelationsQuery(): DeviceRelationsQueryConfig {
  return { direction: 'FROM', maxLevel: 1, relationType: 'Contains', deviceTypes: ['default'], fetchLastLevelOnly: false };
}

const DEVICE_RELATIONS_QUERY_SCHEMA: SchemaObject = {
  type: 'object',
  properties: {
    direction: DIRECTION_SCHEMA,
    maxLevel: { type: 'integer', default: 1 },
    relationType: { type: ['string', 'null'] },
    deviceTypes: { type: 'array', items: { type: 'string' }, default: [] },
    fetchLastLevelOnly: { type: 'boolean', default: false },
  },
  default: defaultDeviceRelationsQuery(),
};

/**
 * ThingsBoard's EntitiesRelatedDeviceIdAsyncLoader (DeviceService.findDevicesByQuery): the first
 * related DEVICE, in relation creation order (oldest first), whose type is one of deviceTypes.
 */
export async function findRelatedDevice(store: Store, tenantId: string, root: EntityId, q: DeviceRelationsQueryConfig): Promise<EntityId | null> {
  const direction = q.direction;
  if (direction !== 'FROM' && direction !== 'TO') throw new Error('Unknown direction');
  const relations = await store.relations.findByQuery(tenantId, root, {
    direction,
    maxLevel: q.maxLevel,
    filters: [{ relationType: q.relationType ?? 'Contains', entityTypes: ['DEVICE'] }],
    fetchLastLevelOnly: q.fetchLastLevelOnly,
  });
  const types = new Set(q.deviceTypes);
  if (types.size === 0) return null;
  const ids = relations.map((r) => (direction === 'FROM' ? r.to : r.from)).filter((e) => e.entityType === 'DEVICE');
  // Concurrent reads share the connection (one round trip); a deleted device is skipped (ThingsBoard would fail on it).
  const devices = await Promise.all(ids.map((e) => store.devices.findById(tenantId, e.id)));
  return devices.find((d) => d !== null && types.has(d.type))?.id ?? null;
}

/** Like originator attributes, for the first device related to the originator. */
export const TbGetDeviceAttrNode = defineNode<TbGetDeviceAttrNodeConfig>({
  type: 'org.thingsboard.rule.engine.metadata.TbGetDeviceAttrNode',
  category: 'ENRICHMENT',
  uiName: 'related device attributes',
  version: 1,
  relations: [SUCCESS, FAILURE],
  configSchema: {
    type: 'object',
    properties: { ...GET_ATTRIBUTES_PROPERTIES, deviceRelationsQuery: DEVICE_RELATIONS_QUERY_SCHEMA },
  },
  defaultConfig: { ...defaultGetAttributesConfig(), deviceRelationsQuery: defaultDeviceRelationsQuery() },
  upgrade: upgradeFetchToData,
  create(config, init) {
    const store = requireStore(init);
    return {
      onMsg: attributesOnMsg(store, config, async (tenantId, msg) => {
        const device = await findRelatedDevice(store, tenantId, msg.originator, config.deviceRelationsQuery);
        if (!device) throw new Error(RELATED_DEVICE_NOT_FOUND);
        return device;
      }),
    };
  },
});
