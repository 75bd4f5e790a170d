// Devices: POST /api/device[?accessToken=], GET|DELETE /api/device/{deviceId},
// GET /api/tenant/devices, GET /api/customer/{customerId}/devices, credentials, and assignment to
// customers (POST /api/customer/{customerId}/device/{deviceId}, DELETE /api/customer/device/{deviceId}).
import type { FastifyPluginAsync } from 'fastify';
import type { DeviceProfile } from '../../store/device-profiles.js';
import { DuplicateError } from '../../store/errors.js';
import { isNullUuid } from '../../store/ids.js';
import type { JsonObject } from '../../store/json.js';
import type { Store } from '../../store/store.js';
import { loadCustomer, loadDevice, tenantOf } from '../access.js';
import { currentUser, requireAuth } from '../auth/require-auth.js';
import type { ApiContext } from '../context.js';
import { ApiError, badRequest, itemNotFound } from '../errors.js';
import { emptyResponse, entityIdSchema, entityJson, errorResponses, pageDataSchema, pageQuerySchema, uuidParams, type JsonSchema, type PageQuery } from '../schemas.js';

export const deviceSchema = entityJson("ThingsBoard's Device", {
  tenantId: entityIdSchema('TENANT'),
  customerId: entityIdSchema('CUSTOMER'),
  name: { type: 'string' },
  type: { type: 'string', description: "The device profile's name" },
  label: { type: ['string', 'null'] },
  deviceProfileId: { anyOf: [entityIdSchema('DEVICE_PROFILE'), { type: 'null' }] },
  additionalInfo: { type: ['object', 'null'] },
  version: { type: 'integer' },
});

const credentialsSchema: JsonSchema = {
  type: 'object',
  description: "ThingsBoard's DeviceCredentials (ACCESS_TOKEN only)",
  properties: {
    id: { type: 'object', properties: { id: { type: 'string' } } },
    createdTime: { type: 'integer' },
    deviceId: entityIdSchema('DEVICE'),
    credentialsType: { type: 'string', enum: ['ACCESS_TOKEN'] },
    credentialsId: { type: 'string', description: 'The access token' },
    credentialsValue: { type: 'null' },
  },
};

interface DeviceBody {
  id?: { id: string } | null;
  name: string;
  type?: string | null;
  label?: string | null;
  deviceProfileId?: { id: string } | null;
  customerId?: { id: string } | null;
  additionalInfo?: JsonObject | null;
}

interface CredentialsBody {
  deviceId: { id: string };
  credentialsType: 'ACCESS_TOKEN';
  credentialsId?: string | null;
}

const SORT = ['createdTime', 'name'];

export function deviceRoutes(ctx: ApiContext): FastifyPluginAsync {
  const { store } = ctx.deps;
  return async (app) => {
    app.post<{ Body: DeviceBody; Querystring: { accessToken?: string } }>(
      '/api/device',
      {
        onRequest: requireAuth(['TENANT_ADMIN']),
        schema: {
          tags: ['device'],
          summary: 'Create a device (no id) or update one (id given)',
          description:
            'Without deviceProfileId the profile named by `type` is used (created when missing), else the default profile. A new device gets ACCESS_TOKEN credentials: `accessToken` when given, else a generated token.',
          querystring: { type: 'object', properties: { accessToken: { type: 'string', minLength: 1, description: 'Access token for a new device' } } },
          body: {
            type: 'object',
            required: ['name'],
            properties: {
              id: { anyOf: [entityIdSchema('DEVICE'), { type: 'null' }] },
              name: { type: 'string', minLength: 1 },
              type: { type: ['string', 'null'] },
              label: { type: ['string', 'null'] },
              deviceProfileId: { anyOf: [entityIdSchema('DEVICE_PROFILE'), { type: 'null' }] },
              customerId: { anyOf: [entityIdSchema('CUSTOMER'), { type: 'null' }] },
              additionalInfo: { type: ['object', 'null'] },
            },
          },
          response: { 200: deviceSchema, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const me = currentUser(request);
        const tenantId = tenantOf(me);
        const body = request.body;
        if (body.id) {
          const cur = await loadDevice(store, me, body.id.id);
          const profile = body.deviceProfileId || (body.type && body.type !== cur.type) ? await resolveProfile(store, tenantId, body) : null;
          const device = await store.devices.update(tenantId, cur.id.id, {
            name: body.name,
            ...(profile ? { type: profile.name, deviceProfileId: profile.id.id } : {}),
            ...(body.label !== undefined ? { label: body.label } : {}),
            ...(body.additionalInfo !== undefined ? { additionalInfo: body.additionalInfo } : {}),
          });
          await ctx.events.emit({ type: 'ENTITY_UPDATED', tenantId, originator: device.id, customerId: device.customerId.id, data: device, user: me });
          return device;
        }
        const profile = await resolveProfile(store, tenantId, body);
        const customerId = body.customerId && !isNullUuid(body.customerId.id) ? body.customerId.id : null;
        const device = await store.devices.create(tenantId, {
          name: body.name,
          type: profile.name,
          deviceProfileId: profile.id.id,
          label: body.label ?? null,
          customerId,
          additionalInfo: body.additionalInfo ?? null,
        });
        try {
          await store.credentials.save(tenantId, device.id.id, request.query.accessToken);
        } catch (e) {
          // ThingsBoard saves both in one transaction: no device without credentials.
          await store.devices.delete(tenantId, device.id.id);
          throw e;
        }
        await ctx.events.emit({ type: 'ENTITY_CREATED', tenantId, originator: device.id, customerId: device.customerId.id, data: device, user: me });
        return device;
      },
    );

    app.get<{ Params: { deviceId: string } }>(
      '/api/device/:deviceId',
      {
        onRequest: requireAuth(['TENANT_ADMIN', 'CUSTOMER_USER']),
        schema: { tags: ['device'], summary: 'Get a device', params: uuidParams('deviceId'), response: { 200: deviceSchema, ...errorResponses(400, 401, 403, 404) } },
      },
      async (request) => loadDevice(store, currentUser(request), request.params.deviceId),
    );

    app.delete<{ Params: { deviceId: string } }>(
      '/api/device/:deviceId',
      {
        onRequest: requireAuth(['TENANT_ADMIN']),
        schema: {
          tags: ['device'],
          summary: 'Delete a device with its credentials, attributes, time series, relations and alarms',
          params: uuidParams('deviceId'),
          response: { 200: emptyResponse, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request, reply) => {
        const me = currentUser(request);
        const device = await loadDevice(store, me, request.params.deviceId);
        await store.devices.delete(device.tenantId.id, device.id.id);
        await ctx.events.emit({ type: 'ENTITY_DELETED', tenantId: device.tenantId.id, originator: device.id, customerId: device.customerId.id, data: device, user: me });
        return reply.send();
      },
    );

    app.get<{ Querystring: Partial<PageQuery> & { deviceName?: string } }>(
      '/api/tenant/devices',
      {
        onRequest: requireAuth(['TENANT_ADMIN']),
        schema: {
          tags: ['device'],
          summary: "Page of the tenant's devices; or, with deviceName, the device of that name",
          querystring: {
            ...pageQuerySchema(SORT, { deviceName: { type: 'string', minLength: 1, description: 'Return this one device instead of a page' } }),
            required: [],
          },
          response: { 200: { anyOf: [pageDataSchema(deviceSchema), deviceSchema] }, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const tenantId = tenantOf(currentUser(request));
        const { deviceName, ...link } = request.query;
        if (deviceName !== undefined) {
          const device = await store.devices.findByName(tenantId, deviceName);
          if (device === null) throw new ApiError('ITEM_NOT_FOUND', `Device with name [${deviceName}] is not found`);
          return device;
        }
        return store.devices.listByTenant(tenantId, requirePage(link));
      },
    );

    app.get<{ Params: { customerId: string }; Querystring: PageQuery }>(
      '/api/customer/:customerId/devices',
      {
        onRequest: requireAuth(['TENANT_ADMIN', 'CUSTOMER_USER']),
        schema: {
          tags: ['device'],
          summary: "Page of a customer's devices",
          params: uuidParams('customerId'),
          querystring: pageQuerySchema(SORT),
          response: { 200: pageDataSchema(deviceSchema), ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const customer = await loadCustomer(store, currentUser(request), request.params.customerId);
        return store.devices.listByCustomer(customer.tenantId.id, customer.id.id, request.query);
      },
    );

    app.get<{ Params: { deviceId: string } }>(
      '/api/device/:deviceId/credentials',
      {
        onRequest: requireAuth(['TENANT_ADMIN', 'CUSTOMER_USER']),
        schema: { tags: ['device'], summary: "A device's credentials", params: uuidParams('deviceId'), response: { 200: credentialsSchema, ...errorResponses(400, 401, 403, 404) } },
      },
      async (request) => {
        const device = await loadDevice(store, currentUser(request), request.params.deviceId);
        const credentials = await store.credentials.findByDeviceId(device.tenantId.id, device.id.id);
        if (credentials === null) throw itemNotFound('Device credentials of device', device.id.id);
        return credentials;
      },
    );

    app.post<{ Body: CredentialsBody }>(
      '/api/device/credentials',
      {
        onRequest: requireAuth(['TENANT_ADMIN']),
        schema: {
          tags: ['device'],
          summary: "Set a device's access token (generated when credentialsId is empty)",
          body: {
            type: 'object',
            required: ['deviceId', 'credentialsType'],
            properties: {
              id: { type: ['object', 'null'] },
              deviceId: entityIdSchema('DEVICE'),
              credentialsType: { type: 'string', enum: ['ACCESS_TOKEN'] },
              credentialsId: { type: ['string', 'null'] },
              credentialsValue: { type: 'null' },
            },
          },
          response: { 200: credentialsSchema, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const me = currentUser(request);
        const device = await loadDevice(store, me, request.body.deviceId.id);
        const token = request.body.credentialsId || undefined;
        return store.credentials.save(device.tenantId.id, device.id.id, token);
      },
    );

    app.post<{ Params: { customerId: string; deviceId: string } }>(
      '/api/customer/:customerId/device/:deviceId',
      {
        onRequest: requireAuth(['TENANT_ADMIN']),
        schema: {
          tags: ['device'],
          summary: 'Assign a device to a customer',
          params: uuidParams('customerId', 'deviceId'),
          response: { 200: deviceSchema, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const me = currentUser(request);
        const customer = await loadCustomer(store, me, request.params.customerId);
        const cur = await loadDevice(store, me, request.params.deviceId);
        const device = await store.devices.assignToCustomer(cur.tenantId.id, cur.id.id, customer.id.id);
        await ctx.events.emit({
          type: 'ENTITY_ASSIGNED',
          tenantId: device.tenantId.id,
          originator: device.id,
          customerId: customer.id.id,
          data: device,
          user: me,
          metaData: { assignedCustomerId: customer.id.id, assignedCustomerName: customer.title },
        });
        return device;
      },
    );

    app.delete<{ Params: { deviceId: string } }>(
      '/api/customer/device/:deviceId',
      {
        onRequest: requireAuth(['TENANT_ADMIN']),
        schema: {
          tags: ['device'],
          summary: 'Unassign a device from its customer',
          params: uuidParams('deviceId'),
          response: { 200: deviceSchema, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const me = currentUser(request);
        const cur = await loadDevice(store, me, request.params.deviceId);
        if (isNullUuid(cur.customerId.id)) throw badRequest("Device isn't assigned to any customer!");
        const customer = await store.customers.get(cur.tenantId.id, cur.customerId.id);
        const device = await store.devices.unassignFromCustomer(cur.tenantId.id, cur.id.id);
        await ctx.events.emit({
          type: 'ENTITY_UNASSIGNED',
          tenantId: device.tenantId.id,
          originator: device.id,
          customerId: cur.customerId.id,
          data: device,
          user: me,
          metaData: { unassignedCustomerId: cur.customerId.id, unassignedCustomerName: customer?.title ?? '' },
        });
        return device;
      },
    );
  };
}

/** ThingsBoard: without deviceProfileId, the profile named `type` (created when missing), else the default one. */
async function resolveProfile(store: Store, tenantId: string, body: Pick<DeviceBody, 'type' | 'deviceProfileId'>): Promise<DeviceProfile> {
  if (body.deviceProfileId) {
    const profile = await store.deviceProfiles.get(tenantId, body.deviceProfileId.id);
    if (profile === null) throw itemNotFound('Device profile', body.deviceProfileId.id);
    return profile;
  }
  const name = body.type ?? undefined;
  if (name === undefined || name === '') {
    const def = await store.deviceProfiles.getDefault(tenantId);
    return def ?? findOrCreateProfile(store, tenantId, 'default', true);
  }
  return findOrCreateProfile(store, tenantId, name, false);
}

async function findOrCreateProfile(store: Store, tenantId: string, name: string, isDefault: boolean): Promise<DeviceProfile> {
  const found = await store.deviceProfiles.findByName(tenantId, name);
  if (found !== null) return found;
  try {
    return await store.deviceProfiles.create(tenantId, { name, default: isDefault });
  } catch (e) {
    // Another request created it first.
    if (!(e instanceof DuplicateError)) throw e;
    const raced = await store.deviceProfiles.findByName(tenantId, name);
    if (raced === null) throw e;
    return raced;
  }
}

function requirePage(link: Partial<PageQuery>): PageQuery {
  if (link.pageSize === undefined) throw badRequest('querystring.pageSize is required');
  if (link.page === undefined) throw badRequest('querystring.page is required');
  return { ...link, pageSize: link.pageSize, page: link.page };
}
