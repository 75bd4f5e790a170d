// Customers of the caller's tenant: POST /api/customer, GET /api/customer/{customerId}, GET /api/customers.
import type { FastifyPluginAsync } from 'fastify';
import type { JsonObject } from '../../store/json.js';
import { loadCustomer, tenantOf } from '../access.js';
import { currentUser, requireAuth } from '../auth/require-auth.js';
import type { ApiContext } from '../context.js';
import { entityIdSchema, entityJson, errorResponses, pageDataSchema, pageQuerySchema, uuidParams, type PageQuery } from '../schemas.js';

export const customerSchema = entityJson("ThingsBoard's Customer", {
  tenantId: entityIdSchema('TENANT'),
  title: { type: 'string' },
  name: { type: 'string' },
  email: { type: ['string', 'null'] },
  additionalInfo: { type: ['object', 'null'] },
});

interface CustomerBody {
  id?: { id: string } | null;
  title: string;
  email?: string | null;
  additionalInfo?: JsonObject | null;
}

export function customerRoutes(ctx: ApiContext): FastifyPluginAsync {
  const { store } = ctx.deps;
  return async (app) => {
    app.post<{ Body: CustomerBody }>(
      '/api/customer',
      {
        onRequest: requireAuth(['TENANT_ADMIN']),
        schema: {
          tags: ['customer'],
          summary: 'Create a customer (no id) or update one (id given); the title is unique in the tenant',
          body: {
            type: 'object',
            required: ['title'],
            properties: {
              id: { anyOf: [entityIdSchema('CUSTOMER'), { type: 'null' }] },
              title: { type: 'string', minLength: 1 },
              email: { type: ['string', 'null'] },
              additionalInfo: { type: ['object', 'null'] },
            },
          },
          response: { 200: customerSchema, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const me = currentUser(request);
        const tenantId = tenantOf(me);
        const { id, title, email, additionalInfo } = request.body;
        const patch = { title, ...(email !== undefined ? { email } : {}), ...(additionalInfo !== undefined ? { additionalInfo } : {}) };
        const customer = id ? await store.customers.update(tenantId, (await loadCustomer(store, me, id.id)).id.id, patch) : await store.customers.create(tenantId, patch);
        await ctx.events.emit({ type: id ? 'ENTITY_UPDATED' : 'ENTITY_CREATED', tenantId, originator: customer.id, customerId: customer.id.id, data: customer, user: me });
        return customer;
      },
    );

    app.get<{ Params: { customerId: string } }>(
      '/api/customer/:customerId',
      {
        onRequest: requireAuth(['TENANT_ADMIN', 'CUSTOMER_USER']),
        schema: {
          tags: ['customer'],
          summary: 'Get a customer (a customer user: only their own)',
          params: uuidParams('customerId'),
          response: { 200: customerSchema, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => loadCustomer(store, currentUser(request), request.params.customerId),
    );

    app.get<{ Querystring: PageQuery }>(
      '/api/customers',
      {
        onRequest: requireAuth(['TENANT_ADMIN']),
        schema: {
          tags: ['customer'],
          summary: "Page of the tenant's customers",
          querystring: pageQuerySchema(['createdTime', 'title', 'name']),
          response: { 200: pageDataSchema(customerSchema), ...errorResponses(400, 401, 403) },
        },
      },
      async (request) => store.customers.list(tenantOf(currentUser(request)), request.query),
    );
  };
}
