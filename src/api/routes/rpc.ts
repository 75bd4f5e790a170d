// Server-side RPC over REST (spec/rpc.md §2): POST /api/plugins/rpc/{oneway|twoway}/{deviceId} (v1)
// and /api/rpc/{oneway|twoway}/{deviceId} (v2), and the persistent RPC endpoints under
// /api/rpc/persistent. Registered through ApiDeps.plugins (rpcApiPlugin).
//
// A POST puts RPC_CALL_FROM_SERVER_TO_DEVICE on the rule-engine queue (metadata originServiceId =
// this process) and waits for the outcome that the RPC request node sends back over the service
// bus, from whichever process ran it. The caller's wait ends at expiration + 1 s at the latest, and
// a lightweight call may not ask to wait longer than restMaxWaitMs (beyond-thingsboard #4).
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { Store } from '../../store/store.js';
import type { DeviceRpcService } from '../../rpc/device-rpc-service.js';
import { parseRpcBody, restReply, rpcCallMsg, RpcBodyError, type RestRpcCalls } from '../../rpc/rest-rpc.js';
import { storeRouteResolver, type DeviceRouteResolver } from '../../rpc/rpc-events.js';
import { RPC_SORT_PROPERTIES } from '../../rpc/rpc-repository.js';
import { withRpcDefaults, type RpcSettings } from '../../rpc/rpc-settings.js';
import { RPC_STATUSES, type Rpc, type RpcStatus } from '../../rpc/rpc-types.js';
import { deviceAccessForRpc, isCustomerUser, tenantOf } from '../access.js';
import type { AuthUser } from '../auth/auth-user.js';
import { ALL_AUTHORITIES, currentUser, requireAuth } from '../auth/require-auth.js';
import type { ApiPlugin } from '../deps.js';
import { ApiError, badRequest, ErrorMessage, itemNotFound, permissionDenied } from '../errors.js';
import { emptyResponse, entityJson, errorResponses, pageDataSchema, pageQuerySchema, uuidParams, type PageQuery } from '../schemas.js';

export interface RpcRoutesOptions {
  readonly store: Store;
  /** This process's device RPC service (persistent RPCs: read, delete). */
  readonly rpc: Pick<DeviceRpcService, 'deleteRpc' | 'repo'>;
  /** This process's REST waiters; started by the plugin. */
  readonly calls: RestRpcCalls;
  readonly settings?: Partial<RpcSettings>;
  /** Chain and queue of a device's messages; default from its device profile. */
  readonly routeOf?: DeviceRouteResolver;
}

const rpcSchema = entityJson("ThingsBoard's Rpc", {
  tenantId: { type: 'object' },
  deviceId: { type: 'object' },
  expirationTime: { type: 'integer' },
  request: { type: 'object' },
  response: {},
  status: { type: 'string', enum: [...RPC_STATUSES] },
  additionalInfo: {},
});

const POST_DESCRIPTION =
  'Body (text, JSON): {"method", "params", "timeout" ms (default 10000, at least 5000), "expirationTime" epoch ms, "persistent", "retries", "additionalInfo", "requestUUID"}. ' +
  'Answers the device reply (200), 200 empty for one-way, 200 {"rpcId"} for persistent RPC, 406 when the reply is not JSON, and on timeout {v1}. ' +
  'A lightweight call may wait at most RPC_REST_MAX_WAIT_MS (default 300000 ms); a longer window is refused with 400.';

export function rpcApiPlugin(opts: RpcRoutesOptions): ApiPlugin {
  return { name: 'rpc', plugin: rpcRoutes(opts) };
}

export function rpcRoutes(opts: RpcRoutesOptions): FastifyPluginAsync {
  const settings = withRpcDefaults(opts.settings);
  const routeOf = opts.routeOf ?? storeRouteResolver(opts.store);
  const { store, rpc, calls } = opts;

  return async (app) => {
    calls.start();
    // The body is text (ThingsBoard reads a raw String), whatever the content type says: parsing is
    // ours, so that bad JSON gets "Invalid request body" and numbers keep their text.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

    const post = (prefix: string, version: 'v1' | 'v2', oneway: boolean) =>
      app.post<{ Params: { deviceId: string }; Body: string | undefined }>(
        `${prefix}/${oneway ? 'oneway' : 'twoway'}/:deviceId`,
        {
          onRequest: requireAuth(ALL_AUTHORITIES),
          schema: {
            tags: ['rpc'],
            summary: `${oneway ? 'One-way' : 'Two-way'} server-side RPC (${version}${version === 'v1' ? ', deprecated' : ''})`,
            description: POST_DESCRIPTION.replace('{v1}', version === 'v1' ? '408 (409 when the device was never reached)' : '504'),
            params: uuidParams('deviceId'),
            ...(version === 'v1' ? { deprecated: true } : {}),
          },
        },
        async (request, reply) => {
          const me = currentUser(request);
          let body;
          try {
            body = parseRpcBody(typeof request.body === 'string' ? request.body : '', settings);
          } catch (e) {
            if (!(e instanceof RpcBodyError)) throw e;
            if (e.kind === 'invalid') throw badRequest(ErrorMessage.INVALID_BODY);
            if (e.kind === 'tooLong') throw badRequest(e.message);
            throw new ApiError('GENERAL', e.message);
          }
          const access = await deviceAccessForRpc(store, me, request.params.deviceId);
          if (!access.ok) return plain(reply, access.status, access.message);
          const device = access.device;
          const route = await routeOf(device.tenantId.id, device.id.id);
          const msg = rpcCallMsg(
            { tenantId: device.tenantId.id, deviceId: device.id.id, deviceName: device.name, deviceType: device.type, route },
            body,
            { oneway, originServiceId: calls.serviceId, customerId: isCustomerUser(me) ? me.customerId : null },
          );
          const answer = restReply(await calls.call(msg, body), version);
          reply.code(answer.status);
          if (answer.body === undefined) return reply.send();
          return reply.type('application/json; charset=utf-8').send(answer.body);
        },
      );
    for (const [prefix, version] of [
      ['/api/plugins/rpc', 'v1'],
      ['/api/rpc', 'v2'],
    ] as const) {
      post(prefix, version, true);
      post(prefix, version, false);
    }

    app.get<{ Params: { rpcId: string } }>(
      '/api/rpc/persistent/:rpcId',
      {
        onRequest: requireAuth(['TENANT_ADMIN', 'CUSTOMER_USER']),
        schema: {
          tags: ['rpc'],
          summary: 'A persistent RPC',
          description: "Another tenant's RPC → 403; a customer user sees only RPCs of their customer's devices.",
          params: uuidParams('rpcId'),
          response: { 200: rpcSchema, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => loadRpc(currentUser(request), request.params.rpcId),
    );

    app.get<{ Params: { deviceId: string }; Querystring: PageQuery & { rpcStatus?: RpcStatus } }>(
      '/api/rpc/persistent/device/:deviceId',
      {
        onRequest: requireAuth(['TENANT_ADMIN', 'CUSTOMER_USER']),
        schema: {
          tags: ['rpc'],
          summary: "A page of a device's persistent RPCs",
          description: 'textSearch is accepted and ignored, as in ThingsBoard. rpcStatus=DELETED → 400 (deleted RPCs are not kept).',
          params: uuidParams('deviceId'),
          querystring: pageQuerySchema(RPC_SORT_PROPERTIES, { rpcStatus: { type: 'string', enum: [...RPC_STATUSES] } }),
          response: { 200: pageDataSchema(rpcSchema), ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request, reply) => {
        const me = currentUser(request);
        const { rpcStatus, pageSize, page, sortProperty, sortOrder } = request.query;
        if (rpcStatus === 'DELETED') throw badRequest('RpcStatus: DELETED');
        const access = await deviceAccessForRpc(store, me, request.params.deviceId);
        if (!access.ok) return plain(reply, access.status, access.message);
        return rpc.repo.listByDevice(access.device.tenantId.id, access.device.id.id, { pageSize, page, sortProperty, sortOrder }, rpcStatus);
      },
    );

    app.delete<{ Params: { rpcId: string } }>(
      '/api/rpc/persistent/:rpcId',
      {
        onRequest: requireAuth(['TENANT_ADMIN']),
        schema: {
          tags: ['rpc'],
          summary: 'Delete a persistent RPC',
          description: 'Cancels any pending send or retry of it and emits RPC_DELETED. 200 with an empty body.',
          params: uuidParams('rpcId'),
          response: { 200: emptyResponse, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request, reply) => {
        const found = await loadRpc(currentUser(request), request.params.rpcId);
        await rpc.deleteRpc(found.id.id);
        return reply.code(200).send();
      },
    );
  };

  /** The RPC if the caller may see it: 404 unknown, 403 another tenant's or (customer) another customer's device. */
  async function loadRpc(me: AuthUser, rpcId: string): Promise<Rpc> {
    const tenantId = tenantOf(me);
    const stored = await rpc.repo.get(rpcId);
    if (!stored) throw itemNotFound('Rpc', rpcId);
    if (stored.rpc.tenantId.id !== tenantId) throw permissionDenied();
    if (isCustomerUser(me)) {
      const device = await store.devices.findById(tenantId, stored.rpc.deviceId.id);
      if (!device || device.customerId.id !== me.customerId) throw permissionDenied();
    }
    return stored.rpc;
  }
}

/** ThingsBoard's bare answers of the RPC access check: status and plain text, no envelope. */
function plain(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).type('text/plain; charset=utf-8').send(message);
}
