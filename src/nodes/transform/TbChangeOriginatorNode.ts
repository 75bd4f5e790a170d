import { defineNode, FAILURE, NodeConfigError, requireStore, SUCCESS, tellSuccess } from '../../engine/node-api.js';
import { processPattern } from '../../engine/patterns.js';
import { entityNormalName, isEntityType, type EntityId, type EntityType } from '../../msg/entity.js';
import { isPlainObject, parseMsgData, transformMsg, type TbMsg } from '../../msg/tb-msg.js';
import { idOf, isNullUuid } from '../../store/ids.js';
import type { Store } from '../../store/store.js';
import {
  defaultRelationsQuery,
  findCustomerId,
  findFirstRelated,
  orFailure,
  RELATIONS_QUERY_SCHEMA,
  tenantOf,
  type RelationsQueryConfig,
} from '../enrichment/entity-data-fetch.js';

export type OriginatorSource = 'CUSTOMER' | 'TENANT' | 'RELATED' | 'ALARM_ORIGINATOR' | 'ENTITY';
export const ORIGINATOR_SOURCES: readonly OriginatorSource[] = ['CUSTOMER', 'TENANT', 'RELATED', 'ALARM_ORIGINATOR', 'ENTITY'];

export interface TbChangeOriginatorNodeConfig {
  originatorSource: OriginatorSource;
  /** RELATED: the first entity this query finds. */
  relationsQuery: RelationsQueryConfig;
  /** ENTITY: the type of the entity looked up by name. */
  entityType?: string;
  /** ENTITY: its name (device), title (customer) or e-mail (user); patterns allowed. */
  entityNamePattern?: string;
}

export const NEW_ORIGINATOR_NOT_FOUND = 'Failed to find new originator!';

/** ThingsBoard's EntitiesByNameAndTypeLoader types, plus CUSTOMER (by title), which rpc-chains adds. */
const ENTITY_SOURCE_TYPES: readonly EntityType[] = ['DEVICE', 'ASSET', 'ENTITY_VIEW', 'EDGE', 'USER', 'CUSTOMER'];

/** ENTITY source: the entity of that type whose name is `name` in the tenant; ThingsBoard's error when none. */
async function findByName(store: Store, tenantId: string, type: EntityType, name: string): Promise<EntityId> {
  let found: EntityId | null;
  switch (type) {
    case 'DEVICE':
      found = (await store.devices.findByName(tenantId, name))?.id ?? null;
      break;
    case 'CUSTOMER':
      found = (await store.customers.findByTitle(tenantId, name))?.id ?? null;
      break;
    case 'USER': {
      const user = await store.users.findByEmail(name);
      found = user !== null && user.tenantId.id === tenantId ? user.id : null;
      break;
    }
    default:
      // ASSET, ENTITY_VIEW, EDGE: valid in ThingsBoard, but this store does not keep them.
      throw new Error(`Entity type ${type} is not supported: this store does not keep ${type} entities`);
  }
  if (found === null) throw new Error(`Failed to find ${entityNormalName(type).toLowerCase()} with name '${name}'!`);
  return found;
}

/**
 * ALARM_ORIGINATOR: the originator of the alarm that is the message's originator, read from the
 * store (ThingsBoard's way); an alarm the store does not have is taken from the message data,
 * where alarm messages carry the alarm JSON with its originator.
 */
async function alarmOriginator(store: Store, tenantId: string, msg: TbMsg): Promise<EntityId | null> {
  if (msg.originator.entityType !== 'ALARM') throw new Error(`Unexpected originator EntityType ${msg.originator.entityType}`);
  const alarm = await store.alarms.get(tenantId, msg.originator.id);
  if (alarm) return alarm.originator;
  const data = parseMsgData(msg);
  const originator = isPlainObject(data) ? data.originator : undefined;
  if (isPlainObject(originator) && isEntityType(originator.entityType) && typeof originator.id === 'string') {
    return idOf(originator.entityType, originator.id);
  }
  return null;
}

/**
 * Replaces the message originator (same message id) with the originator's customer, the tenant,
 * a related entity, an alarm's originator or an entity found by name. RELATED takes the entity of
 * the oldest matching relation: ThingsBoard's pick among several is arbitrary, rpc-chains' is
 * deterministic (beyond-thingsboard #10). Nothing found: Failure.
 */
export const TbChangeOriginatorNode = defineNode<TbChangeOriginatorNodeConfig>({
  type: 'org.thingsboard.rule.engine.transform.TbChangeOriginatorNode',
  category: 'TRANSFORMATION',
  uiName: 'change originator',
  version: 0,
  relations: [SUCCESS, FAILURE],
  configSchema: {
    type: 'object',
    properties: {
      originatorSource: { type: 'string', enum: ORIGINATOR_SOURCES, default: 'CUSTOMER' },
      relationsQuery: RELATIONS_QUERY_SCHEMA,
      entityType: { type: 'string' },
      entityNamePattern: { type: 'string' },
    },
  },
  defaultConfig: { originatorSource: 'CUSTOMER', relationsQuery: defaultRelationsQuery() },
  create(config, init) {
    const source = config.originatorSource;
    let entityType: EntityType | undefined;
    if (source === 'ENTITY') {
      // ThingsBoard's validateConfig texts.
      const type = config.entityType;
      if (type === undefined) throw new NodeConfigError("Entity type should be specified if 'Entity by name pattern' source is selected.", '/entityType');
      if (!config.entityNamePattern) {
        throw new NodeConfigError("Name pattern should be specified if 'Entity by name pattern' source is selected.", '/entityNamePattern');
      }
      if (!isEntityType(type) || !ENTITY_SOURCE_TYPES.includes(type)) throw new NodeConfigError(`Unexpected entity type ${type}`, '/entityType');
      entityType = type;
    }
    const store = requireStore(init);
    const namePattern = config.entityNamePattern ?? '';

    async function newOriginator(tenantId: string, msg: TbMsg): Promise<EntityId | null> {
      switch (source) {
        case 'CUSTOMER': {
          const customerId = await findCustomerId(store, tenantId, msg.originator);
          return customerId ? idOf('CUSTOMER', customerId) : null;
        }
        case 'TENANT':
          return idOf('TENANT', tenantId);
        case 'RELATED':
          return findFirstRelated(store, tenantId, msg.originator, config.relationsQuery);
        case 'ALARM_ORIGINATOR':
          return alarmOriginator(store, tenantId, msg);
        case 'ENTITY':
          return findByName(store, tenantId, entityType as EntityType, processPattern(namePattern, msg));
      }
    }

    return {
      onMsg: (msg) =>
        orFailure(msg, async () => {
          const originator = await newOriginator(tenantOf(msg), msg);
          if (originator === null || isNullUuid(originator.id)) throw new Error(NEW_ORIGINATOR_NOT_FOUND);
          return tellSuccess(transformMsg(msg, { originator: { entityType: originator.entityType, id: originator.id } }));
        }),
    };
  },
});
