import {
  defineNode,
  FAILURE,
  type JsonObject,
  NodeConfigError,
  requireStore,
  SUCCESS,
  tellFailure,
  tellSuccess,
} from '../../engine/node-api.js';
import { processPattern } from '../../engine/patterns.js';
import type { EntityId } from '../../msg/entity.js';
import { transformMsg, type TbMsg } from '../../msg/tb-msg.js';
import { DuplicateError } from '../../store/errors.js';
import type { SearchDirection } from '../../store/relations.js';
import type { Customer } from '../../store/customers.js';
import type { Device } from '../../store/devices.js';
import type { Store } from '../../store/store.js';
import { MsgType } from '../../msg/msg-types.js';
import { enqueueEntityAction } from './entity-action-msg.js';
import { DIRECTIONS, flipDirection, relationEnds } from '../filter/TbCheckRelationNode.js';
import { tenantOf } from './TbMsgTimeseriesNode.js';

// ---------------------------------------------------------------------------------------------
// Shared with the delete relation node (ThingsBoard's TbAbstractRelationActionNode).

/** The target types ThingsBoard's relation action nodes accept, in its EntityType order (for its error text). */
export const RELATION_TARGET_TYPES = ['TENANT', 'CUSTOMER', 'USER', 'DASHBOARD', 'ASSET', 'DEVICE', 'ENTITY_VIEW', 'EDGE'] as const;
export type RelationTargetType = (typeof RELATION_TARGET_TYPES)[number];

/** The target types rpc-chains keeps; the others are accepted but every message fails with a reason. */
const STORED_TARGET_TYPES: readonly RelationTargetType[] = ['TENANT', 'CUSTOMER', 'USER', 'DEVICE'];

/** ThingsBoard's checkIfConfigEntityTypeIsSupported, a NodeConfigError at creation. */
export function checkTargetType(entityType: string | undefined): RelationTargetType {
  if (entityType === undefined || !(RELATION_TARGET_TYPES as readonly string[]).includes(entityType)) {
    throw new NodeConfigError(
      `Unsupported entity type '${entityType ?? 'null'}'! Only ${RELATION_TARGET_TYPES.join(' ,')} types are allowed.`,
      '/entityType',
    );
  }
  return entityType as RelationTargetType;
}

/** ThingsBoard's relation-node upgrade 0→1: only a config with entityCacheExpiration is v0; it loses the key and its direction flips. */
export function upgradeRelationActionConfig(fromVersion: number, config: JsonObject): JsonObject {
  if (fromVersion !== 0 || !Object.hasOwn(config, 'entityCacheExpiration')) return config;
  const { entityCacheExpiration: _dropped, ...rest } = config;
  return flipDirection(rest);
}

export interface RelationTargetConfig {
  entityType?: string;
  /** Name (DEVICE, ASSET, ENTITY_VIEW, EDGE), title (CUSTOMER, DASHBOARD) or e-mail (USER); patterns allowed. */
  entityNamePattern: string;
  /** Device profile name for a created DEVICE (patterns allowed); empty = the tenant's default profile. */
  entityTypePattern?: string;
}

/**
 * The entity the node relates the originator to, found in the message's tenant (ThingsBoard's
 * getTargetEntityId). With `create`, a missing DEVICE or CUSTOMER is created (a device with the
 * device profile named by entityTypePattern, created when missing, as ThingsBoard does).
 */
export async function findTargetEntity(
  store: Store,
  tenantId: string,
  type: RelationTargetType,
  config: RelationTargetConfig,
  msg: TbMsg,
  /** Creates a missing device or customer, then calls `created` with it (ENTITY_CREATED). */
  create: false | { created(entity: Device | Customer): Promise<void> },
): Promise<EntityId> {
  if (type === 'TENANT') return { entityType: 'TENANT', id: tenantId };
  if (!STORED_TARGET_TYPES.includes(type)) {
    throw new Error(`Entity type ${type} is not supported by rpc-chains: it keeps no ${type.toLowerCase()} entities`);
  }
  const name = processPattern(config.entityNamePattern, msg);
  switch (type) {
    case 'DEVICE': {
      const found = await store.devices.findByName(tenantId, name);
      if (found) return found.id;
      if (!create) throw new Error(`Device with name '${name}' doesn't exist!`);
      let device: Device;
      try {
        const profileName = processPattern(config.entityTypePattern ?? '', msg);
        const profileId = profileName.trim() === '' ? undefined : await deviceProfileIdOf(store, tenantId, profileName);
        device = await store.devices.create(tenantId, { name, type: profileId ? profileName : undefined, deviceProfileId: profileId });
      } catch (e) {
        // Another message created it meanwhile (and announced it).
        const again = await store.devices.findByName(tenantId, name);
        if (again) return again.id;
        throw new Error(`Failed to create device with name '${name}' due to: ${e instanceof Error ? e.message : String(e)}`);
      }
      await create.created(device);
      return device.id;
    }
    case 'CUSTOMER': {
      const found = await store.customers.findByTitle(tenantId, name);
      if (found) return found.id;
      if (!create) throw new Error(`Customer with title '${name}' doesn't exist!`);
      let customer: Customer;
      try {
        customer = await store.customers.create(tenantId, { title: name });
      } catch (e) {
        const again = await store.customers.findByTitle(tenantId, name);
        if (again) return again.id;
        throw new Error(`Failed to create customer with title '${name}' due to: ${e instanceof Error ? e.message : String(e)}`);
      }
      await create.created(customer);
      return customer.id;
    }
    default: {
      // USER, by e-mail: the e-mail index is global, so the user must also be of this tenant.
      const user = await store.users.findByEmail(name);
      if (user === null || user.tenantId.id !== tenantId) throw new Error(`User with email '${name}' doesn't exist!`);
      return user.id;
    }
  }
}

/** ThingsBoard's findOrCreateDeviceProfile by name. */
async function deviceProfileIdOf(store: Store, tenantId: string, name: string): Promise<string> {
  const found = await store.deviceProfiles.findByName(tenantId, name);
  if (found) return found.id.id;
  try {
    return (await store.deviceProfiles.create(tenantId, { name })).id.id;
  } catch (e) {
    if (!(e instanceof DuplicateError)) throw e;
    const again = await store.deviceProfiles.findByName(tenantId, name);
    if (!again) throw e;
    return again.id.id;
  }
}

/** Deletes every COMMON relation of `relationType` of the originator in `direction`; false when one had vanished meanwhile. */
export async function deleteOriginatorRelations(
  store: Store,
  tenantId: string,
  originator: EntityId,
  direction: SearchDirection,
  relationType: string,
): Promise<boolean> {
  const relations =
    direction === 'FROM'
      ? await store.relations.findByFromAndType(tenantId, originator, relationType)
      : await store.relations.findByToAndType(tenantId, originator, relationType);
  const deleted = await Promise.all(relations.map((r) => store.relations.delete(tenantId, r.from, r.to, r.type, r.typeGroup)));
  return deleted.every(Boolean);
}

// ---------------------------------------------------------------------------------------------

export interface TbCreateRelationNodeConfig extends RelationTargetConfig {
  direction: SearchDirection;
  /** Patterns allowed. */
  relationType: string;
  createEntityIfNotExists: boolean;
  removeCurrentRelations: boolean;
  changeOriginatorToRelatedEntity: boolean;
}

export const relationActionProperties = {
  direction: { type: 'string', enum: DIRECTIONS, default: 'FROM' },
  relationType: { type: 'string', default: 'Contains' },
  entityType: { type: 'string' },
  entityNamePattern: { type: 'string', default: '' },
  entityTypePattern: { type: 'string' },
} as const;

/**
 * Finds the target entity (entityType + entityNamePattern in the message's tenant; TENANT is the
 * tenant itself), optionally creating a missing DEVICE or CUSTOMER, and makes sure the COMMON
 * relation of relationType exists: FROM = originator → target, TO = target → originator.
 * removeCurrentRelations first deletes the originator's other relations of that type and
 * direction; changeOriginatorToRelatedEntity sends the message on as from the target.
 * ASSET, ENTITY_VIEW, EDGE and DASHBOARD targets pass the configuration check but fail each
 * message: rpc-chains does not keep those entities.
 */
export const TbCreateRelationNode = defineNode<TbCreateRelationNodeConfig>({
  type: 'org.thingsboard.rule.engine.action.TbCreateRelationNode',
  category: 'ACTION',
  uiName: 'create relation',
  version: 1,
  relations: [SUCCESS, FAILURE],
  configSchema: {
    type: 'object',
    properties: {
      ...relationActionProperties,
      createEntityIfNotExists: { type: 'boolean', default: false },
      removeCurrentRelations: { type: 'boolean', default: false },
      changeOriginatorToRelatedEntity: { type: 'boolean', default: false },
    },
  },
  defaultConfig: {
    direction: 'FROM',
    relationType: 'Contains',
    entityNamePattern: '',
    createEntityIfNotExists: false,
    removeCurrentRelations: false,
    changeOriginatorToRelatedEntity: false,
  },
  upgrade: upgradeRelationActionConfig,
  create(config, init) {
    const store = requireStore(init);
    const targetType = checkTargetType(config.entityType);
    return {
      async onMsg(msg) {
        try {
          const tenantId = tenantOf(msg);
          // ThingsBoard announces an entity it created to the root chain (ENTITY_CREATED).
          const created = (entity: Device | Customer) =>
            enqueueEntityAction(init, { type: MsgType.ENTITY_CREATED, originator: entity.id, tenantId, customerId: 'customerId' in entity ? entity.customerId.id : null, data: entity });
          const target = await findTargetEntity(store, tenantId, targetType, config, msg, config.createEntityIfNotExists && { created });
          const relationType = processPattern(config.relationType, msg);
          if (config.removeCurrentRelations) await deleteOriginatorRelations(store, tenantId, msg.originator, config.direction, relationType);
          const { from, to } = relationEnds(config.direction, msg.originator, target);
          if ((await store.relations.get(tenantId, from, to, relationType)) === null) {
            await store.relations.save(tenantId, { from, to, type: relationType });
          }
          return tellSuccess(config.changeOriginatorToRelatedEntity ? transformMsg(msg, { originator: target }) : msg);
        } catch (e) {
          return tellFailure(msg, e);
        }
      },
    };
  },
});
