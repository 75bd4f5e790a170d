// Users: POST /api/user (create/update), GET|DELETE /api/user/{userId},
// GET /api/tenant/{tenantId}/users, GET /api/customer/{customerId}/users.
import type { FastifyPluginAsync } from 'fastify';
import { NULL_UUID } from '../../store/ids.js';
import type { JsonObject } from '../../store/json.js';
import type { Store } from '../../store/store.js';
import type { Authority, User } from '../../store/users.js';
import { isCustomerUser, loadCustomer, tenantOf } from '../access.js';
import type { AuthUser } from '../auth/auth-user.js';
import { currentUser, requireAuth } from '../auth/require-auth.js';
import type { ApiContext } from '../context.js';
import { badRequest, itemNotFound, permissionDenied } from '../errors.js';
import { emptyResponse, entityIdSchema, entityJson, errorResponses, pageDataSchema, pageQuerySchema, uuidParams, type PageQuery } from '../schemas.js';

export const userSchema = entityJson("ThingsBoard's User (no password)", {
  tenantId: entityIdSchema('TENANT'),
  customerId: entityIdSchema('CUSTOMER'),
  email: { type: 'string' },
  name: { type: 'string' },
  authority: { type: 'string', enum: ['SYS_ADMIN', 'TENANT_ADMIN', 'CUSTOMER_USER'] },
  firstName: { type: ['string', 'null'] },
  lastName: { type: ['string', 'null'] },
  phone: { type: ['string', 'null'] },
  additionalInfo: { type: ['object', 'null'] },
});

interface UserBody {
  id?: { id: string };
  email: string;
  authority: Authority;
  tenantId?: { id: string } | null;
  customerId?: { id: string } | null;
  firstName?: string | null;
  lastName?: string | null;
  phone?: string | null;
  additionalInfo?: JsonObject | null;
  password?: string;
}

const userBody = {
  type: 'object',
  required: ['email', 'authority'],
  properties: {
    id: { anyOf: [entityIdSchema('USER'), { type: 'null' }] },
    email: { type: 'string', format: 'email' },
    authority: { type: 'string', enum: ['SYS_ADMIN', 'TENANT_ADMIN', 'CUSTOMER_USER'] },
    tenantId: { anyOf: [entityIdSchema('TENANT'), { type: 'null' }] },
    customerId: { anyOf: [entityIdSchema('CUSTOMER'), { type: 'null' }] },
    firstName: { type: ['string', 'null'] },
    lastName: { type: ['string', 'null'] },
    phone: { type: ['string', 'null'] },
    additionalInfo: { type: ['object', 'null'] },
    password: {
      type: 'string',
      minLength: 1,
      description: 'rpc-chains extension: the initial password (ThingsBoard sends an activation e-mail instead).',
    },
  },
} as const;

const SORT = ['createdTime', 'email', 'firstName', 'lastName'];

export function userRoutes(ctx: ApiContext): FastifyPluginAsync {
  const { store } = ctx.deps;
  return async (app) => {
    app.post<{ Body: UserBody }>(
      '/api/user',
      {
        onRequest: requireAuth(['SYS_ADMIN', 'TENANT_ADMIN']),
        schema: {
          tags: ['user'],
          summary: 'Create a user (no id) or update one (id given)',
          description: 'A system administrator creates tenant administrators; a tenant administrator creates tenant administrators and customer users of their tenant.',
          querystring: { type: 'object', properties: { sendActivationMail: { type: 'boolean', description: 'Accepted and ignored (no mail here)' } } },
          body: userBody,
          response: { 200: userSchema, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const me = currentUser(request);
        const body = request.body;
        if (body.id) return updateUser(ctx, me, body.id.id, body);
        const tenantId = targetTenant(me, body);
        if (body.authority === 'CUSTOMER_USER' && !body.customerId) throw badRequest('customerId is required for a customer user');
        if (tenantId !== NULL_UUID && (await store.tenants.get(tenantId)) === null) throw itemNotFound('Tenant', tenantId);
        const user = await store.users.create({
          email: body.email,
          authority: body.authority,
          tenantId,
          customerId: body.authority === 'CUSTOMER_USER' ? body.customerId?.id : undefined,
          firstName: body.firstName ?? null,
          lastName: body.lastName ?? null,
          phone: body.phone ?? null,
          additionalInfo: body.additionalInfo ?? null,
          ...(body.password !== undefined ? { password: body.password } : {}),
        });
        if (user.authority !== 'SYS_ADMIN') {
          await ctx.events.emit({ type: 'ENTITY_CREATED', tenantId, originator: user.id, customerId: user.customerId.id, data: user, user: me });
        }
        return user;
      },
    );

    app.get<{ Params: { userId: string } }>(
      '/api/user/:userId',
      {
        onRequest: requireAuth(),
        schema: { tags: ['user'], summary: 'Get a user', params: uuidParams('userId'), response: { 200: userSchema, ...errorResponses(400, 401, 403, 404) } },
      },
      async (request) => readableUser(store, currentUser(request), request.params.userId),
    );

    app.delete<{ Params: { userId: string } }>(
      '/api/user/:userId',
      {
        onRequest: requireAuth(['SYS_ADMIN', 'TENANT_ADMIN']),
        schema: { tags: ['user'], summary: 'Delete a user', params: uuidParams('userId'), response: { 200: emptyResponse, ...errorResponses(400, 401, 403, 404) } },
      },
      async (request, reply) => {
        const me = currentUser(request);
        const user = await readableUser(store, me, request.params.userId);
        if (user.id.id === me.userId) throw badRequest('You cannot delete yourself');
        await store.users.delete(user.tenantId.id, user.id.id);
        if (user.authority !== 'SYS_ADMIN') {
          await ctx.events.emit({ type: 'ENTITY_DELETED', tenantId: user.tenantId.id, originator: user.id, customerId: user.customerId.id, data: user, user: me });
        }
        return reply.send();
      },
    );

    app.get<{ Params: { tenantId: string }; Querystring: PageQuery }>(
      '/api/tenant/:tenantId/users',
      {
        onRequest: requireAuth(['SYS_ADMIN']),
        schema: {
          tags: ['user'],
          summary: "A tenant's administrators",
          params: uuidParams('tenantId'),
          querystring: pageQuerySchema(SORT),
          response: { 200: pageDataSchema(userSchema), ...errorResponses(400, 401, 403) },
        },
      },
      async (request) => store.users.listByTenant(request.params.tenantId, request.query, 'TENANT_ADMIN'),
    );

    app.get<{ Params: { customerId: string }; Querystring: PageQuery }>(
      '/api/customer/:customerId/users',
      {
        onRequest: requireAuth(['TENANT_ADMIN']),
        schema: {
          tags: ['user'],
          summary: "A customer's users",
          params: uuidParams('customerId'),
          querystring: pageQuerySchema(SORT),
          response: { 200: pageDataSchema(userSchema), ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const me = currentUser(request);
        const customer = await loadCustomer(store, me, request.params.customerId);
        return store.users.listByCustomer(customer.tenantId.id, customer.id.id, request.query);
      },
    );
  };
}

/** Where a new user goes: a system administrator names the tenant; a tenant administrator creates in their own. */
function targetTenant(me: AuthUser, body: UserBody): string {
  if (me.authority === 'SYS_ADMIN') {
    if (body.authority !== 'TENANT_ADMIN') throw permissionDenied();
    if (!body.tenantId) throw badRequest('tenantId is required for a tenant administrator');
    return body.tenantId.id;
  }
  if (body.authority === 'SYS_ADMIN') throw permissionDenied();
  return tenantOf(me);
}

async function updateUser(ctx: ApiContext, me: AuthUser, userId: string, body: UserBody): Promise<User> {
  const cur = await readableUser(ctx.deps.store, me, userId);
  if (cur.email.toLowerCase() !== body.email.toLowerCase() || cur.authority !== body.authority) {
    throw badRequest("Changing a user's email or authority is not supported");
  }
  const tenantId = cur.tenantId.id;
  const user = await ctx.deps.store.users.update(tenantId, userId, {
    ...(body.firstName !== undefined ? { firstName: body.firstName } : {}),
    ...(body.lastName !== undefined ? { lastName: body.lastName } : {}),
    ...(body.phone !== undefined ? { phone: body.phone } : {}),
    ...(body.additionalInfo !== undefined ? { additionalInfo: body.additionalInfo } : {}),
  });
  if (body.password !== undefined) await ctx.deps.store.users.setPassword(tenantId, userId, body.password);
  if (user.authority !== 'SYS_ADMIN') {
    await ctx.events.emit({ type: 'ENTITY_UPDATED', tenantId, originator: user.id, customerId: user.customerId.id, data: user, user: me });
  }
  return user;
}

/**
 * A user the caller may see: a system administrator sees administrators (looked up across
 * tenants: users are kept per tenant), a tenant administrator the users of their tenant, a
 * customer user only themselves.
 */
async function readableUser(store: Store, me: AuthUser, userId: string): Promise<User> {
  if (me.authority === 'SYS_ADMIN') {
    const user = await findInAnyTenant(store, userId);
    if (user === null) throw itemNotFound('User', userId);
    if (user.authority === 'CUSTOMER_USER') throw permissionDenied();
    return user;
  }
  const user = await store.users.get(tenantOf(me), userId);
  if (user === null) throw itemNotFound('User', userId);
  if (isCustomerUser(me) && user.id.id !== me.userId) throw permissionDenied();
  return user;
}

async function findInAnyTenant(store: Store, userId: string): Promise<User | null> {
  const sys = await store.users.get(NULL_UUID, userId);
  if (sys !== null) return sys;
  for (let page = 0; ; page++) {
    const tenants = await store.tenants.list({ pageSize: 100, page });
    const found = (await Promise.all(tenants.data.map((t) => store.users.get(t.id.id, userId)))).find((u) => u !== null);
    if (found) return found;
    if (!tenants.hasNext) return null;
  }
}
