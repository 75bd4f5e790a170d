// Device profiles: POST /api/deviceProfile, GET /api/deviceProfile/{id}, GET /api/deviceProfiles,
// POST /api/deviceProfile/{id}/default.
import type { FastifyPluginAsync } from 'fastify';
import type { JsonValue } from '../../store/json.js';
import type { Store } from '../../store/store.js';
import { tenantOf } from '../access.js';
import { currentUser, requireAuth } from '../auth/require-auth.js';
import type { ApiContext } from '../context.js';
import { badRequest, itemNotFound } from '../errors.js';
import { entityIdSchema, entityJson, errorResponses, pageDataSchema, pageQuerySchema, uuidParams, type PageQuery } from '../schemas.js';

export const deviceProfileSchema = entityJson("ThingsBoard's DeviceProfile", {
  tenantId: entityIdSchema('TENANT'),
  name: { type: 'string' },
  description: { type: ['string', 'null'] },
  type: { type: 'string', enum: ['DEFAULT'] },
  transportType: { type: 'string' },
  provisionType: { type: 'string' },
  default: { type: 'boolean' },
  defaultRuleChainId: { anyOf: [entityIdSchema('RULE_CHAIN'), { type: 'null' }] },
  defaultQueueName: { type: ['string', 'null'] },
  profileData: {},
});

interface ProfileBody {
  id?: { id: string } | null;
  name: string;
  description?: string | null;
  transportType?: string;
  provisionType?: string;
  default?: boolean;
  defaultRuleChainId?: { id: string } | null;
  defaultQueueName?: string | null;
  profileData?: JsonValue | null;
}

export function deviceProfileRoutes(ctx: ApiContext): FastifyPluginAsync {
  const { store } = ctx.deps;
  const params = uuidParams('deviceProfileId');
  return async (app) => {
    app.post<{ Body: ProfileBody }>(
      '/api/deviceProfile',
      {
        onRequest: requireAuth(['TENANT_ADMIN']),
        schema: {
          tags: ['device profile'],
          summary: 'Create a device profile (no id) or update one (id given); the name is unique in the tenant',
          body: {
            type: 'object',
            required: ['name'],
            properties: {
              id: { anyOf: [entityIdSchema('DEVICE_PROFILE'), { type: 'null' }] },
              name: { type: 'string', minLength: 1 },
              description: { type: ['string', 'null'] },
              transportType: { type: 'string', enum: ['DEFAULT', 'MQTT', 'COAP', 'LWM2M', 'SNMP'] },
              provisionType: { type: 'string' },
              default: { type: 'boolean' },
              defaultRuleChainId: { anyOf: [entityIdSchema('RULE_CHAIN'), { type: 'null' }] },
              defaultQueueName: { type: ['string', 'null'] },
              profileData: {},
            },
          },
          response: { 200: deviceProfileSchema, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const me = currentUser(request);
        const tenantId = tenantOf(me);
        const b = request.body;
        const chainId = b.defaultRuleChainId ? b.defaultRuleChainId.id : b.defaultRuleChainId;
        if (chainId && (await store.ruleChains.get(tenantId, chainId)) === null) throw badRequest(`Rule chain with id [${chainId}] is not found`);
        const fields = {
          name: b.name,
          ...(b.description !== undefined ? { description: b.description } : {}),
          ...(b.transportType !== undefined ? { transportType: b.transportType } : {}),
          ...(b.provisionType !== undefined ? { provisionType: b.provisionType } : {}),
          ...(chainId !== undefined ? { defaultRuleChainId: chainId } : {}),
          ...(b.defaultQueueName !== undefined ? { defaultQueueName: b.defaultQueueName } : {}),
          ...(b.profileData !== undefined ? { profileData: b.profileData } : {}),
        };
        if (!b.id) {
          const profile = await store.deviceProfiles.create(tenantId, { ...fields, default: b.default === true });
          await ctx.events.emit({ type: 'ENTITY_CREATED', tenantId, originator: profile.id, data: profile, user: me });
          return profile;
        }
        await loadProfile(store, tenantId, b.id.id);
        let profile = await store.deviceProfiles.update(tenantId, b.id.id, fields);
        if (b.default === true && !profile.default) profile = await store.deviceProfiles.setDefault(tenantId, profile.id.id);
        await ctx.events.emit({ type: 'ENTITY_UPDATED', tenantId, originator: profile.id, data: profile, user: me });
        return profile;
      },
    );

    app.get<{ Params: { deviceProfileId: string } }>(
      '/api/deviceProfile/:deviceProfileId',
      {
        onRequest: requireAuth(['TENANT_ADMIN']),
        schema: { tags: ['device profile'], summary: 'Get a device profile', params, response: { 200: deviceProfileSchema, ...errorResponses(400, 401, 403, 404) } },
      },
      async (request) => loadProfile(store, tenantOf(currentUser(request)), request.params.deviceProfileId),
    );

    app.get<{ Querystring: PageQuery }>(
      '/api/deviceProfiles',
      {
        onRequest: requireAuth(['TENANT_ADMIN']),
        schema: {
          tags: ['device profile'],
          summary: "Page of the tenant's device profiles",
          querystring: pageQuerySchema(['createdTime', 'name']),
          response: { 200: pageDataSchema(deviceProfileSchema), ...errorResponses(400, 401, 403) },
        },
      },
      async (request) => store.deviceProfiles.list(tenantOf(currentUser(request)), request.query),
    );

    app.post<{ Params: { deviceProfileId: string } }>(
      '/api/deviceProfile/:deviceProfileId/default',
      {
        onRequest: requireAuth(['TENANT_ADMIN']),
        schema: { tags: ['device profile'], summary: "Make a profile the tenant's default", params, response: { 200: deviceProfileSchema, ...errorResponses(400, 401, 403, 404) } },
      },
      async (request) => store.deviceProfiles.setDefault(tenantOf(currentUser(request)), request.params.deviceProfileId),
    );
  };
}

async function loadProfile(store: Store, tenantId: string, profileId: string) {
  const profile = await store.deviceProfiles.get(tenantId, profileId);
  if (profile === null) throw itemNotFound('Device profile', profileId);
  return profile;
}
