// ThingsBoard's CoAP device API (spec/rpc.md §7.3; CoapTransportResource) on node-coap:
//   POST coap://host/api/v1/{token}/telemetry | attributes   → 2.01
//   GET  coap://host/api/v1/{token}/attributes?clientKeys=&sharedKeys= → 2.05 (4.04 when none)
//   GET  coap://host/api/v1/{token}/attributes  Observe=0 / Observe=1 → shared-attribute updates
//        (2.05 with the current shared attributes, then one 2.05 per update) / their end (2.02)
//   GET  coap://host/api/v1/{token}/rpc  Observe=0 / Observe=1 → RPC subscription (2.03) / its end (2.02)
//   POST coap://host/api/v1/{token}/rpc/{id}                 → 2.01, the reply to command {id}
//   POST coap://host/api/v1/{token}/rpc                      → 2.05 with the rule chain's reply
// Errors: 4.00 bad payload, 4.01 bad token, 4.13 too large, 4.29 rate limit, 5.00 queue failure.
// Datagrams that are not CoAP are dropped (coap-datagram-guard.ts). Devices are present
// (connectivity events) while they make requests or observe; see device-presence.ts.
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { createServer, ObserveWriteStream, type IncomingMessage, type OutgoingMessage, type Server } from 'coap';
import type { DeviceAuth } from '../device-auth.js';
import { attributesMessage, DevicePayloadError, telemetryMessages, toServerRpcMessage } from '../device-messages.js';
import { DevicePresence } from '../device-presence.js';
import type { SessionRegistry } from '../session-registry.js';
import type { DeviceIdentity, TransportContext } from '../transport-api.js';
import type { TbMsg } from '../../msg/tb-msg.js';
import { deviceAttributes, sharedAttributes } from '../http/device-attributes.js';
import { isJsonText, payloadJson, queryKeys, requestIdOf } from '../http/device-payload.js';
import { DeviceRateLimiter } from '../rate-limiter.js';
import { CLIENT_RPC_TIMEOUT_BODY, holdSyncSession, SyncSession } from '../http/sync-session.js';
import { CoapAckTracker } from './coap-ack-tracker.js';
import { CoapAttributeObservation } from './coap-attribute-observation.js';
import { CoapDatagramGuard, type CoapDatagramCounts } from './coap-datagram-guard.js';
import type { CoapObservation, ObservedFeature } from './coap-observation.js';
import { CoapRpcObservation } from './coap-rpc-observation.js';

/** ThingsBoard's transport.coap.timeout. */
export const COAP_DEFAULT_TIMEOUT_MS = 10_000;

/** How long close() waits for requests being answered. */
const CLOSE_WAIT_MS = 1000;

export interface CoapTransportOptions {
  /** UDP port; 0 = a free one (start() tells which). */
  readonly port: number;
  /** Address to bind (default 0.0.0.0; an IPv6 address binds udp6). */
  readonly host?: string;
  readonly sessions: SessionRegistry;
  readonly auth: DeviceAuth;
  /** CON notification ACK wait, and how long a client-side RPC waits (with limits.clientSideRpcTimeoutMs); default 10 000 ms. */
  readonly timeoutMs?: number;
  /** ACTIVITY_EVENT at most once per this per device (default 10 000 ms, as MQTT). */
  readonly activityReportIntervalMs?: number;
}

type Response = OutgoingMessage | ObserveWriteStream;

/** A request to /api/v1/{token}/{feature}[/{id}]. */
interface Route {
  readonly token: string;
  readonly feature: string;
  readonly id: string | undefined;
  readonly query: URLSearchParams;
}

export class CoapTransport {
  private server: Server | undefined;
  private socket: Socket | undefined;
  private readonly limiter: DeviceRateLimiter;
  private readonly acks = new CoapAckTracker();
  private readonly timeoutMs: number;
  private readonly presence: DevicePresence;
  private guard: CoapDatagramGuard | undefined;
  /** One observation per device and feature, as ThingsBoard's client state (device id → observation). */
  private readonly observations: { readonly [F in ObservedFeature]: Map<string, CoapObservation> } = { rpc: new Map(), attributes: new Map() };
  /** What each observation holds of its device's presence. */
  private readonly holds = new Map<CoapObservation, () => void>();
  private readonly pending = new Set<SyncSession>();
  private readonly handling = new Set<Promise<void>>();

  constructor(
    private readonly ctx: TransportContext,
    private readonly opts: CoapTransportOptions,
  ) {
    this.limiter = new DeviceRateLimiter(ctx.limits);
    this.timeoutMs = opts.timeoutMs ?? COAP_DEFAULT_TIMEOUT_MS;
    this.presence = new DevicePresence(ctx, { name: 'coap transport', activityReportIntervalMs: opts.activityReportIntervalMs });
  }

  /** Binds the socket; resolves with the UDP port. */
  async start(): Promise<number> {
    if (this.socket) throw new Error('the CoAP transport is already started');
    const host = this.opts.host ?? '0.0.0.0';
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.opts.port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', (e) => this.ctx.logger.warn(`coap transport: socket: ${e.message}`));
    const server = createServer({ sendAcksForNonConfirmablePackets: true });
    // Our own socket and guard, so we see every well-formed datagram: the ACKs of CON notifications among them.
    const guard = new CoapDatagramGuard(socket, this.ctx.logger);
    guard.install(server, (datagram, from) => this.acks.onDatagram(datagram, from));
    this.guard = guard;
    server.on('request', (req: IncomingMessage, res: Response) => {
      const handling = this.handle(req, res)
        .catch((e: Error) => {
          this.ctx.logger.warn(`coap transport: ${req.method} ${featureOf(req.url)}: ${e.message}`);
          if (!answered(res)) reply(res, '5.00');
        })
        .finally(() => this.handling.delete(handling));
      this.handling.add(handling);
    });
    server.on('error', (e: Error) => this.ctx.logger.warn(`coap transport: ${e.message}`));
    await new Promise<void>((resolve) => server.listen(socket, () => resolve()));
    this.socket = socket;
    this.server = server;
    return socket.address().port;
  }

  async close(): Promise<void> {
    for (const map of Object.values(this.observations)) for (const observation of [...map.values()]) observation.close('the server is shutting down');
    for (const session of [...this.pending]) session.close('the server is shutting down');
    this.acks.clear();
    const server = this.server;
    const socket = this.socket;
    this.server = undefined;
    this.socket = undefined;
    // Present devices get their DISCONNECT_EVENT, as MQTT's sessions at shutdown.
    const disconnected = this.presence.close();
    if (!server || !socket) return disconnected;
    // Requests being answered (client-side RPCs just closed among them) get their answer out
    // before the socket goes; a bounded wait, as one may be stuck on Redis.
    await Promise.race([Promise.allSettled([...this.handling]), new Promise((resolve) => setTimeout(resolve, CLOSE_WAIT_MS))]);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    await disconnected;
  }

  /** Live observations (at most one RPC and one attribute observation per device). */
  get observationCount(): number {
    return this.observations.rpc.size + this.observations.attributes.size;
  }

  /** Datagrams dropped as not CoAP, and requests node-coap refused. */
  get datagrams(): CoapDatagramCounts {
    return this.guard?.counts ?? { malformed: 0, refused: 0 };
  }

  private async handle(req: IncomingMessage, res: Response): Promise<void> {
    const route = routeOf(req.url);
    if (!route) return reply(res, '4.04', 'expected /api/v1/{token}/{telemetry|attributes|rpc}');
    // Before authentication, as a size limit in front of the resource would.
    if (req.payload.length > this.ctx.limits.maxPayloadBytes) return reply(res, '4.13', `payload too large: at most ${this.ctx.limits.maxPayloadBytes} bytes`);
    const handler = this.handlerOf(req, route);
    if (typeof handler === 'string') return reply(res, handler);
    const device = await this.opts.auth.authenticate(route.token);
    if (!device) return reply(res, '4.01');
    // Every request of a known device is activity, a refused one too.
    await this.presence.touch(device);
    if (!this.limiter.tryAcquire(device)) return reply(res, '4.29', 'too many requests: the device or tenant message rate limit is reached');
    try {
      await handler(device, route, req, res);
    } catch (e) {
      if (!(e instanceof DevicePayloadError)) throw e;
      reply(res, '4.00', e.message);
    }
  }

  /** What serves the request, or the response code when nothing does (checked before authentication). */
  private handlerOf(req: IncomingMessage, route: Route): Handler | string {
    const observe = req.headers.Observe;
    switch (`${req.method} ${route.feature}${route.id === undefined ? '' : '/id'}`) {
      case 'POST telemetry':
        return (device, _route, r, res) => this.enqueue(telemetryMessages(device, payloadJson(r.payload)), res);
      case 'POST attributes':
        return (device, _route, r, res) => this.enqueue([attributesMessage(device, payloadJson(r.payload))], res);
      case 'GET attributes':
        // Without Observe: the device's attribute request; with it: shared-attribute updates.
        return observe === undefined ? (device, rt, _r, res) => this.getAttributes(device, rt, res) : this.observeHandler('attributes', observe);
      case 'GET rpc':
        return this.observeHandler('rpc', observe);
      case 'POST rpc':
        return (device, _route, r, res) => this.clientSideRpc(device, r, res);
      case 'POST rpc/id': {
        const requestId = requestIdOf(route.id);
        return requestId === null ? '4.00' : (device, _route, r, res) => this.rpcReply(device, requestId, r, res);
      }
      default:
        // ThingsBoard: an unknown feature, or one that cannot be read this way, is a bad request.
        return route.id === undefined && ['telemetry', 'attributes', 'rpc'].includes(route.feature) && !['GET', 'POST'].includes(req.method) ? '4.05' : '4.00';
    }
  }

  private async enqueue(msgs: readonly TbMsg[], res: Response): Promise<void> {
    try {
      await Promise.all(msgs.map((msg) => this.ctx.toRuleEngine(msg)));
    } catch (e) {
      this.ctx.logger.warn(`coap transport: could not queue ${msgs[0]?.type ?? 'a message'}: ${(e as Error).message}`);
      return reply(res, '5.00');
    }
    reply(res, '2.01');
  }

  private async getAttributes(device: DeviceIdentity, route: Route, res: Response): Promise<void> {
    const result = await deviceAttributes(this.ctx.store, device, queryKeys(route.query.get('clientKeys') ?? ''), queryKeys(route.query.get('sharedKeys') ?? ''));
    if (!result.client && !result.shared) return reply(res, '4.04');
    reply(res, '2.05', JSON.stringify(result), true);
  }

  /** Observe=0 registers, Observe=1 deregisters; anything else is a bad request. */
  private observeHandler(feature: ObservedFeature, observe: unknown): Handler | string {
    // node-coap answers an Observe=0 GET through an ObserveWriteStream.
    if (observe === 0) return (device, _route, r, res) => (res instanceof ObserveWriteStream ? this.observe(feature, device, r, res) : reply(res, '5.00'));
    if (observe === 1) return (device, _route, r, res) => this.deregister(feature, device, r, res);
    return '4.00';
  }

  private async observe(feature: ObservedFeature, device: DeviceIdentity, req: IncomingMessage, stream: ObserveWriteStream): Promise<void> {
    const key = observationKey(req);
    const observations = this.observations[feature];
    const current = observations.get(device.deviceId);
    // A retransmission of an observe request still being answered: that answer will do.
    if (current?.key === key && !current.accepted) return;
    const onEnd = (o: CoapObservation, byDevice: boolean): void => this.ended(o, byDevice);
    const observation =
      feature === 'rpc'
        ? new CoapRpcObservation(device, key, req.rsinfo, stream, { rpc: this.ctx.rpc, acks: this.acks, ackTimeoutMs: this.timeoutMs, onEnd })
        : new CoapAttributeObservation(device, key, req.rsinfo, stream, { logger: this.ctx.logger, onEnd });
    observations.set(device.deviceId, observation);
    // An observing device waits for the server: it stays present until the observation ends.
    this.holds.set(observation, this.presence.hold(device));
    if (current?.key === key) current.supersede();
    else current?.replace();
    try {
      // Registered before the current values are read: an update meanwhile is not lost (it waits for the first response).
      await this.opts.sessions.register(observation, { exclusive: false });
    } catch (e) {
      observation.close('not registered');
      throw e;
    }
    if (!observation.active) return; // closed while registering
    if (observation instanceof CoapRpcObservation) {
      observation.accept();
      // After the 2.03: what the listener sends now must come as notifications after it.
      this.ctx.rpc.onRpcSubscribe(observation);
    } else if (observation instanceof CoapAttributeObservation) {
      // ThingsBoard answers with its shared-attribute request; with none there it answers 4.04,
      // which ends an observation (RFC 7641 §3.2), so here it is an empty object.
      const shared = await sharedAttributes(this.ctx.store, device).catch((e: Error) => {
        observation.close('the attributes could not be read');
        throw e;
      });
      observation.accept(JSON.stringify(shared ? { shared } : {}));
    }
  }

  private ended(observation: CoapObservation, byDevice: boolean): void {
    const observations = this.observations[observation.feature];
    if (observations.get(observation.device.deviceId) === observation) observations.delete(observation.device.deviceId);
    this.holds.get(observation)?.();
    this.holds.delete(observation);
    if (observation.feature === 'rpc') {
      if (byDevice) this.ctx.rpc.onRpcUnsubscribe(observation);
      this.ctx.rpc.onSessionClosed(observation);
    }
    void this.opts.sessions.unregister(observation).catch((e: Error) => this.ctx.logger.warn(`coap transport: unregister failed: ${e.message}`));
  }

  private deregister(feature: ObservedFeature, device: DeviceIdentity, req: IncomingMessage, res: Response): void {
    const observation = this.observations[feature].get(device.deviceId);
    if (!observation || observation.key !== observationKey(req)) return reply(res, '4.04');
    observation.deregister();
    reply(res, '2.02');
  }

  private async rpcReply(device: DeviceIdentity, requestId: number, req: IncomingMessage, res: Response): Promise<void> {
    const payload = payloadJson(req.payload);
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) throw new DevicePayloadError('an RPC reply must be a JSON object');
    // ThingsBoard hands on the re-serialized object (spec/rpc.md §7.3), on the device's observation if it has one.
    const session = this.observations.rpc.get(device.deviceId) ?? new SyncSession('coap', device, this.ctx.rpc, 'none');
    try {
      await this.ctx.rpc.onRpcResponse(session, requestId, JSON.stringify(payload));
    } catch (e) {
      // Not stored nor handed on (Redis away): the device posts it again.
      this.ctx.logger.warn(`coap transport: RPC reply not handed on: ${(e as Error).message}`);
      return reply(res, '5.00');
    }
    reply(res, '2.01');
  }

  private async clientSideRpc(device: DeviceIdentity, req: IncomingMessage, res: Response): Promise<void> {
    const session = new SyncSession('coap', device, this.ctx.rpc, 'none');
    const msg = toServerRpcMessage(device, payloadJson(req.payload), { requestId: 0, serviceId: this.ctx.serviceId, sessionId: session.sessionId });
    // The device waits for the reply: it stays present meanwhile.
    const release = this.presence.hold(device);
    const outcome = await holdSyncSession(session, {
      sessions: this.opts.sessions,
      rpc: this.ctx.rpc,
      // ThingsBoard's CoAP sync session lasts COAP_TIMEOUT; the client-side RPC timeout may be shorter.
      waitMs: Math.min(this.timeoutMs, this.ctx.limits.clientSideRpcTimeoutMs),
      active: this.pending,
      begin: () => this.ctx.toRuleEngine(msg),
    })
      .catch((e: Error) => {
        this.ctx.logger.warn(`coap transport: client-side RPC not queued: ${e.message}`);
        return null;
      })
      .finally(release);
    if (outcome === null) return reply(res, '5.00');
    switch (outcome.kind) {
      case 'reply':
        return reply(res, '2.05', outcome.payload, isJsonText(outcome.payload));
      case 'timeout':
        // ThingsBoard leaves the device without an answer here; the device gets MQTT's timeout reply instead.
        return reply(res, '2.05', CLIENT_RPC_TIMEOUT_BODY, true);
      default:
        return reply(res, '5.03');
    }
  }
}

type Handler = (device: DeviceIdentity, route: Route, req: IncomingMessage, res: Response) => void | Promise<void>;

const replied = new WeakSet<Response>();

function reply(res: Response, code: string, payload?: string, json = false): void {
  replied.add(res);
  if (res instanceof ObserveWriteStream) res.statusCode = code;
  else res.code = code;
  if (json) res.setOption('Content-Format', 'application/json');
  res.end(payload === undefined ? undefined : Buffer.from(payload));
}

/** Whether the request got its response (an observation's first notification counts). */
function answered(res: Response): boolean {
  return replied.has(res) || (res instanceof ObserveWriteStream && res._counter > 0);
}

function routeOf(url: string): Route | null {
  const q = url.indexOf('?');
  const path = (q < 0 ? url : url.slice(0, q)).split('/').filter((s) => s !== '');
  if (path.length < 4 || path.length > 5 || path[0] !== 'api' || path[1] !== 'v1') return null;
  return { token: path[2] as string, feature: path[3] as string, id: path[4], query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)) };
}

/** The feature only, for logs: the URL holds the device's token. */
function featureOf(url: string): string {
  return routeOf(url)?.feature ?? '?';
}

function observationKey(req: IncomingMessage): string {
  return `${req.rsinfo.address}:${req.rsinfo.port}:${req._packet.token?.toString('hex') ?? ''}`;
}
