// JSON Schema pieces shared by the routes: ids, paging, ThingsBoard's PageData. Plain objects
// (no $ref) so that each route's schema is complete where it is written and in the OpenAPI document.
import { ENTITY_TYPE_NAMES, type EntityType } from '../msg/entity.js';
import { errorEnvelopeSchema } from './errors.js';

export type JsonSchema = Readonly<Record<string, unknown>>;

export const uuid = { type: 'string', format: 'uuid' } as const;

export const entityTypeSchema = { type: 'string', enum: ENTITY_TYPE_NAMES } as const;

/** `{"entityType": "DEVICE", "id": "<uuid>"}` */
export function entityIdSchema(entityType?: EntityType): JsonSchema {
  return {
    type: 'object',
    required: ['id'],
    properties: { entityType: entityType ? { type: 'string', enum: [entityType] } : entityTypeSchema, id: uuid },
  };
}

/** Path parameters that are all UUIDs. */
export function uuidParams(...names: string[]): JsonSchema {
  return { type: 'object', required: names, properties: Object.fromEntries(names.map((n) => [n, uuid])) };
}

export interface PageQuery {
  pageSize: number;
  page: number;
  textSearch?: string;
  sortProperty?: string;
  sortOrder?: 'ASC' | 'DESC';
}

/** The largest page number: ThingsBoard's page is a Java int; it also keeps page × pageSize an exact integer for Redis. */
export const MAX_PAGE = 2_147_483_647;

/** ThingsBoard's PageLink parameters: pageSize and page required. */
export function pageQuerySchema(sortProperties: readonly string[], extra: Record<string, JsonSchema> = {}): JsonSchema {
  return {
    type: 'object',
    required: ['pageSize', 'page'],
    properties: {
      pageSize: { type: 'integer', minimum: 1, maximum: 10000, description: 'Items per page' },
      page: { type: 'integer', minimum: 0, maximum: MAX_PAGE, description: '0-based page number' },
      textSearch: { type: 'string', description: 'Case-insensitive substring of the name/title' },
      sortProperty: { type: 'string', enum: [...sortProperties] },
      sortOrder: { type: 'string', enum: ['ASC', 'DESC'] },
      ...extra,
    },
  };
}

export function pageDataSchema(item: JsonSchema): JsonSchema {
  return {
    type: 'object',
    properties: {
      data: { type: 'array', items: item },
      totalPages: { type: 'integer' },
      totalElements: { type: 'integer' },
      hasNext: { type: 'boolean' },
    },
  };
}

/** A response documented as "an object like ThingsBoard's X" without listing every field. */
export function entityJson(description: string, properties: Record<string, JsonSchema> = {}): JsonSchema {
  return { type: 'object', description, properties: { id: entityIdSchema(), createdTime: { type: 'integer' }, ...properties } };
}

export const emptyResponse: JsonSchema = { type: 'null', description: 'Empty body' };

/** The error answers a guarded route can give, for the OpenAPI document. */
export function errorResponses(...statuses: number[]): Record<number, JsonSchema> {
  return Object.fromEntries(statuses.map((s) => [s, errorEnvelopeSchema]));
}

/** Comma-separated keys (`keys=a,b`) as a list; empty entries dropped. */
export function splitKeys(keys: string | undefined): string[] | undefined {
  if (keys === undefined) return undefined;
  return keys
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '');
}
