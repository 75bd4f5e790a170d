// Relations: POST /api/relation, DELETE /api/relation?fromId&fromType&relationType&toId&toType,
// GET /api/relations?fromId&fromType or ?toId&toType (optionally &relationType, &relationTypeGroup).
import type { FastifyPluginAsync } from 'fastify';
import type { EntityId, EntityType } from '../../msg/entity.js';
import { idOf } from '../../store/ids.js';
import type { JsonValue } from '../../store/json.js';
import { RELATION_TYPE_GROUPS, type EntityRelation, type RelationTypeGroup } from '../../store/relations.js';
import { checkEntity, tenantOf } from '../access.js';
import type { AuthUser } from '../auth/auth-user.js';
import { currentUser, requireAuth } from '../auth/require-auth.js';
import type { ApiContext } from '../context.js';
import { ApiError, badRequest } from '../errors.js';
import { emptyResponse, entityIdSchema, entityTypeSchema, errorResponses, uuid, type JsonSchema } from '../schemas.js';

const groupSchema = { type: 'string', enum: [...RELATION_TYPE_GROUPS] } as const;

export const relationSchema: JsonSchema = {
  type: 'object',
  description: "ThingsBoard's EntityRelation",
  required: ['from', 'to', 'type'],
  properties: {
    from: entityIdSchema(),
    to: entityIdSchema(),
    type: { type: 'string', minLength: 1 },
    typeGroup: groupSchema,
    additionalInfo: {},
  },
};

interface RelationBody {
  from: EntityId;
  to: EntityId;
  type: string;
  typeGroup?: RelationTypeGroup;
  additionalInfo?: JsonValue | null;
}

interface DeleteQuery {
  fromId: string;
  fromType: EntityType;
  relationType: string;
  relationTypeGroup?: RelationTypeGroup;
  toId: string;
  toType: EntityType;
}

interface ListQuery {
  fromId?: string;
  fromType?: EntityType;
  toId?: string;
  toType?: EntityType;
  relationType?: string;
  relationTypeGroup?: RelationTypeGroup;
}

export function relationRoutes(ctx: ApiContext): FastifyPluginAsync {
  const { store } = ctx.deps;

  /** ThingsBoard tells both ends. */
  async function emitBothEnds(type: string, tenantId: string, relation: EntityRelation, user: AuthUser): Promise<void> {
    for (const end of [relation.from, relation.to]) await ctx.events.emit({ type, tenantId, originator: end, data: relation, user });
  }

  return async (app) => {
    app.post<{ Body: RelationBody }>(
      '/api/relation',
      {
        onRequest: requireAuth(['TENANT_ADMIN', 'CUSTOMER_USER']),
        schema: { tags: ['relation'], summary: 'Create or update a relation', body: relationSchema, response: { 200: emptyResponse, ...errorResponses(400, 401, 403, 404) } },
      },
      async (request, reply) => {
        const me = currentUser(request);
        const tenantId = tenantOf(me);
        const body = request.body;
        const from = idOf(body.from.entityType, body.from.id);
        const to = idOf(body.to.entityType, body.to.id);
        await checkEntity(store, me, from);
        await checkEntity(store, me, to);
        const relation: EntityRelation = { from, to, type: body.type, typeGroup: body.typeGroup ?? 'COMMON', additionalInfo: body.additionalInfo ?? null };
        await store.relations.save(tenantId, relation);
        await emitBothEnds('RELATION_ADD_OR_UPDATE', tenantId, relation, me);
        return reply.send();
      },
    );

    app.delete<{ Querystring: DeleteQuery }>(
      '/api/relation',
      {
        onRequest: requireAuth(['TENANT_ADMIN', 'CUSTOMER_USER']),
        schema: {
          tags: ['relation'],
          summary: 'Delete a relation',
          querystring: {
            type: 'object',
            required: ['fromId', 'fromType', 'relationType', 'toId', 'toType'],
            properties: {
              fromId: uuid,
              fromType: entityTypeSchema,
              relationType: { type: 'string', minLength: 1 },
              relationTypeGroup: groupSchema,
              toId: uuid,
              toType: entityTypeSchema,
            },
          },
          response: { 200: emptyResponse, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request, reply) => {
        const me = currentUser(request);
        const tenantId = tenantOf(me);
        const q = request.query;
        const from = idOf(q.fromType, q.fromId);
        const to = idOf(q.toType, q.toId);
        await checkEntity(store, me, from);
        await checkEntity(store, me, to);
        const group = q.relationTypeGroup ?? 'COMMON';
        const existing = await store.relations.get(tenantId, from, to, q.relationType, group);
        if (existing === null || !(await store.relations.delete(tenantId, from, to, q.relationType, group))) {
          throw new ApiError('ITEM_NOT_FOUND', "Requested item wasn't found!");
        }
        await emitBothEnds('RELATION_DELETED', tenantId, existing, me);
        return reply.send();
      },
    );

    app.get<{ Querystring: ListQuery }>(
      '/api/relations',
      {
        onRequest: requireAuth(['TENANT_ADMIN', 'CUSTOMER_USER']),
        schema: {
          tags: ['relation'],
          summary: 'Relations from an entity (fromId, fromType) or to an entity (toId, toType), oldest first',
          querystring: {
            type: 'object',
            properties: {
              fromId: uuid,
              fromType: entityTypeSchema,
              toId: uuid,
              toType: entityTypeSchema,
              relationType: { type: 'string', minLength: 1 },
              relationTypeGroup: groupSchema,
            },
          },
          response: { 200: { type: 'array', items: relationSchema }, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const me = currentUser(request);
        const tenantId = tenantOf(me);
        const q = request.query;
        const group = q.relationTypeGroup ?? 'COMMON';
        if (q.fromId !== undefined && q.fromType !== undefined) {
          const from = idOf(q.fromType, q.fromId);
          await checkEntity(store, me, from);
          return q.relationType ? store.relations.findByFromAndType(tenantId, from, q.relationType, group) : store.relations.findByFrom(tenantId, from, group);
        }
        if (q.toId !== undefined && q.toType !== undefined) {
          const to = idOf(q.toType, q.toId);
          await checkEntity(store, me, to);
          return q.relationType ? store.relations.findByToAndType(tenantId, to, q.relationType, group) : store.relations.findByTo(tenantId, to, group);
        }
        throw badRequest('querystring must name fromId and fromType, or toId and toType');
      },
    );
  };
}
