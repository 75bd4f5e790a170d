// The dashboard: its static files at / and /dashboard/*, and GET /api/dashboard/events, a
// server-sent-events stream of trace steps, RPC status changes and device connection changes.
// Mounted as an extra plugin of the REST app (ApiDeps.plugins); it reuses the app's JWT verifier.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify';
import { concat, type Observable, type Subscription } from 'rxjs';
import { ASSETS, DEFAULT_OUT_DIR, ensureDashboardBuilt, needsBuild } from '../../dashboard/build.js';
import {
  CachedAccess,
  ConnectionWatcher,
  initialConnections,
  OPEN_ACCESS,
  storeAccess,
  userEvents,
  visibleDevices,
  type AccessStore,
  type DashboardAccess,
  type DashboardUser,
} from '../../dashboard/live-events.js';
import { EVENTS_PATH, MAX_WATCHED_DEVICES, sseFrame, TRACE_ALL, type DashboardEvent } from '../../dashboard/shared/events.js';
import type { TraceEvent } from '../../engine/trace.js';
import type { AuthUser } from '../auth/auth-user.js';
import '../auth/require-auth.js'; // the apiJwt decoration's type

export interface DashboardPluginOptions {
  /** Trace steps of the chain runtime (ChainRuntime.trace.events$; TRACE=true turns them on). */
  readonly trace$?: Observable<TraceEvent>;
  /** RPC status events: stored Rpc entities or RPC_* messages (see toRpcStatusEvent). */
  readonly rpcEvents$?: Observable<unknown>;
  /** Polled for the devices a browser shows. */
  readonly sessions?: { isConnected(deviceId: string): Promise<boolean> };
  /** Connection changes as they happen, when the transports have such a stream (else polling only). */
  readonly connections$?: Observable<{ deviceId: string; connected: boolean }>;
  /**
   * Tenant checks for the event stream. Without a store (or `access`) every signed-in user sees
   * every trace step: for tests only, and the plugin logs a warning.
   */
  readonly store?: AccessStore;
  readonly access?: DashboardAccess;
  /** Default: the REST app's verifier (app.apiJwt). */
  readonly jwt?: { verifyAccess(token: string): Promise<AuthUser> };
  /** Where the built files are (default src/dashboard/dist, built when missing or stale). */
  readonly outDir?: string;
  /** Rebuild when the sources change (development). Default: true unless NODE_ENV=production. */
  readonly rebuildOnChange?: boolean;
  readonly connectionPollMs?: number;
  /** A comment line every so often keeps proxies from closing an idle stream. */
  readonly heartbeatMs?: number;
}

/** Bytes waiting for a slow browser before trace steps are dropped, and before the stream ends. */
const TRACE_BUFFERED = 1 << 20;
const MAX_BUFFERED = 8 << 20;

interface Asset {
  readonly body: Buffer;
  readonly etag: string;
}

// The page talks only to this origin and runs only its own bundle.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export function dashboardPlugin(opts: DashboardPluginOptions = {}): FastifyPluginAsync {
  return async (app) => {
    const outDir = opts.outDir ?? DEFAULT_OUT_DIR;
    const rebuildOnChange = opts.rebuildOnChange ?? process.env.NODE_ENV !== 'production';
    if (!opts.store && !opts.access) app.log.warn('dashboard: no store given, so the event stream does not check tenants (tests only)');
    const access = opts.access ?? (opts.store ? new CachedAccess(storeAccess(opts.store)) : OPEN_ACCESS);
    const verifier = verifierOf(app, opts);

    // --- static files -------------------------------------------------------------------------
    let assets: Promise<Map<string, Asset>> | null = null;
    let lastCheck = 0;
    const load = async (): Promise<Map<string, Asset>> => {
      await ensureDashboardBuilt({ outDir });
      const map = new Map<string, Asset>();
      for (const name of Object.keys(ASSETS)) {
        const body = await readFile(join(outDir, name)).catch(() => null);
        if (body !== null) map.set(name, { body, etag: `"${createHash('sha1').update(body).digest('base64url')}"` });
      }
      return map;
    };
    const getAssets = (): Promise<Map<string, Asset>> => {
      const now = Date.now();
      if (assets === null || (rebuildOnChange && now - lastCheck > 1000)) {
        lastCheck = now;
        const previous = assets;
        // Re-checking costs a walk of the sources; a stale bundle is rebuilt, else the cache stays.
        assets = (async () => {
          if (previous !== null && !(await needsBuild(outDir))) return previous;
          return load();
        })();
        assets.catch(() => (assets = null));
      }
      return assets;
    };
    // Build at start-up, so the first visitor does not wait; a failure is reported at the request.
    getAssets().catch((e: unknown) => app.log.error(`dashboard: build failed: ${(e as Error).message}`));

    const serve = async (name: string, ifNoneMatch: string | undefined, reply: FastifyReply) => {
      let files: Map<string, Asset>;
      try {
        files = await getAssets();
      } catch (e) {
        return reply.code(500).type('text/plain; charset=utf-8').send(`The dashboard did not build:\n${(e as Error).message}`);
      }
      const asset = files.get(name);
      const type = ASSETS[name];
      if (!asset || !type) return reply.code(404).type('text/plain; charset=utf-8').send('Not found');
      reply.headers(SECURITY_HEADERS).header('etag', asset.etag).header('cache-control', 'no-cache');
      if (ifNoneMatch === asset.etag) return reply.code(304).send();
      return reply.type(type).send(asset.body);
    };
    const hidden = { schema: { hide: true } } as const;
    app.get('/', hidden, (request, reply) => serve('index.html', request.headers['if-none-match'], reply));
    app.get('/dashboard', hidden, (_request, reply) => reply.redirect('/'));
    app.get<{ Params: { file: string } }>('/dashboard/:file', hidden, (request, reply) => serve(request.params.file, request.headers['if-none-match'], reply));

    // --- live events --------------------------------------------------------------------------
    const watcher = opts.sessions ? new ConnectionWatcher(opts.sessions, opts.connectionPollMs ?? 2000, (e) => app.log.warn(`dashboard: connection poll: ${(e as Error).message}`)) : undefined;
    const pushed: Subscription | undefined = watcher && opts.connections$ ? opts.connections$.subscribe((e) => watcher.push(e)) : undefined;
    const open = new Set<() => void>();
    // Open streams would keep app.close() waiting for ever.
    app.addHook('preClose', async () => {
      for (const end of [...open]) end();
      pushed?.unsubscribe();
      watcher?.close();
    });

    app.get<{ Querystring: { token: string; devices?: string; trace?: string } }>(
      EVENTS_PATH,
      {
        // The token travels in the URL (EventSource sends no headers): keep the URL out of request logs.
        logLevel: 'warn',
        schema: {
          tags: ['dashboard'],
          summary: 'Live dashboard events (server-sent events)',
          description:
            'event: hello | trace | rpc | connection; data: JSON (src/dashboard/shared/events.ts). Trace steps of the tenant\'s chains, status changes of persistent RPCs, connection changes of the listed devices.',
          querystring: {
            type: 'object',
            required: ['token'],
            properties: {
              token: { type: 'string', minLength: 1, description: 'The JWT of POST /api/auth/login (EventSource cannot send headers)' },
              devices: { type: 'string', description: `Comma-separated device ids whose connection state to follow (at most ${MAX_WATCHED_DEVICES})` },
              trace: { type: 'string', pattern: '^([0-9a-fA-F-]{1,64}|\\*)$', description: 'Trace steps of this originator, or * for all of the tenant; none when absent' },
            },
          },
        },
      },
      async (request, reply) => {
        let user: AuthUser;
        try {
          user = await verifier.verifyAccess(request.query.token);
        } catch (e) {
          return reply.code(401).type('application/json; charset=utf-8').send(envelopeOf(e));
        }
        const who: DashboardUser = { email: user.email, authority: user.authority, tenantId: user.tenantId, customerId: user.customerId };
        const asked = (request.query.devices ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter((s) => /^[0-9a-fA-F-]{1,64}$/.test(s))
          .slice(0, MAX_WATCHED_DEVICES);
        const devices = watcher ? await visibleDevices(who, asked, access) : [];
        const watched = new Set(devices);

        const traceOf = request.query.trace === undefined ? null : request.query.trace === TRACE_ALL ? '*' : request.query.trace;

        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          connection: 'keep-alive',
          // nginx and friends buffer responses unless told not to.
          'x-accel-buffering': 'no',
        });
        res.write('retry: 3000\n\n');
        const send = (event: DashboardEvent) => {
          if (res.writableEnded) return;
          // A browser that does not keep up: drop trace steps first, give up (it reconnects) later.
          if (res.writableLength > MAX_BUFFERED) return end(new Error('the browser does not keep up'));
          if (event.type === 'trace' && res.writableLength > TRACE_BUFFERED) return;
          res.write(sseFrame(event));
        };
        send({
          type: 'hello',
          user: who,
          streams: { trace: opts.trace$ !== undefined, rpc: opts.rpcEvents$ !== undefined, connections: watcher !== undefined },
          watching: devices,
          trace: traceOf,
        });
        const unwatch = watcher ? watcher.watch(devices) : () => {};
        const live = userEvents(who, { trace$: opts.trace$, rpcEvents$: opts.rpcEvents$, connections: watcher }, access, watched, traceOf);
        const sub = (watcher ? concat(initialConnections(watcher, devices), live) : live).subscribe({ next: send, error: (e: unknown) => end(e) });
        const heartbeat = setInterval(() => !res.writableEnded && res.write(': ping\n\n'), opts.heartbeatMs ?? 15_000);
        heartbeat.unref();
        let ended = false;
        function end(error?: unknown): void {
          if (ended) return;
          ended = true;
          if (error !== undefined) app.log.warn(`dashboard: event stream ended: ${(error as Error).message}`);
          clearInterval(heartbeat);
          sub.unsubscribe();
          unwatch();
          open.delete(end);
          if (!res.writableEnded) res.end();
        }
        open.add(end);
        request.raw.on('close', () => end());
        res.on('error', () => end());
      },
    );
  };
}

function verifierOf(app: FastifyInstance, opts: DashboardPluginOptions): { verifyAccess(token: string): Promise<AuthUser> } {
  if (opts.jwt) return opts.jwt;
  if (app.hasDecorator('apiJwt')) return app.apiJwt;
  throw new Error('dashboard: no JWT verifier (mount the plugin in the REST app, or pass `jwt`)');
}

/** The REST API's 401 envelope (ApiError.toEnvelope), or ThingsBoard's default one. */
function envelopeOf(e: unknown): unknown {
  const maybe = e as { toEnvelope?: () => unknown } | null;
  if (maybe && typeof maybe.toEnvelope === 'function') return maybe.toEnvelope();
  return { status: 401, message: 'Authentication failed', errorCode: 10, timestamp: Date.now() };
}
