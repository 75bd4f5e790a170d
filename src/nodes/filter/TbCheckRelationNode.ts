import {
  defineNode,
  FAILURE,
  FALSE,
  type JsonObject,
  NodeConfigError,
  requireStore,
  tell,
  tellFailure,
  TRUE,
} from '../../engine/node-api.js';
import { ENTITY_TYPE_NAMES, isEntityType, type EntityId } from '../../msg/entity.js';
import type { SearchDirection } from '../../store/relations.js';
import { tenantOf } from '../action/TbMsgTimeseriesNode.js';

export const DIRECTIONS: readonly SearchDirection[] = ['FROM', 'TO'];

/**
 * The v0→v1 upgrade of the relation nodes: v0 read `direction` from the other entity's side
 * (FROM meant entity → originator), v1 from the originator's (FROM means originator → entity),
 * so the value flips. ThingsBoard's error texts for a missing or bad direction.
 */
export function flipDirection(config: JsonObject): JsonObject {
  if (!Object.hasOwn(config, 'direction')) throw new Error("property to update: 'direction' doesn't exists in configuration!");
  const direction = config.direction;
  if (direction === 'FROM') return { ...config, direction: 'TO' };
  if (direction === 'TO') return { ...config, direction: 'FROM' };
  throw new Error("property to update: 'direction' has invalid value!");
}

/** The relation's ends: FROM = originator → other, TO = other → originator. */
export function relationEnds(direction: SearchDirection, originator: EntityId, other: EntityId): { from: EntityId; to: EntityId } {
  return direction === 'FROM' ? { from: originator, to: other } : { from: other, to: originator };
}

export interface TbCheckRelationNodeConfig {
  direction: SearchDirection;
  /** Exact relation type (no patterns). */
  relationType: string;
  /** true: a relation with entityType/entityId; false: any relation of relationType in that direction. */
  checkForSingleEntity: boolean;
  entityType?: string;
  entityId?: string;
}

/**
 * True when the originator has a COMMON relation of `relationType` in `direction` (FROM:
 * originator → entity, TO: entity → originator), to the configured entity when
 * checkForSingleEntity, else to any entity; False otherwise.
 *
 * Old exports (v0) without checkForSingleEntity: ThingsBoard now reads the missing flag as
 * false and checks "any entity", silently ignoring the configured entity, but those nodes come
 * from ThingsBoard 2.0–2.2, where the node always checked that one entity. The upgrade keeps
 * the original meaning: single-entity when the v0 config names an entity (entityType and
 * entityId), any-entity otherwise.
 */
export const TbCheckRelationNode = defineNode<TbCheckRelationNodeConfig>({
  type: 'org.thingsboard.rule.engine.filter.TbCheckRelationNode',
  category: 'FILTER',
  uiName: 'check relation presence',
  version: 1,
  relations: [TRUE, FALSE, FAILURE],
  configSchema: {
    type: 'object',
    properties: {
      direction: { type: 'string', enum: DIRECTIONS, default: 'FROM' },
      relationType: { type: 'string', default: 'Contains' },
      checkForSingleEntity: { type: 'boolean', default: true },
      entityType: { type: 'string' },
      entityId: { type: 'string' },
    },
  },
  defaultConfig: { direction: 'FROM', relationType: 'Contains', checkForSingleEntity: true },
  upgrade(fromVersion, config) {
    if (fromVersion !== 0) return config;
    const out = flipDirection(config);
    if (out.checkForSingleEntity === undefined || out.checkForSingleEntity === null) {
      out.checkForSingleEntity = isNonEmptyString(out.entityType) && isNonEmptyString(out.entityId);
    }
    return out;
  },
  create(config, init) {
    const store = requireStore(init);
    let single: EntityId | null = null;
    if (config.checkForSingleEntity) {
      const { entityType, entityId } = config;
      if (!entityType || !entityId) throw new NodeConfigError('Entity should be specified!');
      if (!isEntityType(entityType)) {
        throw new NodeConfigError(`entityType "${entityType}" is not an entity type (${ENTITY_TYPE_NAMES.join(', ')})`, '/entityType');
      }
      single = { entityType, id: entityId };
    }
    return {
      async onMsg(msg) {
        try {
          const tenantId = tenantOf(msg);
          let found: boolean;
          if (single) {
            const { from, to } = relationEnds(config.direction, msg.originator, single);
            found = (await store.relations.get(tenantId, from, to, config.relationType)) !== null;
          } else {
            const list =
              config.direction === 'FROM'
                ? await store.relations.findByFromAndType(tenantId, msg.originator, config.relationType)
                : await store.relations.findByToAndType(tenantId, msg.originator, config.relationType);
            found = list.length > 0;
          }
          return tell(msg, found ? TRUE : FALSE);
        } catch (e) {
          return tellFailure(msg, e);
        }
      },
    };
  },
});

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}
