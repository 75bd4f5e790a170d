// Telemetry and attributes of any entity (ThingsBoard's TelemetryController):
//   GET    /api/plugins/telemetry/{entityType}/{entityId}/values/timeseries?keys[&startTs&endTs&limit&orderBy&useStrictDataTypes]
//   GET    /api/plugins/telemetry/{entityType}/{entityId}/values/attributes[/{scope}]?keys
//   POST   /api/plugins/telemetry/{entityType}/{entityId}/{scope} and .../attributes/{scope}
//   DELETE /api/plugins/telemetry/{entityType}/{entityId}/{scope}?keys
//   POST   /api/plugins/telemetry/{entityType}/{entityId}/timeseries/{scope}
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { EntityId, EntityType } from '../../msg/entity.js';
import { ATTRIBUTE_SCOPES, type AttributeKv, type AttributeScope } from '../../store/attributes.js';
import { idOf } from '../../store/ids.js';
import type { KvValue } from '../../store/kv.js';
import type { TsKvEntry, TsRecord } from '../../store/timeseries.js';
import { checkEntity, tenantOf } from '../access.js';
import type { AuthUser } from '../auth/auth-user.js';
import { currentUser, requireAuth } from '../auth/require-auth.js';
import type { ApiContext } from '../context.js';
import { badRequest } from '../errors.js';
import { emptyResponse, entityTypeSchema, errorResponses, splitKeys, uuid, type JsonSchema } from '../schemas.js';

const BASE = '/api/plugins/telemetry/:entityType/:entityId';
const ROLES = ['TENANT_ADMIN', 'CUSTOMER_USER'] as const;
const WRITABLE_SCOPES: readonly AttributeScope[] = ['SERVER_SCOPE', 'SHARED_SCOPE'];

interface EntityParams {
  entityType: EntityType;
  entityId: string;
}
interface ScopeParams extends EntityParams {
  scope: AttributeScope;
}

const entityParams: JsonSchema = { type: 'object', required: ['entityType', 'entityId'], properties: { entityType: entityTypeSchema, entityId: uuid } };
const scopeParams: JsonSchema = {
  type: 'object',
  required: ['entityType', 'entityId', 'scope'],
  properties: { entityType: entityTypeSchema, entityId: uuid, scope: { type: 'string', enum: [...ATTRIBUTE_SCOPES] } },
};
const keysQuery = (required: boolean): JsonSchema => ({
  type: 'object',
  ...(required ? { required: ['keys'] } : {}),
  properties: { keys: { type: 'string', ...(required ? { minLength: 1 } : {}), description: 'Comma-separated keys' + (required ? '' : '; all when omitted') } },
});
const attributeList: JsonSchema = {
  type: 'array',
  items: { type: 'object', properties: { key: { type: 'string' }, value: {}, lastUpdateTs: { type: 'integer' } } },
};
const attributesBody: JsonSchema = { type: 'object', minProperties: 1, description: 'Attributes: {"key": value, ...}' };

interface TimeseriesQuery {
  keys?: string;
  startTs?: number;
  endTs?: number;
  limit?: number;
  orderBy?: 'ASC' | 'DESC';
  agg?: string;
  useStrictDataTypes?: boolean;
}

export function telemetryRoutes(ctx: ApiContext): FastifyPluginAsync {
  const { store } = ctx.deps;

  async function entityOf(request: FastifyRequest<{ Params: EntityParams }>): Promise<{ me: AuthUser; tenantId: string; entity: EntityId }> {
    const me = currentUser(request);
    const tenantId = tenantOf(me);
    const entity = idOf(request.params.entityType, request.params.entityId);
    await checkEntity(store, me, entity);
    return { me, tenantId, entity };
  }

  async function saveAttributes(request: FastifyRequest<{ Params: ScopeParams; Body: Record<string, KvValue> }>): Promise<void> {
    const { scope } = request.params;
    if (!WRITABLE_SCOPES.includes(scope)) throw badRequest(`Invalid scope: ${scope}; attributes can be saved in ${WRITABLE_SCOPES.join(' or ')}`);
    const { me, tenantId, entity } = await entityOf(request);
    const values = request.body;
    await store.attributes.save(entity, scope, values);
    await ctx.events.emit({ type: 'ATTRIBUTES_UPDATED', tenantId, originator: entity, data: values, user: me, metaData: { scope } });
    if (scope === 'SHARED_SCOPE' && entity.entityType === 'DEVICE') await notify(ctx, 'changed', () => ctx.deps.onSharedAttributesChanged?.(tenantId, entity.id, values));
  }

  return async (app) => {
    app.get<{ Params: EntityParams; Querystring: TimeseriesQuery }>(
      `${BASE}/values/timeseries`,
      {
        onRequest: requireAuth([...ROLES]),
        schema: {
          tags: ['telemetry'],
          summary: 'Latest values, or history between startTs and endTs',
          description: 'Values are strings unless useStrictDataTypes=true (as ThingsBoard). Aggregation is not supported: agg must be NONE.',
          params: entityParams,
          querystring: {
            type: 'object',
            properties: {
              keys: { type: 'string', description: 'Comma-separated keys (required for history; all latest keys when omitted)' },
              startTs: { type: 'integer', minimum: 0 },
              endTs: { type: 'integer', minimum: 0 },
              limit: { type: 'integer', minimum: 1, maximum: 100000, default: 100 },
              orderBy: { type: 'string', enum: ['ASC', 'DESC'], default: 'DESC' },
              agg: { type: 'string', enum: ['NONE'] },
              interval: { type: 'integer' },
              useStrictDataTypes: { type: 'boolean', default: false },
            },
          },
          response: {
            200: { type: 'object', description: '{"key": [{"ts", "value"}]}', additionalProperties: { type: 'array', items: { type: 'object', properties: { ts: { type: 'integer' }, value: {} } } } },
            ...errorResponses(400, 401, 403, 404),
          },
        },
      },
      async (request) => {
        const { entity } = await entityOf(request);
        const q = request.query;
        const keys = splitKeys(q.keys);
        const strict = q.useStrictDataTypes === true;
        const history = q.startTs !== undefined || q.endTs !== undefined;
        if (!history) {
          const latest = await store.timeseries.getLatest(entity, keys);
          return Object.fromEntries(Object.entries(latest).map(([k, e]) => [k, [point(e, strict)]]));
        }
        if (q.startTs === undefined || q.endTs === undefined) throw badRequest('querystring.startTs and querystring.endTs are both required for history');
        if (keys === undefined || keys.length === 0) throw badRequest('querystring.keys is required for history');
        const found = await store.timeseries.getHistory(entity, keys, { startTs: q.startTs, endTs: q.endTs, limit: q.limit ?? 100, order: q.orderBy ?? 'DESC' });
        return Object.fromEntries(Object.entries(found).map(([k, points]) => [k, points.map((p) => point(p, strict))]));
      },
    );

    app.get<{ Params: EntityParams; Querystring: { keys?: string } }>(
      `${BASE}/values/attributes`,
      {
        onRequest: requireAuth([...ROLES]),
        schema: {
          tags: ['telemetry'],
          summary: 'Attributes of every scope (a device: client, shared, server; other entities: server)',
          params: entityParams,
          querystring: keysQuery(false),
          response: { 200: attributeList, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const { entity } = await entityOf(request);
        const scopes: AttributeScope[] = entity.entityType === 'DEVICE' ? ['CLIENT_SCOPE', 'SHARED_SCOPE', 'SERVER_SCOPE'] : ['SERVER_SCOPE'];
        const keys = splitKeys(request.query.keys);
        const lists = await Promise.all(scopes.map((s) => readAttributes(entity, s, keys)));
        return lists.flat();
      },
    );

    app.get<{ Params: ScopeParams; Querystring: { keys?: string } }>(
      `${BASE}/values/attributes/:scope`,
      {
        onRequest: requireAuth([...ROLES]),
        schema: {
          tags: ['telemetry'],
          summary: 'Attributes of one scope',
          params: scopeParams,
          querystring: keysQuery(false),
          response: { 200: attributeList, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const { entity } = await entityOf(request);
        return readAttributes(entity, request.params.scope, splitKeys(request.query.keys));
      },
    );

    const saveSchema = (summary: string) => ({
      tags: ['telemetry'],
      summary,
      description: "SHARED_SCOPE on a device is pushed to the device's subscribed sessions. Every save goes to the rule engine as ATTRIBUTES_UPDATED.",
      params: scopeParams,
      body: attributesBody,
      response: { 200: emptyResponse, ...errorResponses(400, 401, 403, 404) },
    });
    for (const path of [`${BASE}/:scope`, `${BASE}/attributes/:scope`]) {
      app.post<{ Params: ScopeParams; Body: Record<string, KvValue> }>(
        path,
        { onRequest: requireAuth([...ROLES]), schema: saveSchema('Save attributes (SERVER_SCOPE or SHARED_SCOPE)') },
        async (request, reply) => {
          await saveAttributes(request);
          return reply.send();
        },
      );
    }

    app.delete<{ Params: ScopeParams; Querystring: { keys: string } }>(
      `${BASE}/:scope`,
      {
        onRequest: requireAuth([...ROLES]),
        schema: { tags: ['telemetry'], summary: 'Delete attributes', params: scopeParams, querystring: keysQuery(true), response: { 200: emptyResponse, ...errorResponses(400, 401, 403, 404) } },
      },
      async (request, reply) => {
        const { scope } = request.params;
        const { me, tenantId, entity } = await entityOf(request);
        const keys = splitKeys(request.query.keys) ?? [];
        if (keys.length === 0) throw badRequest('querystring.keys must name at least one key');
        await store.attributes.delete(entity, scope, keys);
        await ctx.events.emit({ type: 'ATTRIBUTES_DELETED', tenantId, originator: entity, data: { attributes: keys }, user: me, metaData: { scope } });
        if (scope === 'SHARED_SCOPE' && entity.entityType === 'DEVICE') await notify(ctx, 'deleted', () => ctx.deps.onSharedAttributesDeleted?.(tenantId, entity.id, keys));
        return reply.send();
      },
    );

    app.post<{ Params: EntityParams & { scope: string }; Body: TimeseriesBody }>(
      `${BASE}/timeseries/:scope`,
      {
        onRequest: requireAuth([...ROLES]),
        schema: {
          tags: ['telemetry'],
          summary: 'Save time series: {"key": value}, {"ts", "values"}, or an array of these',
          params: { ...entityParams, required: ['entityType', 'entityId', 'scope'], properties: { ...(entityParams.properties as object), scope: { type: 'string', description: 'Ignored (ThingsBoard: ANY)' } } },
          body: { anyOf: [{ type: 'object', minProperties: 1 }, { type: 'array', minItems: 1, items: { type: 'object' } }] },
          response: { 200: emptyResponse, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request, reply) => {
        const { me, tenantId, entity } = await entityOf(request);
        const records = toRecords(request.body, Date.now());
        await store.timeseries.save(entity, records);
        await ctx.events.emit({ type: 'TIMESERIES_UPDATED', tenantId, originator: entity, data: { timeseries: records }, user: me });
        return reply.send();
      },
    );
  };

  async function readAttributes(entity: EntityId, scope: AttributeScope, keys: string[] | undefined): Promise<AttributeKv[]> {
    return keys === undefined ? store.attributes.getAll(entity, scope) : store.attributes.get(entity, scope, keys);
  }
}

type TimeseriesItem = Record<string, unknown>;
type TimeseriesBody = TimeseriesItem | TimeseriesItem[];

/** ThingsBoard's telemetry forms: {"k": v}, {"ts": n, "values": {...}}, or an array of them. */
function toRecords(body: TimeseriesBody, now: number): TsRecord[] {
  return (Array.isArray(body) ? body : [body]).map((item, i) => {
    if ('ts' in item || 'values' in item) {
      const { ts, values } = item;
      if (typeof ts !== 'number' || !Number.isSafeInteger(ts)) throw badRequest(`body${Array.isArray(body) ? `[${i}]` : ''}.ts must be an integer (epoch ms)`);
      if (typeof values !== 'object' || values === null || Array.isArray(values)) throw badRequest(`body${Array.isArray(body) ? `[${i}]` : ''}.values must be an object`);
      return { ts, values: values as Record<string, KvValue> };
    }
    return { ts: now, values: item as Record<string, KvValue> };
  });
}

/** ThingsBoard answers strings unless useStrictDataTypes=true. */
function point(e: TsKvEntry, strict: boolean): { ts: number; value: unknown } {
  return { ts: e.ts, value: strict ? e.value : typeof e.value === 'object' ? JSON.stringify(e.value) : String(e.value) };
}

/** The hooks reach device sessions; their failure must not undo a stored change. */
async function notify(ctx: ApiContext, what: string, hook: () => void | Promise<void>): Promise<void> {
  try {
    await hook();
  } catch (err) {
    ctx.deps.logger.error({ err }, `shared attributes ${what}: notifying device sessions failed`);
  }
}
