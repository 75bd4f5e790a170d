// Prometheus metrics of one process, on a registry of its own (tests and embedders may run several
// systems in one process; the global registry would mix them). Served by GET /metrics (health.ts).
//
// Series:
//   rule_engine_queue_depth{queue,partition,state}       packs (BullMQ jobs) waiting/active/delayed/failed, read per scrape:
//                                                         one Lua call per partition (30 for the default queues); every
//                                                         process given `queues` reports the same numbers (use max by)
//   rule_engine_messages_{processed,failed,retried}_total{queue}   message attempts, from instrumentHandler()
//   rule_engine_consumer_messages_total{result}           this process' consumer totals (stats()): succeeded/failed/timed_out/skipped
//   rule_engine_consumer_packs_total, rule_engine_consumer_packs_handed_back_total
//   rule_node_messages_total{chain,node,relation}, rule_node_duration_seconds{chain,node}   from the trace stream (only when tracing is on)
//   rpc_status_total{status}, rpc_latency_seconds{kind}   fed by the RPC service
//   transport_sessions{transport}                         local device sessions, read per scrape
//   redis_up, redis_rtt_seconds                           PING every pingIntervalMs
//   process_*, nodejs_*                                   prom-client's default metrics
import { performance } from 'node:perf_hooks';
import { Queue } from 'bullmq';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Subscription } from 'rxjs';
import type { TraceHub } from '../engine/trace.js';
import { DEFAULT_QUEUE } from '../msg/tb-msg.js';
import type { ConsumerStats } from '../queue/consumer.js';
import type { MsgHandler } from '../queue/pack.js';
import { DEFAULT_KEY_BASE, partitionPrefix } from '../queue/partitions.js';
import type { QueueConfig } from '../queue/queue-config.js';
import type { RedisClient } from '../store/redis-client.js';
import { RPC_STATUSES, type RpcStatus } from '../rpc/rpc-types.js';

export interface MetricsOptions {
  /** Connection for the PING probe and the queue depths (a `client` connection: fails fast). */
  readonly redis?: RedisClient;
  /** How often Redis is PINGed for redis_rtt_seconds (default 10 000 ms). */
  readonly pingIntervalMs?: number;
  /** A PING slower than this counts as Redis down (default 2 000 ms). */
  readonly pingTimeoutMs?: number;
  /** Rule-engine queues whose depth is reported; none = no depth series (give them in rule-engine processes). */
  readonly queues?: readonly QueueConfig[];
  /** Base of the queue keys; the consumer's and producer's keyBase (default 'rc-q'). */
  readonly keyBase?: string;
  /** A scrape gives up reading queue depths after this long (default 2 000 ms) and reports none. */
  readonly depthTimeoutMs?: number;
  /** Distinct chain/node pairs in the per-node series at most (default 2 000); more are counted as "(other)". */
  readonly maxNodeSeries?: number;
  /** Labels on every series, e.g. { service: serviceId }. */
  readonly defaultLabels?: Readonly<Record<string, string>>;
  /** prom-client's process and Node.js metrics (default true). */
  readonly processMetrics?: boolean;
}

/** How one attempt at a message ended, as the consumer sees it. */
export type MsgAttemptOutcome = 'success' | 'failure';

/** Local sessions per transport protocol ("mqtt", "http", "coap"). */
export type SessionCounts = () => Readonly<Partial<Record<string, number>>>;

// Node steps take µs to ms; RPCs ms to the request timeout.
const NODE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const RPC_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const DEPTH_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
const OTHER = '(other)';
const OTHER_KEY = `${OTHER}\u0000${OTHER}`;

interface QueueCounters {
  readonly processed: Counter.Internal;
  readonly failed: Counter.Internal;
  readonly retried: Counter.Internal;
}

interface NodeSeries {
  readonly chain: string;
  readonly node: string;
  readonly duration: Histogram.Internal<'chain' | 'node'>;
  /** Messages per relation: `n` counted, `flushed` already added to the counter. */
  readonly byRelation: Map<string, { n: number; flushed: number }>;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly rpcStatusCounter: Counter<'status'>;
  private readonly rpcLatency: Histogram<'kind'>;
  private readonly processed: Counter<'queue'>;
  private readonly failed: Counter<'queue'>;
  private readonly retried: Counter<'queue'>;
  private readonly nodeDuration: Histogram<'chain' | 'node'>;
  private readonly redisUp: Gauge;
  private readonly redisRtt: Gauge;
  private readonly byQueue = new Map<string, QueueCounters>();
  private readonly byNode = new Map<string, NodeSeries>();
  private readonly maxNodeSeries: number;
  private readonly depthQueues: { readonly name: string; readonly partition: number; readonly bull: Queue }[] = [];
  private sessions: SessionCounts | undefined;
  private consumerStats: (() => Readonly<ConsumerStats>) | undefined;
  private readonly subscriptions: Subscription[] = [];
  private pingTimer: NodeJS.Timeout | undefined;
  private pinging = false;
  private closed = false;

  constructor(private readonly opts: MetricsOptions = {}) {
    const registers = [this.registry];
    if (opts.defaultLabels) this.registry.setDefaultLabels({ ...opts.defaultLabels });
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.maxNodeSeries = opts.maxNodeSeries ?? 2000;

    this.rpcStatusCounter = new Counter({ name: 'rpc_status_total', help: 'Server-side RPCs reaching each status (ThingsBoard RpcStatus).', labelNames: ['status'], registers });
    // Every status from 0, so that rate() and alerts see the series before the first of its kind.
    for (const s of RPC_STATUSES) this.rpcStatusCounter.labels(s).inc(0);
    this.rpcLatency = new Histogram({ name: 'rpc_latency_seconds', help: 'Server-side RPC latency, request to outcome.', labelNames: ['kind'], buckets: RPC_BUCKETS, registers });

    this.processed = new Counter({ name: 'rule_engine_messages_processed_total', help: 'Message attempts that ended in success, per rule-engine queue.', labelNames: ['queue'], registers });
    this.failed = new Counter({ name: 'rule_engine_messages_failed_total', help: 'Message attempts that ended in failure, per rule-engine queue.', labelNames: ['queue'], registers });
    this.retried = new Counter({ name: 'rule_engine_messages_retried_total', help: 'Message attempts that were retries (attempt > 1), per rule-engine queue.', labelNames: ['queue'], registers });

    const self = this;
    new Counter({
      name: 'rule_node_messages_total',
      help: 'Messages each rule node sent down each relation ("(none)" = branch ended). Only while tracing is on.',
      labelNames: ['chain', 'node', 'relation'],
      registers,
      // Counted in plain numbers per trace event and added here per scrape: prom-client's inc() hashes labels (~0.7 µs).
      collect() {
        for (const s of self.byNode.values()) {
          for (const [relation, c] of s.byRelation) {
            if (c.n > c.flushed) this.inc({ chain: s.chain, node: s.node, relation }, c.n - c.flushed);
            c.flushed = c.n;
          }
        }
      },
    });
    this.nodeDuration = new Histogram({
      name: 'rule_node_duration_seconds',
      help: 'Time a rule node took per message. Only while tracing is on.',
      labelNames: ['chain', 'node'],
      buckets: NODE_BUCKETS,
      registers,
    });

    this.redisUp = new Gauge({ name: 'redis_up', help: '1 when the last PING was answered in time.', registers });
    this.redisRtt = new Gauge({ name: 'redis_rtt_seconds', help: 'Round trip of the last PING to Redis (NaN when it failed).', registers });

    new Gauge({
      name: 'transport_sessions',
      help: 'Device sessions held by this process, per transport.',
      labelNames: ['transport'],
      registers,
      collect() {
        this.reset();
        for (const [transport, n] of Object.entries(self.sessions?.() ?? {})) if (n !== undefined) this.labels(transport).set(n);
      },
    });

    if (opts.queues && opts.queues.length > 0) {
      if (!opts.redis) throw new TypeError('Metrics: queue depths need a redis connection');
      const base = opts.keyBase ?? DEFAULT_KEY_BASE;
      for (const q of opts.queues) {
        for (let p = 0; p < q.partitions; p++) {
          // Shares the connection (BullMQ does not close a connection it was given).
          const bull = new Queue(q.name, { connection: opts.redis, prefix: partitionPrefix(base, p), skipWaitingForReady: true });
          bull.on('error', () => undefined); // a failed read shows as missing depth series and redis_up 0
          this.depthQueues.push({ name: q.name, partition: p, bull });
        }
      }
      const timeoutMs = opts.depthTimeoutMs ?? 2000;
      new Gauge({
        name: 'rule_engine_queue_depth',
        help: 'Packs (BullMQ jobs of up to maxPackSize messages) per rule-engine queue, partition and state; failed = kept failed packs.',
        labelNames: ['queue', 'partition', 'state'],
        registers,
        async collect() {
          this.reset();
          const counts = await withTimeout(
            Promise.all(self.depthQueues.map((d) => d.bull.getJobCounts(...DEPTH_STATES))),
            timeoutMs,
          ).catch(() => undefined);
          // No stale numbers while Redis does not answer: the series disappear, redis_up says why.
          if (!counts) return;
          self.depthQueues.forEach((d, i) => {
            for (const state of DEPTH_STATES) this.labels(d.name, String(d.partition), state).set(counts[i][state] ?? 0);
          });
        },
      });
    }

    // Consumer totals as counters: stats() only grows, so each scrape adds what it grew by.
    const last = new Map<string, number>();
    const growth = (key: string, value: number): number => {
      const before = last.get(key) ?? 0;
      last.set(key, value);
      // A smaller value means a new consumer object: count it from 0.
      return value >= before ? value - before : value;
    };
    new Counter({
      name: 'rule_engine_consumer_messages_total',
      help: "This process' rule-engine consumer: messages succeeded (once each), failed and timed-out attempts, messages skipped by the processing strategy.",
      labelNames: ['result'],
      registers,
      collect() {
        const s = self.consumerStats?.();
        if (!s) return;
        this.labels('succeeded').inc(growth('succeeded', s.succeeded));
        this.labels('failed').inc(growth('failed', s.failed));
        this.labels('timed_out').inc(growth('timedOut', s.timedOut));
        this.labels('skipped').inc(growth('skipped', s.skipped));
      },
    });
    new Counter({
      name: 'rule_engine_consumer_packs_total',
      help: "Packs this process' rule-engine consumer completed.",
      registers,
      collect() {
        const s = self.consumerStats?.();
        if (s) this.inc(growth('packs', s.packs));
      },
    });
    new Counter({
      name: 'rule_engine_consumer_packs_handed_back_total',
      help: 'Packs given back to their queue mid-retry (consumer closing, partition lost).',
      registers,
      collect() {
        const s = self.consumerStats?.();
        if (s) this.inc(growth('handedBack', s.handedBack));
      },
    });
  }

  /** Starts the Redis PING probe (if a connection was given). */
  start(): void {
    if (this.closed || this.pingTimer || !this.opts.redis) return;
    void this.ping();
    this.pingTimer = setInterval(() => void this.ping(), this.opts.pingIntervalMs ?? 10_000);
    this.pingTimer.unref();
  }

  /** A server-side RPC reached `status`; called by the RPC service on every transition. */
  rpcStatus(status: RpcStatus): void {
    this.rpcStatusCounter.labels(status).inc();
  }

  /** A server-side RPC of `kind` (e.g. "oneway", "twoway") took `seconds` from request to outcome. */
  observeRpcLatency(seconds: number, kind: string): void {
    this.rpcLatency.labels(kind).observe(seconds);
  }

  /** One attempt at a message of `queue` ended; `attempt` is 1 for the first, 2 for the first retry. */
  msgAttempt(queue: string, outcome: MsgAttemptOutcome, attempt: number): void {
    const c = this.queueCounters(queue);
    if (attempt > 1) c.retried.inc();
    if (outcome === 'success') c.processed.inc();
    else c.failed.inc();
  }

  /**
   * The consumer's handler, counting each attempt per queue. The queue is the message's queueName,
   * which is where the producer put it (system.ts sends without naming another). Attempts that
   * time out are counted when (if) the handler ends; rule_engine_consumer_messages_total has the exact
   * totals. `ctx.signal` is not read here: the consumer only makes the AbortController if it is.
   */
  instrumentHandler(handler: MsgHandler): MsgHandler {
    return async (msg, ctx) => {
      const queue = msg.queueName || DEFAULT_QUEUE;
      try {
        const outcome = await handler(msg, ctx);
        this.msgAttempt(queue, outcome.status, ctx.attempt);
        return outcome;
      } catch (e) {
        this.msgAttempt(queue, 'failure', ctx.attempt);
        throw e;
      }
    };
  }

  /** Reads the consumer's totals on each scrape. */
  watchConsumer(consumer: { stats(): Readonly<ConsumerStats> }): void {
    this.consumerStats = () => consumer.stats();
  }

  /** Reads the local session counts on each scrape. */
  watchSessions(counts: SessionCounts): void {
    this.sessions = counts;
  }

  /**
   * Feeds the per-node series from the runtime's trace stream. They only move while
   * `trace.enabled` is true. Cost per node step, measured on a chain of pass-through nodes (about
   * 0.5 µs a step untraced): tracing itself adds about 0.8 µs (two clock reads, one event object),
   * this subscriber about 1 µs more, mostly prom-client's histogram observe(). Real nodes take from
   * tens of µs (filters) to ms (scripts, Redis), so a few percent there. Returns the unsubscribe.
   */
  watchTrace(trace: TraceHub): () => void {
    const sub = trace.events$.subscribe((e) => {
      const series = this.nodeSeries(e.chainName, e.nodeName);
      series.duration.observe(e.durationMs / 1000);
      if (e.relations.length === 0) this.relationCount(series, '(none)').n++;
      for (const r of e.relations) this.relationCount(series, r).n++;
    });
    this.subscriptions.push(sub);
    return () => sub.unsubscribe();
  }

  /** The text GET /metrics serves. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Stops the probe, leaves the trace stream and closes the depth readers (not the connection). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pingTimer);
    for (const s of this.subscriptions.splice(0)) s.unsubscribe();
    await Promise.allSettled(this.depthQueues.map((d) => d.bull.close()));
  }

  private async ping(): Promise<void> {
    const redis = this.opts.redis;
    if (!redis || this.pinging || this.closed) return;
    this.pinging = true;
    const started = performance.now();
    try {
      await withTimeout(redis.ping(), this.opts.pingTimeoutMs ?? 2000);
      this.redisRtt.set((performance.now() - started) / 1000);
      this.redisUp.set(1);
    } catch {
      this.redisRtt.set(Number.NaN);
      this.redisUp.set(0);
    } finally {
      this.pinging = false;
    }
  }

  private queueCounters(queue: string): QueueCounters {
    let c = this.byQueue.get(queue);
    if (!c) {
      c = { processed: this.processed.labels(queue), failed: this.failed.labels(queue), retried: this.retried.labels(queue) };
      this.byQueue.set(queue, c);
    }
    return c;
  }

  private nodeSeries(chain: string, node: string): NodeSeries {
    const key = `${chain}\u0000${node}`;
    let s = this.byNode.get(key);
    if (s) return s;
    // Node names are user text: cap the label sets so that a runaway import cannot grow memory.
    if (this.byNode.size >= this.maxNodeSeries && key !== OTHER_KEY) return this.nodeSeries(OTHER, OTHER);
    s = { chain, node, duration: this.nodeDuration.labels(chain, node), byRelation: new Map() };
    this.byNode.set(key, s);
    return s;
  }

  private relationCount(series: NodeSeries, relation: string): { n: number; flushed: number } {
    let c = series.byRelation.get(relation);
    if (!c) {
      c = { n: 0, flushed: 0 };
      series.byRelation.set(relation, c);
    }
    return c;
  }
}

/** Rejects after `ms` (the promise itself is left to settle on its own). */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
