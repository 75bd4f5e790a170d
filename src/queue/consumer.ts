// Takes packs off the rule-engine queues with BullMQ workers and runs their messages through a
// handler (the chain runtime), applying each queue's submit and processing strategies.
//
// BURST and BATCH queues are shared: every consumer runs a worker on every partition. Queues that
// order messages (SEQUENTIAL_BY_ORIGINATOR / _BY_TENANT, SEQUENTIAL) have one consumer per partition
// at a time, through a lease in Redis (PartitionLease); consumers share the partitions evenly.
import { randomUUID } from 'node:crypto';
import { Queue, WaitingError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { TbMsg } from '../msg/tb-msg.js';
import { createRedis } from '../redis/connection.js';
import type { LocalConsumer, LocalRun } from './local-take.js';
import { readPack, type MsgHandler, type PackData, type PackSummary } from './pack.js';
import { processPack } from './pack-processor.js';
import { PartitionLease } from './partition-lease.js';
import { LeasedQueue } from './leased-queue.js';
import { consumersKey, DEFAULT_KEY_BASE, fenceKey, leaseKey, partitionPrefix } from './partitions.js';
import { PartitionRunner, type RunnerHost } from './partition-runner.js';
import { StoreReachability } from './store-reachability.js';
import { DEFAULT_QUEUES, needsPartitionOwner, type QueueConfig } from './queue-config.js';

export interface QueueLogger {
  info(text: string): void;
  warn(text: string): void;
}

export interface RuleEngineConsumerOptions {
  readonly redisUrl: string;
  /** Runs one message; the pack waits for it (or its ack). */
  readonly handler: MsgHandler;
  /** Queues to consume; default ThingsBoard's three. */
  readonly queues?: readonly QueueConfig[];
  /** Names this consumer in leases, BullMQ worker names and logs; default a random UUID. */
  readonly consumerId?: string;
  /** Base of the Redis keys; the same for producers and consumers. Default 'rc-q'. */
  readonly keyBase?: string;
  /** Packs in flight at once per partition of a BURST queue (default 2); other strategies take one at a time. */
  readonly packsPerPartition?: number;
  /** How long a partition lease lives without renewal (default 10 000 ms); renewed every third of it. */
  readonly leaseTtlMs?: number;
  /** BullMQ job lock: a pack whose consumer stopped renewing it for this long is handed to another (default 10 000 ms). */
  readonly lockDurationMs?: number;
  /** How often BullMQ looks for such packs (default 5 000 ms). */
  readonly stalledIntervalMs?: number;
  /** A pack whose consumers died this many times is moved to failed, as a poison-pill guard (default 10). */
  readonly maxStalledCount?: number;
  readonly logger?: QueueLogger;
  /** Told of every failed attempt of a message (its outcome's error), e.g. for debug events. */
  readonly onMsgFailure?: (msg: TbMsg, error: string, queueName: string) => void;
}

export interface ConsumerStats {
  /** Packs completed. */
  packs: number;
  /** Messages that ended in success (counted once, whatever the retries). */
  succeeded: number;
  /** Failed or timed-out attempts, retries included. */
  failed: number;
  timedOut: number;
  /** Messages given up on by the processing strategy. */
  skipped: number;
  /** Packs given back to the queue mid-retry (closing, partition lost). */
  handedBack: number;
  /** Messages retried because Redis was unreachable while they were processed (outside the strategy's limits). */
  retriedAfterOutage: number;
}

type PackJob = Job<PackData, PackSummary>;

const defaultLogger: QueueLogger = { info: () => undefined, warn: (t) => console.error(t) };

export class RuleEngineConsumer implements RunnerHost, LocalConsumer {
  readonly consumerId: string;
  private readonly queues: readonly QueueConfig[];
  private readonly keyBase: string;
  private readonly log: QueueLogger;
  /** Shared by all BullMQ workers for their non-blocking commands; each worker adds its blocking one. */
  private readonly bullRedis: Redis;
  /** Leases and heartbeats: fails fast, so that a Redis outage is noticed on time. */
  private readonly control: Redis;
  /** Whether Redis was reachable while a pack was processed, as the control connection sees it. */
  private readonly reachability: StoreReachability;
  private readonly shared: PartitionRunner[] = [];
  /** Shared runners by queue name, then partition. */
  private readonly sharedByQueue = new Map<string, PartitionRunner[]>();
  private readonly leased: LeasedQueue[] = [];
  private readonly counters: ConsumerStats = { packs: 0, succeeded: 0, failed: 0, timedOut: 0, skipped: 0, handedBack: 0, retriedAfterOutage: 0 };
  private started: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly lastErrors = new Map<string, string>();

  constructor(readonly options: RuleEngineConsumerOptions) {
    this.consumerId = options.consumerId ?? randomUUID();
    this.queues = options.queues ?? DEFAULT_QUEUES;
    this.keyBase = options.keyBase ?? DEFAULT_KEY_BASE;
    this.log = options.logger ?? defaultLogger;
    for (const [name, v] of Object.entries({
      packsPerPartition: options.packsPerPartition,
      leaseTtlMs: options.leaseTtlMs,
      lockDurationMs: options.lockDurationMs,
      stalledIntervalMs: options.stalledIntervalMs,
      maxStalledCount: options.maxStalledCount,
    })) {
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new RangeError(`${name} must be a positive integer`);
    }
    const quiet = { warn: (t: string) => this.warnOnce('redis', t) };
    this.bullRedis = createRedis(options.redisUrl, { role: 'worker', connectionName: `rc-consumer:${this.consumerId}`, logger: quiet });
    this.control = createRedis(options.redisUrl, { role: 'client', connectionName: `rc-consumer-ctl:${this.consumerId}`, logger: quiet });
    this.reachability = new StoreReachability(this.control);
  }

  get leaseTtlMs(): number {
    return this.options.leaseTtlMs ?? 10_000;
  }

  /** Starts the workers of shared queues and the partition leasing of ordered ones. */
  start(): Promise<void> {
    if (this.closing) return Promise.reject(new Error('the consumer is closed'));
    this.started ??= (async () => {
      for (const q of this.queues) {
        if (needsPartitionOwner(q)) {
          const lq = new LeasedQueue(this, q);
          this.leased.push(lq);
          lq.start();
        } else {
          const runners: PartitionRunner[] = [];
          for (let p = 0; p < q.partitions; p++) {
            const runner = new PartitionRunner(this, q, p, undefined);
            this.shared.push(runner);
            runners.push(runner);
            await runner.start();
          }
          this.sharedByQueue.set(q.name, runners);
        }
      }
    })();
    return this.started;
  }

  stats(): Readonly<ConsumerStats> {
    return { ...this.counters };
  }

  /**
   * Room to run a pack of a BURST queue here as it is added (see local-take.ts): while the
   * partition runs fewer packs than its worker may run at once.
   */
  reserve(queueName: string, partition: number): LocalRun | undefined {
    if (this.closing) return undefined;
    const runner = this.sharedByQueue.get(queueName)?.[partition];
    if (!runner || runner.queue.submitStrategy.type !== 'BURST') return undefined;
    return runner.reserveTaken(this.concurrency(runner.queue), this.lockDurationMs);
  }

  /** Partitions of an ordered queue this consumer owns right now. */
  ownedPartitions(queueName: string): number[] {
    return this.leased.find((l) => l.queue.name === queueName)?.owned() ?? [];
  }

  get isClosing(): boolean {
    return this.closing !== undefined;
  }

  /**
   * Stops taking packs, lets the packs in progress finish (a pack waiting to retry is handed back
   * to the queue with its retry state), gives up the leases, and disconnects. Safe to call twice.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.started?.catch(() => undefined);
      const steps: Promise<unknown>[] = [...this.shared.map((r) => r.stop()), ...this.leased.map((l) => l.close())];
      const results = await Promise.allSettled(steps);
      this.reachability.dispose();
      this.bullRedis.disconnect();
      this.control.disconnect();
      for (const r of results) if (r.status === 'rejected') this.warnOnce('close', `closing consumer: ${String(r.reason)}`);
    })();
    return this.closing;
  }

  // ---- used by PartitionRunner and LeasedQueue ----

  /** @internal */
  makeWorker(runner: PartitionRunner): Worker<PackData, PackSummary> {
    const q = runner.queue;
    const worker = new Worker<PackData, PackSummary>(q.name, (job, token) => runner.count(() => this.processJob(runner, job, token)), {
      connection: this.bullRedis,
      prefix: partitionPrefix(this.keyBase, runner.partition),
      name: this.consumerId,
      autorun: false,
      // BATCH and the sequential strategies count their in-flight messages per pack: one pack at a time.
      // BURST keeps two: one slot per partition was measured (RPC bench, 1,000/s) and saved no CPU
      // at equal pack sizes; under load moveToFinished already brings the next pack.
      concurrency: this.concurrency(q),
      lockDuration: this.lockDurationMs,
      stalledInterval: this.options.stalledIntervalMs ?? 5_000,
      maxStalledCount: this.options.maxStalledCount ?? 10,
      // BullMQ waits this long before retrying after a Redis error (default 15 s); come back sooner.
      runRetryDelay: 1000,
      removeOnComplete: { count: 100 },
      removeOnFail: { count: 1000, age: 7 * 24 * 3600 },
    });
    // One line per distinct error, not one per partition: a Redis restart would otherwise log dozens.
    worker.on('error', (err) => this.warnOnce('worker', `rule-engine queue workers: ${err.message}`));
    worker.on('failed', (job, err) => this.log.warn(`queue ${q.name} partition ${runner.partition}: pack ${job?.id ?? '?'} failed: ${err.message}`));
    return worker;
  }

  private concurrency(q: QueueConfig): number {
    return q.submitStrategy.type === 'BURST' ? (this.options.packsPerPartition ?? 2) : 1;
  }

  private get lockDurationMs(): number {
    return this.options.lockDurationMs ?? 10_000;
  }

  /** @internal */
  makeBullQueue(runner: PartitionRunner): Queue<PackData, PackSummary> {
    const queue = new Queue<PackData, PackSummary>(runner.queue.name, {
      connection: this.control,
      prefix: partitionPrefix(this.keyBase, runner.partition),
      skipWaitingForReady: true,
    });
    queue.on('error', () => undefined);
    return queue;
  }

  /** @internal */
  makeLease(queue: QueueConfig, partition: number): PartitionLease {
    return new PartitionLease(
      this.control,
      leaseKey(this.keyBase, queue.name, partition),
      fenceKey(this.keyBase, queue.name, partition),
      this.consumerId,
      this.leaseTtlMs,
    );
  }

  /** @internal Registers this consumer of `queue` for a TTL; returns how many consumers are alive. */
  async heartbeat(queue: QueueConfig): Promise<number> {
    const count = await this.control.eval(HEARTBEAT, 1, consumersKey(this.keyBase, queue.name), this.consumerId, this.leaseTtlMs);
    return Math.max(1, Number(count));
  }

  /** @internal */
  async unregister(queue: QueueConfig): Promise<void> {
    await this.control.zrem(consumersKey(this.keyBase, queue.name), this.consumerId);
  }

  /** @internal Logs a message unless it is the same as the last one under this key (reconnect storms). */
  warnOnce(key: string, text: string): void {
    if (this.lastErrors.get(key) === text) return;
    this.lastErrors.set(key, text);
    this.log.warn(text);
  }

  /** @internal */
  get logger(): QueueLogger {
    return this.log;
  }

  private async processJob(runner: PartitionRunner, job: PackJob, token: string | undefined): Promise<PackSummary> {
    const pack = readPack(job.data);
    const lease = runner.lease;
    // Fencing: a consumer that lost its lease (paused, cut off) must not process the partition's next pack.
    if (lease && !(await lease.verify().catch(() => false))) {
      this.log.warn(`queue ${runner.queue.name} partition ${runner.partition}: lease lost; giving pack ${job.id ?? '?'} back`);
      return this.handBack(runner, job, token, undefined);
    }
    const report = this.options.onMsgFailure;
    const outcome = await processPack(runner.queue, this.options.handler, pack.m, pack.r, {
      stopReason: () => (this.closing ? 'consumer closing' : runner.stopReason()),
      pause: (ms) => runner.sleep(ms),
      store: this.reachability,
      untilReachable: async () => {
        while (!this.reachability.reachable) if (!(await runner.sleep(200))) return false;
        return true;
      },
      onOutageRetry: (n) => {
        this.counters.retriedAfterOutage += n;
        this.warnOnce('outage', `queue ${runner.queue.name}: Redis was unreachable while messages were processed; they are retried once it is back`);
      },
      ...(report ? { onFailure: (msg: TbMsg, error: string) => report(msg, error, runner.queue.name) } : {}),
    });
    if (outcome.kind === 'handBack') {
      this.log.info(`queue ${runner.queue.name} partition ${runner.partition}: ${outcome.reason}; ${outcome.remaining.length} message(s) handed back`);
      return this.handBack(runner, job, token, { m: [...outcome.remaining], r: outcome.state });
    }
    const s = outcome.summary;
    const c = this.counters;
    c.packs++;
    c.succeeded += s.succeeded;
    c.failed += s.failed;
    c.timedOut += s.timedOut;
    c.skipped += s.skipped;
    if (s.skipped > 0) {
      this.log.warn(`queue ${runner.queue.name}: ${s.skipped} message(s) skipped after ${s.attempts} attempt(s) (${runner.queue.processingStrategy.type})`);
    }
    return s;
  }

  /** Puts the job back at the head of its queue, with `data` if given, and stops this worker taking more. */
  private async handBack(runner: PartitionRunner, job: PackJob, token: string | undefined, data: PackData | undefined): Promise<never> {
    this.counters.handedBack++;
    void runner.stop(); // before the throw: BullMQ must not fetch the next job for this worker
    try {
      if (data) await job.updateData(data);
      if (token !== undefined) await job.moveToWait(token);
    } catch (e) {
      // Redis unreachable: the job stays active without a lock renewal, and the stalled check returns it.
      this.warnOnce('handback', `giving pack ${job.id ?? '?'} back failed (${(e as Error).message}); it returns after its lock expires`);
    }
    throw new WaitingError();
  }
}

// Registers `member` until now+ttl (Redis' clock, so process clocks may differ), drops the expired, counts the rest.
const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return redis.call('ZCARD', KEYS[1])`;
