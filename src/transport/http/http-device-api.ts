// ThingsBoard's HTTP device API (spec/rpc.md §7.2; DeviceApiController) as a fastify plugin:
// telemetry, attributes, the attribute-update and RPC long polls, RPC replies and client-side RPC
// under /api/v1/{token}/. Register it without a prefix: the paths are ThingsBoard's, absolute.
// Devices are present (connectivity events) while they make requests; see device-presence.ts.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { TbMsg } from '../../msg/tb-msg.js';
import type { DeviceAuth } from '../device-auth.js';
import { attributesMessage, DevicePayloadError, telemetryMessages, toServerRpcMessage } from '../device-messages.js';
import { DevicePresence } from '../device-presence.js';
import type { SessionRegistry } from '../session-registry.js';
import type { DeviceIdentity, TransportContext } from '../transport-api.js';
import { deviceAttributes } from './device-attributes.js';
import { isJsonText, payloadJson, payloadText, queryKeys, requestIdOf } from './device-payload.js';
import { DeviceRateLimiter } from '../rate-limiter.js';
import { CLIENT_RPC_TIMEOUT_BODY, holdSyncSession, SyncSession, type HoldOptions, type SyncOutcome } from './sync-session.js';

/** ThingsBoard's transport.http.request_timeout: a long poll without `timeout`. */
export const HTTP_DEFAULT_LONG_POLL_MS = 60_000;
/** ThingsBoard's transport.http.max_request_timeout. */
export const HTTP_MAX_LONG_POLL_MS = 300_000;
/** ThingsBoard's transport.http.max_payload_size for /api/v1/** (the RPC paths use limits.maxPayloadBytes). */
export const HTTP_MAX_BODY_BYTES = 52_428_800;

export interface HttpDeviceApiOptions {
  readonly sessions: SessionRegistry;
  readonly auth: DeviceAuth;
  /** Longest long poll, whatever `timeout` asks (default 300 000 ms). */
  readonly maxLongPollMs?: number;
  /** A long poll with `timeout` 0 or absent (default 60 000 ms). */
  readonly defaultLongPollMs?: number;
  /** Body limit of telemetry and attributes (default 50 MiB). */
  readonly maxBodyBytes?: number;
  /** ACTIVITY_EVENT at most once per this per device (default 10 000 ms, as MQTT). */
  readonly activityReportIntervalMs?: number;
}

interface TokenParams {
  token: string;
}

type Query = Record<string, string | string[] | undefined>;

export function httpDeviceApi(ctx: TransportContext, opts: HttpDeviceApiOptions): FastifyPluginAsync {
  return async (app) => {
    const limiter = new DeviceRateLimiter(ctx.limits);
    const presence = new DevicePresence(ctx, { name: 'http device api', activityReportIntervalMs: opts.activityReportIntervalMs });
    const active = new Set<SyncSession>();
    const maxPollMs = opts.maxLongPollMs ?? HTTP_MAX_LONG_POLL_MS;
    const defaultPollMs = Math.min(opts.defaultLongPollMs ?? HTTP_DEFAULT_LONG_POLL_MS, maxPollMs);
    const bodyLimit = opts.maxBodyBytes ?? HTTP_MAX_BODY_BYTES;
    const rpcBodyLimit = ctx.limits.maxPayloadBytes;

    // This plugin is encapsulated: its parser and error handler apply to the device API only.
    // Devices send JSON under any content type (or none), so bodies are taken raw and parsed
    // here, where a malformed one gets a 400 that says what is wrong.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

    app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
      if (error instanceof DevicePayloadError) return reply.code(400).type('text/plain').send(error.message);
      const status = error.statusCode ?? 500;
      if (status === 413) return reply.code(413).type('text/plain').send(`payload too large: at most ${request.routeOptions.bodyLimit} bytes`);
      if (status >= 400 && status < 500) return reply.code(status).type('text/plain').send(error.message);
      // The route pattern, not the URL: the URL holds the device's token.
      ctx.logger.warn(`http device api: ${request.method} ${request.routeOptions.url ?? '?'}: ${error.message}`);
      return reply.code(500).send();
    });

    // Open long polls would hold fastify's close for up to their timeout: they end now, and their
    // connections with them (a keep-alive socket that turns idle after close() would hold it too).
    let closing = false;
    app.addHook('preClose', async () => {
      closing = true;
      for (const session of [...active]) session.close('the server is shutting down');
    });
    app.addHook('onSend', async (_request, reply, payload) => {
      if (closing) reply.header('connection', 'close');
      return payload;
    });
    // After the long polls ended: present devices get their DISCONNECT_EVENT, as MQTT's at shutdown.
    app.addHook('onClose', () => presence.close());

    /** The device of the token, within its rates; otherwise the reply is sent (401, 429) and null returned. */
    async function admit(token: string, reply: FastifyReply): Promise<DeviceIdentity | null> {
      const device = await opts.auth.authenticate(token);
      if (!device) {
        reply.code(401).send();
        return null;
      }
      // Every request of a known device is activity, a refused one too.
      await presence.touch(device);
      if (!limiter.tryAcquire(device)) {
        reply.code(429).type('text/plain').send('too many requests: the device or tenant message rate limit is reached');
        return null;
      }
      return device;
    }

    /** 200 once every message is queued for the rule engine, 500 if that failed. */
    async function enqueue(msgs: readonly TbMsg[], reply: FastifyReply): Promise<FastifyReply> {
      try {
        await Promise.all(msgs.map((msg) => ctx.toRuleEngine(msg)));
      } catch (e) {
        ctx.logger.warn(`http device api: could not queue ${msgs[0]?.type ?? 'a message'}: ${(e as Error).message}`);
        return reply.code(500).send();
      }
      return reply.code(200).send();
    }

    /** A request that ends early (client gone) ends its session. */
    function closeOnAbort(session: SyncSession, reply: FastifyReply): void {
      reply.raw.on('close', () => session.close('the client went away'));
    }

    /** Runs the sync session to its outcome; the device waits meanwhile, so it stays present. */
    async function hold(session: SyncSession, reply: FastifyReply, how: Pick<HoldOptions, 'waitMs' | 'begin'>): Promise<SyncOutcome> {
      closeOnAbort(session, reply);
      const release = presence.hold(session.device);
      try {
        return await holdSyncSession(session, { sessions: opts.sessions, rpc: ctx.rpc, active, ...how });
      } finally {
        release();
      }
    }

    /** A long poll's wait: `timeout` 0 or absent → the default, never above the maximum; null when not a number. */
    function pollWait(value: string | string[] | undefined): number | null {
      const asked = pollTimeout(value);
      return asked === null ? null : asked === 0 ? defaultPollMs : Math.min(asked, maxPollMs);
    }

    app.post<{ Params: TokenParams }>('/api/v1/:token/telemetry', { bodyLimit }, async (request, reply) => {
      const device = await admit(request.params.token, reply);
      if (!device) return reply;
      return enqueue(telemetryMessages(device, payloadJson(bodyOf(request))), reply);
    });

    app.post<{ Params: TokenParams }>('/api/v1/:token/attributes', { bodyLimit }, async (request, reply) => {
      const device = await admit(request.params.token, reply);
      if (!device) return reply;
      return enqueue([attributesMessage(device, payloadJson(bodyOf(request)))], reply);
    });

    app.get<{ Params: TokenParams; Querystring: Query }>('/api/v1/:token/attributes', async (request, reply) => {
      const device = await admit(request.params.token, reply);
      if (!device) return reply;
      const result = await deviceAttributes(ctx.store, device, queryKeys(request.query.clientKeys), queryKeys(request.query.sharedKeys));
      return reply.code(200).type('application/json').send(JSON.stringify(result));
    });

    // Attribute-update long poll (DeviceApiController.subscribeToAttributes): the next shared-attribute
    // change or deletion as JSON, 408 when none came; the current values are GET /attributes.
    app.get<{ Params: TokenParams; Querystring: Query }>('/api/v1/:token/attributes/updates', async (request, reply) => {
      const waitMs = pollWait(request.query.timeout);
      if (waitMs === null) return reply.code(400).type('text/plain').send('timeout must be a whole number of milliseconds');
      const device = await admit(request.params.token, reply);
      if (!device) return reply;
      const outcome = await hold(new SyncSession('http', device, ctx.rpc, 'attributes'), reply, { waitMs });
      if (outcome.kind === 'attributes') return reply.code(200).type('application/json').send(outcome.body);
      return reply.code(408).send();
    });

    // RPC long poll: one command per poll, DELIVERED at once (the session reports it), 408 when none came.
    app.get<{ Params: TokenParams; Querystring: Query }>('/api/v1/:token/rpc', async (request, reply) => {
      const waitMs = pollWait(request.query.timeout);
      if (waitMs === null) return reply.code(400).type('text/plain').send('timeout must be a whole number of milliseconds');
      const device = await admit(request.params.token, reply);
      if (!device) return reply;
      const outcome = await hold(new SyncSession('http', device, ctx.rpc, 'rpc'), reply, { waitMs, begin: (s) => ctx.rpc.onRpcSubscribe(s) });
      if (outcome.kind === 'command') return reply.code(200).type('application/json').send(outcome.body);
      // Timeout, or closed from outside: ThingsBoard answers a remote session close with 408 too.
      return reply.code(408).send();
    });

    // The device's answer to command {requestId}: any text, handed on as is; 200 even for stale ids.
    app.post<{ Params: TokenParams & { requestId: string } }>('/api/v1/:token/rpc/:requestId', { bodyLimit: rpcBodyLimit }, async (request, reply) => {
      const requestId = requestIdOf(request.params.requestId);
      if (requestId === null) return reply.code(400).type('text/plain').send('the request id must be an integer');
      const device = await admit(request.params.token, reply);
      if (!device) return reply;
      const payload = payloadText(bodyOf(request));
      // The reply comes on a request of its own: a session that exists only to name the device.
      try {
        await ctx.rpc.onRpcResponse(new SyncSession('http', device, ctx.rpc, 'none'), requestId, payload);
      } catch (e) {
        // Not stored nor handed on (Redis away): the device posts it again.
        ctx.logger.warn(`http device api: RPC reply not handed on: ${(e as Error).message}`);
        return reply.code(500).send();
      }
      return reply.code(200).send();
    });

    // Client-side RPC (spec/rpc.md §8): requestId 0, the request waits for the rule chain's reply.
    app.post<{ Params: TokenParams }>('/api/v1/:token/rpc', { bodyLimit: rpcBodyLimit }, async (request, reply) => {
      const device = await admit(request.params.token, reply);
      if (!device) return reply;
      const payload = payloadJson(bodyOf(request));
      const session = new SyncSession('http', device, ctx.rpc, 'none');
      const msg = toServerRpcMessage(device, payload, { requestId: 0, serviceId: ctx.serviceId, sessionId: session.sessionId });
      let outcome: SyncOutcome;
      try {
        // One timer, the client-side RPC timeout, answered like MQTT's: ThingsBoard also runs the
        // sync session's own 60 s timer (→ 408) and which fires first is a race there.
        outcome = await hold(session, reply, { waitMs: ctx.limits.clientSideRpcTimeoutMs, begin: () => ctx.toRuleEngine(msg) });
      } catch (e) {
        ctx.logger.warn(`http device api: client-side RPC not queued: ${(e as Error).message}`);
        return reply.code(500).send();
      }
      switch (outcome.kind) {
        case 'reply':
          return reply.code(200).type(isJsonText(outcome.payload) ? 'application/json' : 'text/plain').send(outcome.payload);
        case 'timeout':
          return reply.code(200).type('application/json').send(CLIENT_RPC_TIMEOUT_BODY);
        default:
          return reply.code(408).send();
      }
    });
  };
}

function bodyOf(request: FastifyRequest): Buffer | undefined {
  return Buffer.isBuffer(request.body) ? request.body : undefined;
}

/** `timeout` of a long poll in ms: absent → 0 (the default); null when not a whole number ≥ 0. */
function pollTimeout(value: string | string[] | undefined): number | null {
  if (value === undefined || value === '') return 0;
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value)) return null;
  return Number(value);
}
