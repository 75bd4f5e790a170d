// Operators' endpoints: GET /healthz (liveness), GET /readyz (readiness), GET /metrics (Prometheus).
// No authentication, like Spring's actuator probes and every Prometheus target: orchestrators and
// scrapers carry no tokens. They reveal no secrets, but /metrics names rule chains and nodes and
// shows load; expose them on an internal network only (HEALTH_PORT, or leave `metrics` out of the
// plugin registered in a public REST API).
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { ApiPlugin } from '../api/deps.js';
import type { ServiceBus } from '../queue/service-bus.js';
import { withTimeout, type Metrics } from './metrics.js';

export interface CheckResult {
  readonly status: 'UP' | 'DOWN';
  readonly detail?: string;
  readonly rttMs?: number;
}

export interface ReadinessReport {
  readonly status: 'UP' | 'DOWN';
  /** Names of the checks that failed (empty when UP). */
  readonly failing: readonly string[];
  readonly checks: Readonly<Record<string, CheckResult>>;
}

/** A further check: undefined when fine, else why not. */
export type ReadinessCheck = () => string | undefined | Promise<string | undefined>;

export interface ReadinessOptions {
  /** Answers PING; the process' `client` connection (fails fast), not a blocking one. */
  readonly redis: { ping(): Promise<string> };
  readonly bus: Pick<ServiceBus, 'serviceId' | 'isAlive' | 'aliveServices'>;
  /** The roles this process runs; each must be marked started. */
  readonly roles: readonly string[];
  /** Each check must answer within this (default 1 000 ms). */
  readonly timeoutMs?: number;
}

/** What /readyz reports: Redis answers, the service bus is registered, every role has started. */
export class Readiness {
  private readonly started = new Set<string>();
  private readonly extra = new Map<string, ReadinessCheck>();
  private stopping = false;

  constructor(private readonly opts: ReadinessOptions) {}

  /** The role finished starting (after consumer.start(), api.listen(), transport start()). */
  markStarted(role: string): void {
    this.started.add(role);
  }

  /** Shutting down: not ready any more, so load balancers stop sending before the ports close. */
  markStopping(): void {
    this.stopping = true;
  }

  addCheck(name: string, check: ReadinessCheck): void {
    this.extra.set(name, check);
  }

  async check(): Promise<ReadinessReport> {
    const timeoutMs = this.opts.timeoutMs ?? 1000;
    const run = async (fn: () => Promise<CheckResult>): Promise<CheckResult> => {
      try {
        return await withTimeout(fn(), timeoutMs);
      } catch (e) {
        return { status: 'DOWN', detail: (e as Error).message };
      }
    };
    const down = (detail: string): CheckResult => ({ status: 'DOWN', detail });
    const entries: [string, Promise<CheckResult>][] = [
      [
        'redis',
        run(async () => {
          const t = performance.now();
          await this.opts.redis.ping();
          return { status: 'UP', rttMs: Math.round((performance.now() - t) * 1000) / 1000 };
        }),
      ],
      [
        'serviceBus',
        run(async () => {
          const { bus } = this.opts;
          // isAlive(own id) is local (started, not closed); the registry is what other processes see.
          if (!(await bus.isAlive(bus.serviceId))) return down('not started or closed');
          if (!(await bus.aliveServices()).includes(bus.serviceId)) return down(`service ${bus.serviceId} is not registered in Redis`);
          return { status: 'UP' };
        }),
      ],
      ['roles', Promise.resolve(this.rolesCheck())],
    ];
    for (const [name, fn] of this.extra) {
      entries.push([name, run(async () => {
        const problem = await fn();
        return problem === undefined ? { status: 'UP' } : down(problem);
      })]);
    }
    const checks: Record<string, CheckResult> = {};
    for (const [name, p] of entries) checks[name] = await p;
    const failing = Object.keys(checks).filter((k) => checks[k].status === 'DOWN');
    return { status: failing.length === 0 ? 'UP' : 'DOWN', failing, checks };
  }

  private rolesCheck(): CheckResult {
    if (this.stopping) return { status: 'DOWN', detail: 'stopping' };
    const pending = this.opts.roles.filter((r) => !this.started.has(r));
    return pending.length > 0 ? { status: 'DOWN', detail: `not started: ${pending.join(', ')}` } : { status: 'UP', detail: this.opts.roles.join(', ') };
  }
}

export interface HealthPluginOptions {
  readonly readiness: Readiness;
  /** Serves GET /metrics when given. */
  readonly metrics?: Metrics;
}

/** The three routes, as a fastify plugin (ApiPlugin-compatible). */
export function healthPlugin(opts: HealthPluginOptions): FastifyPluginAsync {
  return async (app) => {
    // hide: not part of the ThingsBoard REST API's OpenAPI document.
    app.get('/healthz', { schema: { hide: true } }, async (_req, reply) => {
      // Alive = this event loop answers; dependencies belong to /readyz, or a Redis outage would restart every pod.
      void reply.header('cache-control', 'no-store');
      return { status: 'UP' };
    });
    app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
      const report = await opts.readiness.check();
      void reply.header('cache-control', 'no-store').code(report.status === 'UP' ? 200 : 503);
      return report;
    });
    const metrics = opts.metrics;
    if (metrics) {
      app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
        const text = await metrics.text();
        void reply.header('cache-control', 'no-store').type(metrics.contentType);
        return text;
      });
    }
  };
}

/** The plugin in the form buildApiApp's `plugins` take. */
export function healthApiPlugin(opts: HealthPluginOptions): ApiPlugin {
  return { name: 'health and metrics', plugin: healthPlugin(opts) };
}

export interface HealthServer {
  readonly port: number;
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

/** Serves the health routes alone, for processes without the api role (HEALTH_PORT). Port 0 = any free port. */
export async function startHealthServer(port: number, opts: HealthPluginOptions & { readonly host?: string }): Promise<HealthServer> {
  const app = Fastify({ logger: false });
  await app.register(healthPlugin(opts));
  await app.listen({ port, host: opts.host ?? '0.0.0.0' });
  return {
    port: (app.server.address() as AddressInfo).port,
    app,
    close: () => app.close(),
  };
}
