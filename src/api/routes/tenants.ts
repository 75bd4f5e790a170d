// Tenants (system administrator): POST /api/tenant, GET|DELETE /api/tenant/{tenantId}, GET /api/tenants.
import type { FastifyPluginAsync } from 'fastify';
import type { JsonObject } from '../../store/json.js';
import type { Tenant } from '../../store/tenants.js';
import { currentUser, requireAuth } from '../auth/require-auth.js';
import type { ApiContext } from '../context.js';
import { itemNotFound, permissionDenied } from '../errors.js';
import { emptyResponse, entityIdSchema, entityJson, errorResponses, pageDataSchema, pageQuerySchema, uuidParams, type PageQuery } from '../schemas.js';
import { deleteTenantData } from '../tenant-deletion.js';

export const tenantSchema = entityJson("ThingsBoard's Tenant", {
  title: { type: 'string' },
  name: { type: 'string' },
  region: { type: 'string' },
  additionalInfo: { type: ['object', 'null'] },
});

interface TenantBody {
  id?: { id: string } | null;
  title: string;
  region?: string;
  additionalInfo?: JsonObject | null;
}

export function tenantRoutes(ctx: ApiContext): FastifyPluginAsync {
  const { store } = ctx.deps;
  return async (app) => {
    app.post<{ Body: TenantBody }>(
      '/api/tenant',
      {
        onRequest: requireAuth(['SYS_ADMIN']),
        schema: {
          tags: ['tenant'],
          summary: 'Create a tenant (no id) or update one (id given)',
          description: 'A new tenant gets a default device profile and, when the server has one, the default root rule chain.',
          body: {
            type: 'object',
            required: ['title'],
            properties: {
              id: { anyOf: [entityIdSchema('TENANT'), { type: 'null' }] },
              title: { type: 'string', minLength: 1 },
              region: { type: 'string' },
              additionalInfo: { type: ['object', 'null'] },
            },
          },
          response: { 200: tenantSchema, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const { id, title, region, additionalInfo } = request.body;
        if (id) {
          return store.tenants.update(id.id, { title, ...(region !== undefined ? { region } : {}), ...(additionalInfo !== undefined ? { additionalInfo } : {}) });
        }
        const tenant = await store.tenants.create({ title, ...(region !== undefined ? { region } : {}), additionalInfo: additionalInfo ?? null });
        await provisionTenant(ctx, tenant);
        return tenant;
      },
    );

    app.get<{ Params: { tenantId: string } }>(
      '/api/tenant/:tenantId',
      {
        onRequest: requireAuth(['SYS_ADMIN', 'TENANT_ADMIN']),
        schema: { tags: ['tenant'], summary: 'Get a tenant', params: uuidParams('tenantId'), response: { 200: tenantSchema, ...errorResponses(400, 401, 403, 404) } },
      },
      async (request) => {
        const me = currentUser(request);
        const { tenantId } = request.params;
        if (me.authority === 'TENANT_ADMIN' && me.tenantId !== tenantId) throw permissionDenied();
        const tenant = await store.tenants.get(tenantId);
        if (tenant === null) throw itemNotFound('Tenant', tenantId);
        return tenant;
      },
    );

    app.get<{ Querystring: PageQuery }>(
      '/api/tenants',
      {
        onRequest: requireAuth(['SYS_ADMIN']),
        schema: {
          tags: ['tenant'],
          summary: 'Page of tenants',
          querystring: pageQuerySchema(['createdTime', 'title', 'name']),
          response: { 200: pageDataSchema(tenantSchema), ...errorResponses(400, 401, 403) },
        },
      },
      async (request) => store.tenants.list(request.query),
    );

    app.delete<{ Params: { tenantId: string } }>(
      '/api/tenant/:tenantId',
      {
        onRequest: requireAuth(['SYS_ADMIN']),
        schema: {
          tags: ['tenant'],
          summary: 'Delete a tenant and everything in it',
          params: uuidParams('tenantId'),
          response: { 200: emptyResponse, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request, reply) => {
        const { tenantId } = request.params;
        if ((await store.tenants.get(tenantId)) === null) throw itemNotFound('Tenant', tenantId);
        await deleteTenantData(store, tenantId);
        // After the data: a rule-engine process told now reloads the tenant and finds no chain left.
        await ctx.deps.chains.unloadTenant(tenantId);
        return reply.send();
      },
    );
  };
}

/** What ThingsBoard gives every new tenant: a "default" device profile and a root rule chain. */
async function provisionTenant(ctx: ApiContext, tenant: Tenant): Promise<void> {
  await ctx.deps.store.deviceProfiles.create(tenant.id.id, { name: 'default', default: true });
  if (ctx.deps.defaultRootChain !== undefined) {
    await ctx.deps.chains.importChain(tenant.id.id, ctx.deps.defaultRootChain, { source: 'default root rule chain', root: true });
  }
}
