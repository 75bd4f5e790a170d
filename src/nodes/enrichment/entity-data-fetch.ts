// What the enrichment nodes share: the message's tenant, "fetchTo" enrichment of data or
// metadata, relation queries, entity lookups in the store (documents, customer, fields), and
// ThingsBoard's TbAbstractGetEntityDataNode (related entity / customer / tenant data).
import type { SchemaObject } from 'ajv';
import { NodeConfigError, tellFailure, tellSuccess, type JsonObject, type NodeOutput } from '../../engine/node-api.js';
import { processPattern } from '../../engine/patterns.js';
import { ENTITY_TYPE_NAMES, isEntityType, type EntityId, type EntityType } from '../../msg/entity.js';
import { isPlainObject, parseMsgData, transformMsg, type TbMsg } from '../../msg/tb-msg.js';
import { isNullUuid } from '../../store/ids.js';
import type { KvValue } from '../../store/kv.js';
import type { Store } from '../../store/store.js';
import { MSG_SOURCES, setOwn, type MsgSource } from '../transform/TbCopyKeysNode.js';

/** ThingsBoard's TbMsgSource as used by `fetchTo`: where fetched values go. */
export type FetchTo = MsgSource;

export const FETCH_TO_SCHEMA: SchemaObject = { type: 'string', enum: MSG_SOURCES, default: 'METADATA' };

export const NO_TENANT_ERROR = 'Message has no tenantId, so the node cannot tell whose entities to read';
export const NOT_OBJECT_ERROR = 'Message body is not an object!';

/** The tenant whose entities a message may read; throws when the message has none. */
export function tenantOf(msg: TbMsg): string {
  if (!msg.tenantId) throw new Error(NO_TENANT_ERROR);
  return msg.tenantId;
}

/** msg.data as the JSON object to enrich (fetchTo DATA); ThingsBoard's error otherwise. */
export function dataObjectOf(msg: TbMsg): Record<string, unknown> {
  const data = parseMsgData(msg);
  if (!isPlainObject(data)) throw new Error(NOT_OBJECT_ERROR);
  return data;
}

/** Runs a node's work; anything thrown (store errors included) becomes Failure with its text. */
export async function orFailure(msg: TbMsg, work: () => Promise<NodeOutput>): Promise<NodeOutput> {
  try {
    return await work();
  } catch (e) {
    return tellFailure(msg, e);
  }
}

/** A stored value as ThingsBoard's KvEntry.getValueAsString writes it. */
export function kvText(value: KvValue): string {
  return typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/**
 * Values gathered for one message, then written into its data (typed JSON values) or its
 * metadata (text), as ThingsBoard's TbAbstractNodeWithFetchTo.enrichMessage/transformMessage.
 */
export class Enrichment {
  private readonly metaData: Record<string, string>;
  private readonly data: Record<string, unknown> | null;

  /** `data` is the parsed message body, required for fetchTo DATA. */
  constructor(
    private readonly msg: TbMsg,
    private readonly fetchTo: FetchTo,
    data: Record<string, unknown> | null,
  ) {
    this.metaData = { ...msg.metaData };
    this.data = fetchTo === 'DATA' ? (data ?? dataObjectOf(msg)) : null;
  }

  putKv(key: string, value: KvValue): void {
    if (this.data) setOwn(this.data, key, value);
    else setOwn(this.metaData, key, kvText(value));
  }

  putText(key: string, value: string): void {
    if (this.data) setOwn(this.data, key, value);
    else setOwn(this.metaData, key, value);
  }

  /** The enriched message (same id). */
  build(): TbMsg {
    return this.data ? transformMsg(this.msg, { data: JSON.stringify(this.data) }) : transformMsg(this.msg, { metaData: this.metaData });
  }
}

// ---------------------------------------------------------------------------------------------
// Relation queries (ThingsBoard's RelationsQuery in node configurations)

export type SearchDirection = 'FROM' | 'TO';

export interface RelationFilterConfig {
  relationType?: string | null;
  entityTypes?: EntityType[] | null;
  negate?: boolean;
}

export interface RelationsQueryConfig {
  /** Optional as in ThingsBoard, where a query without one fails each message ("Unknown direction"). */
  direction?: SearchDirection;
  /** <= 0: unlimited */
  maxLevel: number;
  filters?: RelationFilterConfig[] | null;
  fetchLastLevelOnly: boolean;
}

/** The catalogue's default relationsQuery: FROM, one level, "Contains" to any entity type. */
export function defaultRelationsQuery(): RelationsQueryConfig {
  return { direction: 'FROM', maxLevel: 1, filters: [{ relationType: 'Contains', entityTypes: [] }], fetchLastLevelOnly: false };
}

export const DIRECTION_SCHEMA: SchemaObject = { type: 'string', enum: ['FROM', 'TO'] };

export const RELATIONS_QUERY_SCHEMA: SchemaObject = {
  type: 'object',
  properties: {
    direction: DIRECTION_SCHEMA,
    maxLevel: { type: 'integer', default: 1 },
    filters: {
      type: ['array', 'null'],
      items: {
        type: 'object',
        properties: {
          relationType: { type: ['string', 'null'] },
          entityTypes: { type: ['array', 'null'], items: { type: 'string', enum: ENTITY_TYPE_NAMES } },
          negate: { type: 'boolean' },
        },
      },
    },
    fetchLastLevelOnly: { type: 'boolean', default: false },
  },
  default: defaultRelationsQuery(),
};

/**
 * ThingsBoard's EntitiesRelatedEntityIdAsyncLoader: the far end of the first relation the query
 * finds (`to` for FROM, `from` for TO), or null. ThingsBoard takes the first element of an
 * unordered result, so its pick is arbitrary among several matches; the store returns relations
 * oldest first, so here the pick is the oldest matching relation, every time (beyond-thingsboard #10).
 */
export async function findFirstRelated(store: Store, tenantId: string, root: EntityId, query: RelationsQueryConfig): Promise<EntityId | null> {
  const direction = query.direction;
  if (direction !== 'FROM' && direction !== 'TO') throw new Error('Unknown direction');
  const relations = await store.relations.findByQuery(tenantId, root, {
    direction,
    maxLevel: query.maxLevel,
    filters: query.filters ?? [],
    fetchLastLevelOnly: query.fetchLastLevelOnly,
  });
  const first = relations[0];
  if (!first) return null;
  return direction === 'FROM' ? first.to : first.from;
}

// ---------------------------------------------------------------------------------------------
// Entities in the store

export function notStoredError(type: EntityType): Error {
  return new Error(`${type} entities are not kept in this store, so their data cannot be read`);
}

/**
 * The entity's stored document, null when it does not exist. The store keeps tenants, customers,
 * devices, users and alarms; other types (assets, entity views, edges...) throw.
 */
export async function loadEntity(store: Store, tenantId: string, entity: EntityId): Promise<Record<string, unknown> | null> {
  const id = entity.id;
  switch (entity.entityType) {
    case 'TENANT':
      return asRecord(await store.tenants.get(id));
    case 'CUSTOMER':
      return asRecord(await store.customers.get(tenantId, id));
    case 'DEVICE':
      return asRecord(await store.devices.findById(tenantId, id));
    case 'USER':
      return asRecord(await store.users.get(tenantId, id));
    case 'ALARM':
      return asRecord(await store.alarms.get(tenantId, id));
    default:
      throw notStoredError(entity.entityType);
  }
}

function asRecord(doc: object | null): Record<string, unknown> | null {
  return doc === null ? null : { ...doc };
}

/**
 * ThingsBoard's EntityService.fetchEntityCustomerId: undefined when the entity does not exist,
 * null when it has no customer (unassigned, or a type without one such as TENANT), else the
 * customer's id. A CUSTOMER is its own customer.
 */
export async function findCustomerId(store: Store, tenantId: string, entity: EntityId): Promise<string | null | undefined> {
  if (entity.entityType === 'CUSTOMER') return entity.id;
  const doc = await loadEntity(store, tenantId, entity);
  if (doc === null) return undefined;
  const customerId = doc.customerId;
  if (!isPlainObject(customerId) || typeof customerId.id !== 'string' || isNullUuid(customerId.id)) return null;
  return customerId.id;
}

// ThingsBoard's Customer and Tenant are ContactBased: these fields exist (null when unset).
const CONTACT_FIELDS = ['country', 'state', 'city', 'address', 'address2', 'zip', 'phone', 'email'] as const;

/**
 * The entity as ThingsBoard's EntityFieldsData sees it (Jackson without annotations, entity ids
 * written as their UUID): the stored document with its top-level ids flattened to strings.
 * Throws "Entity not found!" when it does not exist.
 */
export async function entityFields(store: Store, tenantId: string, entity: EntityId): Promise<Record<string, unknown>> {
  const doc = await loadEntity(store, tenantId, entity);
  if (doc === null) throw new Error('Entity not found!');
  const fields: Record<string, unknown> = {};
  if (entity.entityType === 'CUSTOMER' || entity.entityType === 'TENANT') for (const f of CONTACT_FIELDS) fields[f] = null;
  for (const [key, value] of Object.entries(doc)) {
    setOwn(fields, key, isEntityIdValue(value) ? value.id : value);
  }
  return fields;
}

function isEntityIdValue(value: unknown): value is EntityId {
  return isPlainObject(value) && Object.keys(value).length === 2 && isEntityType(value.entityType) && typeof value.id === 'string';
}

/**
 * ThingsBoard's EntityFieldsData.getFieldValue: a dotted path into the fields; a value as text, an
 * object or array as JSON; null when absent. A JSON null reads "null" and an empty string ""
 * unless ignoreNullStrings, which drops both.
 */
export function fieldValue(fields: Record<string, unknown>, path: string, ignoreNullStrings: boolean): string | null {
  let current: unknown = fields;
  for (const part of path.split('.')) {
    if (!isPlainObject(current) || !Object.prototype.hasOwnProperty.call(current, part)) return null;
    current = current[part];
  }
  if (current === null || current === undefined) return ignoreNullStrings ? null : 'null';
  if (typeof current === 'object') return JSON.stringify(current);
  const text = String(current);
  return text === '' && ignoreNullStrings ? null : text;
}

/** Writes the mapped fields as text; only the target keys take patterns (ThingsBoard's processFieldsMappingPatterns). */
export function putFields(out: Enrichment, fields: Record<string, unknown>, mapping: Record<string, string>, msg: TbMsg, ignoreNullStrings: boolean): void {
  const parsed = parseMsgData(msg);
  for (const [source, target] of Object.entries(mapping)) {
    const value = fieldValue(fields, source, ignoreNullStrings);
    if (value !== null) out.putText(processPattern(target, msg, parsed), value);
  }
}

// ---------------------------------------------------------------------------------------------
// Mapped entity data (TbAbstractGetMappedDataNode / TbAbstractGetEntityDataNode)

export type DataToFetch = 'ATTRIBUTES' | 'LATEST_TELEMETRY' | 'FIELDS';
export const DATA_TO_FETCH: readonly DataToFetch[] = ['ATTRIBUTES', 'LATEST_TELEMETRY', 'FIELDS'];

export interface EntityDataConfig {
  /** source key → target key; both support patterns (for FIELDS only the target). */
  dataMapping: Record<string, string>;
  dataToFetch: DataToFetch;
  fetchTo: FetchTo;
}

export function dataMappingSchema(defaultMapping: Record<string, string>): SchemaObject {
  return { type: 'object', additionalProperties: { type: 'string' }, default: defaultMapping };
}

/** Schema properties of dataMapping/dataToFetch/fetchTo. */
export function entityDataProperties(defaultMapping: Record<string, string>): Record<string, SchemaObject> {
  return {
    dataMapping: dataMappingSchema(defaultMapping),
    dataToFetch: { type: 'string', enum: DATA_TO_FETCH, default: 'ATTRIBUTES' },
    fetchTo: FETCH_TO_SCHEMA,
  };
}

/** ThingsBoard's checkIfMappingIsNotEmptyOrElseThrow. */
export function checkDataMapping(mapping: Record<string, string>): void {
  if (Object.keys(mapping).length === 0) throw new NodeConfigError('At least one mapping entry should be specified!', '/dataMapping');
}

/** The customer and tenant nodes read attributes or telemetry only (ThingsBoard's check and text). */
export function checkAttributesOrTelemetry(dataToFetch: DataToFetch): void {
  if (dataToFetch === 'FIELDS') {
    throw new NodeConfigError(
      `DataToFetch property has invalid value: ${dataToFetch}. Only ATTRIBUTES and LATEST_TELEMETRY values supported!`,
      '/dataToFetch',
    );
  }
}

/**
 * Version 0 → 1 of the related/customer/tenant data nodes: `attrMapping` → `dataMapping`,
 * `telemetry` true/false → `dataToFetch` LATEST_TELEMETRY/ATTRIBUTES, and `fetchTo` METADATA (v0
 * always wrote to metadata). An old key that is absent is left to the defaults, as ThingsBoard
 * keeps a config its upgrade cannot handle when it still parses; a bad `telemetry` is an error.
 */
export function upgradeEntityDataV0(fromVersion: number, config: JsonObject): JsonObject {
  if (fromVersion !== 0) return config;
  const out: JsonObject = { ...config };
  if ('attrMapping' in out) {
    if (!('dataMapping' in out) || out.dataMapping === null) out.dataMapping = out.attrMapping;
    delete out.attrMapping;
  }
  if ('telemetry' in out) {
    const value = out.telemetry;
    delete out.telemetry;
    if (value === true || value === 'true') out.dataToFetch = 'LATEST_TELEMETRY';
    else if (value === false || value === 'false') out.dataToFetch = 'ATTRIBUTES';
    else if (value !== null) {
      throw new Error(`property to update: 'telemetry' has unexpected value: ${JSON.stringify(value)}. Allowed values: true or false!`);
    }
  }
  if (out.fetchTo === undefined || out.fetchTo === null) out.fetchTo = 'METADATA';
  return out;
}

/**
 * Copies the mapped data of `entity` into the message: server attributes, latest time series
 * (typed values into data, text into metadata) or entity fields (always text). Keys the entity
 * lacks are skipped, as in ThingsBoard. The source keys' patterns are resolved against `msg`.
 */
export async function enrichWithEntityData(
  store: Store,
  tenantId: string,
  entity: EntityId,
  msg: TbMsg,
  config: EntityDataConfig,
  data: Record<string, unknown> | null,
  ignoreNullStrings = true,
): Promise<TbMsg> {
  const out = new Enrichment(msg, config.fetchTo, data);
  if (config.dataToFetch === 'FIELDS') {
    putFields(out, await entityFields(store, tenantId, entity), config.dataMapping, msg, ignoreNullStrings);
    return out.build();
  }
  // source → target after patterns; a later mapping to the same source wins, as with Java's HashMap.put
  const parsed = parseMsgData(msg);
  const mapping = new Map<string, string>();
  for (const [source, target] of Object.entries(config.dataMapping)) {
    mapping.set(processPattern(source, msg, parsed), processPattern(target, msg, parsed));
  }
  const keys = [...mapping.keys()];
  if (config.dataToFetch === 'ATTRIBUTES') {
    for (const kv of await store.attributes.get(entity, 'SERVER_SCOPE', keys)) out.putKv(mapping.get(kv.key) as string, kv.value);
  } else {
    const latest = await store.timeseries.getLatest(entity, keys);
    for (const key of keys) {
      const entry = latest[key];
      if (entry) out.putKv(mapping.get(key) as string, entry.value);
    }
  }
  return out.build();
}

/**
 * onMsg of a node that reads one entity's mapped data: the message body is checked first (fetchTo
 * DATA), then `findEntity` names the entity (or throws the node's not-found text).
 */
export function entityDataOnMsg(
  store: Store,
  config: EntityDataConfig,
  findEntity: (tenantId: string, msg: TbMsg) => Promise<EntityId>,
): (msg: TbMsg) => Promise<NodeOutput> {
  return (msg) =>
    orFailure(msg, async () => {
      const tenantId = tenantOf(msg);
      const data = config.fetchTo === 'DATA' ? dataObjectOf(msg) : null;
      const entity = await findEntity(tenantId, msg);
      return tellSuccess(await enrichWithEntityData(store, tenantId, entity, msg, config, data));
    });
}
