// The device-facing MQTT server (ThingsBoard's MQTT transport) on net + mqtt-connection, which
// speaks MQTT 3.1, 3.1.1 and 5 on the server side. Devices authenticate with their access token
// as user name; see handlers/ for each packet type and spec/rpc.md §7.1 for the behaviour.
import { createServer, type Server, type Socket } from 'node:net';
import type { DeviceAuth } from '../device-auth.js';
import { defaultActivityReportIntervalMs, inactivitySweepPeriodMs } from '../device-presence.js';
import type { SessionRegistry } from '../session-registry.js';
import type { TransportContext } from '../transport-api.js';
import { MqttClient } from './client.js';
import { DeviceRateLimiter } from '../rate-limiter.js';
import { newMetrics, type MqttServerContext, type MqttTransportMetrics, type MutableMetrics } from './server-context.js';

export type { MqttDropCounts, MqttTransportMetrics } from './server-context.js';

export interface MqttTransportOptions {
  /** TCP port; 0 = any free port (start() returns the one bound). */
  readonly port: number;
  readonly host: string;
  readonly sessions: SessionRegistry;
  readonly auth: DeviceAuth;
  /** One live session per device: a new one closes the older, here or on another process. Default true. */
  readonly exclusiveSessions?: boolean;
  /** How long a QoS 1 command waits for its PUBACK before TIMEOUT (ThingsBoard MQTT_TIMEOUT). Default 10 000 ms. */
  readonly ackTimeoutMs?: number;
  /** ACTIVITY_EVENT at most once per this per device. Default 10 000 ms, or a quarter of the inactivity timeout when shorter. */
  readonly activityReportIntervalMs?: number;
  /** Device publishes waiting for the rule-engine queue, per session, before reading pauses (ThingsBoard's per-device queue limit). Default 100. */
  readonly maxInflight?: number;
}

export class MqttTransport {
  private readonly server: Server;
  private readonly shared: MqttServerContext;
  private readonly metricsState: MutableMetrics = newMetrics();
  private readonly clients = new Set<MqttClient>();
  private readonly cleanups = new Set<Promise<unknown>>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private boundPort = 0;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly ctx: TransportContext,
    private readonly opts: MqttTransportOptions,
  ) {
    const positive = (name: string, v: number): number => {
      if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`MqttTransport: ${name} must be a positive number`);
      return v;
    };
    if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new RangeError('MqttTransport: port must be 0..65535');
    this.shared = {
      ctx,
      sessions: opts.sessions,
      auth: opts.auth,
      exclusiveSessions: opts.exclusiveSessions ?? true,
      ackTimeoutMs: positive('ackTimeoutMs', opts.ackTimeoutMs ?? 10_000),
      activityReportIntervalMs: positive('activityReportIntervalMs', opts.activityReportIntervalMs ?? defaultActivityReportIntervalMs(ctx.limits)),
      maxInflight: positive('maxInflight', opts.maxInflight ?? 100),
      limiter: new DeviceRateLimiter(ctx.limits),
      metrics: this.metricsState,
      track: (work) => {
        this.cleanups.add(work);
        void work.finally(() => this.cleanups.delete(work));
      },
    };
    this.server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.server.on('error', (e) => ctx.logger.warn(`mqtt: server error: ${e.message}`));
  }

  /** Listens; resolves with the bound port. */
  async start(): Promise<number> {
    if (this.closing) throw new Error('MqttTransport is closed');
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const addr = this.server.address();
    this.boundPort = typeof addr === 'object' && addr ? addr.port : this.opts.port;
    this.sweepTimer = setInterval(() => this.sweep(), inactivitySweepPeriodMs(this.ctx.limits.inactivityTimeoutMs));
    this.sweepTimer.unref();
    this.ctx.logger.info(`mqtt: listening on ${this.opts.host}:${this.boundPort}`);
    return this.boundPort;
  }

  get port(): number {
    return this.boundPort;
  }

  get metrics(): MqttTransportMetrics {
    let sessions = 0;
    for (const c of this.clients) if (c.session) sessions++;
    const m = this.metricsState;
    return {
      connections: this.clients.size,
      sessions,
      accepted: m.accepted,
      authFailures: m.authFailures,
      refusedSubscriptions: m.refusedSubscriptions,
      dropped: { ...m.dropped },
    };
  }

  /** Stops listening and closes every connection (MQTT 5: DISCONNECT 0x8B). Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.sweepTimer);
      const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
      const clients = [...this.clients];
      for (const c of clients) {
        if (c.session) c.session.close('the MQTT transport is shutting down');
        else c.destroy();
      }
      await Promise.all(clients.map((c) => c.closedPromise));
      await stopped;
      // Sessions leave the registry and record DISCONNECT_EVENT before close() resolves.
      await Promise.allSettled([...this.cleanups]);
    })();
    return this.closing;
  }

  private accept(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    socket.on('error', (e) => this.ctx.logger.debug(`mqtt: socket ${socket.remoteAddress ?? '?'}: ${e.message}`));
    this.clients.add(new MqttClient(this.shared, socket, (c) => this.clients.delete(c)));
  }

  /** Inactivity events, on one timer for all connections (the rate limiters drop idle buckets themselves). */
  private sweep(): void {
    const now = Date.now();
    for (const c of this.clients) c.session?.checkInactive(now);
  }
}
