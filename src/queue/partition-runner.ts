// A BullMQ worker on one partition of one queue, started and stopped by the consumer.
import { Job, type Queue, type Worker } from 'bullmq';
import type { QueueLogger } from './consumer.js';
import type { LocalRun, TakenJob } from './local-take.js';
import { PACK_JOB_NAME, type PackData, type PackSummary } from './pack.js';
import type { PartitionLease } from './partition-lease.js';
import type { QueueConfig } from './queue-config.js';

/** What runners and leased queues need from their consumer. */
export interface RunnerHost {
  readonly consumerId: string;
  readonly isClosing: boolean;
  readonly leaseTtlMs: number;
  readonly logger: QueueLogger;
  makeWorker(runner: PartitionRunner): Worker<PackData, PackSummary>;
  makeBullQueue(runner: PartitionRunner): Queue<PackData, PackSummary>;
  makeLease(queue: QueueConfig, partition: number): PartitionLease;
  /** Registers the consumer of `queue` for a TTL; returns how many consumers are alive. */
  heartbeat(queue: QueueConfig): Promise<number>;
  unregister(queue: QueueConfig): Promise<void>;
  warnOnce(key: string, text: string): void;
}

/** A BullMQ worker on one partition of one queue. */
export class PartitionRunner {
  private worker: Worker<PackData, PackSummary> | undefined;
  /** The worker's main loop runs (and with it the lock renewal that taken packs rely on). */
  private looping = false;
  private stopping: Promise<void> | undefined;
  private readonly sleepers = new Set<() => void>();
  /** Packs running on this partition now, fetched by the worker or taken. */
  private busy = 0;
  /** Packs taken as they were added (local-take.ts): reserved, being added, or running. */
  private taken = 0;
  /** Of those, the ones reserved whose job is not added yet. */
  private takenPending = 0;
  private takenSeq = 0;
  private takenDone: (() => void) | undefined;

  constructor(
    private readonly consumer: RunnerHost,
    readonly queue: QueueConfig,
    readonly partition: number,
    readonly lease: PartitionLease | undefined,
  ) {}

  /** Why packs of this partition should stop here, if they should. */
  stopReason(): string | undefined {
    if (this.stopping) return 'partition released';
    if (this.lease && !this.lease.held) return 'partition lease lost';
    return undefined;
  }

  async start(): Promise<void> {
    const worker = this.consumer.makeWorker(this);
    this.worker = worker;
    if (this.lease) {
      // The previous owner's pack must be finished, or returned by the stalled check, before we take
      // the next one: otherwise two packs of one originator could run at once.
      void worker.startStalledCheckTimer();
      if (!(await this.waitUntilNoneActive())) return;
    }
    if (this.stopping) return;
    worker.run().catch((e: unknown) => this.consumer.warnOnce(`run ${this.queue.name}`, `worker ${this.queue.name}/${this.partition}: ${String(e)}`));
    this.looping = true;
  }

  /** Runs one pack of this partition (the worker's processor goes through here), counted as busy. */
  async count<T>(work: () => Promise<T>): Promise<T> {
    this.busy++;
    try {
      return await work();
    } finally {
      this.busy--;
    }
  }

  /**
   * Room for one pack taken as it is added, run by this partition's worker (its lock renewed by
   * the worker like the packs it fetched), or undefined: not running, stopping, or the partition
   * already runs `max` packs. (The worker still fetches up to its own concurrency meanwhile.)
   */
  reserveTaken(max: number, lockDurationMs: number): LocalRun | undefined {
    const worker = this.worker;
    if (!worker || !this.looping || this.stopping || this.busy + this.takenPending >= max) return undefined;
    this.taken++;
    this.takenPending++;
    let pending = true;
    const added = () => {
      if (pending) this.takenPending--;
      pending = false;
    };
    let freed = false;
    const free = () => {
      added();
      if (freed) return;
      freed = true;
      this.taken--;
      if (this.taken === 0) this.takenDone?.();
    };
    const token = `${worker.id}:taken-${this.takenSeq++}`;
    return {
      token,
      lockDurationMs,
      workerName: worker.opts.name ?? '',
      start: (taken: TakenJob) => {
        added();
        const job = new Job<PackData, PackSummary>(worker, PACK_JOB_NAME, taken.data, { ...taken.opts }, taken.id);
        job.timestamp = taken.timestamp;
        job.processedOn = taken.timestamp;
        job.attemptsStarted = 1;
        job.token = token;
        // No fetching after it: this pack came from the producer, not from the worker's loop.
        worker
          .processJob(job, token, () => false)
          .catch((e: unknown) => this.consumer.warnOnce(`taken ${this.queue.name}`, `queue ${this.queue.name} partition ${this.partition}: pack ${taken.id}: ${String(e)}`))
          .finally(free);
      },
      cancel: free,
    };
  }

  /** Waits `ms`; false when woken because this runner is stopping. */
  sleep(ms: number): Promise<boolean> {
    if (this.stopReason() !== undefined || this.consumer.isClosing) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.sleepers.delete(wake);
        resolve(true);
      }, ms);
      this.sleepers.add(wake);
    });
  }

  /** Stops taking packs and waits for the packs in progress. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const wake of [...this.sleepers]) wake();
      // Taken packs are not the worker's own: closed now, it would stop renewing their locks
      // without waiting for them. Paused, it fetches nothing more (not even the pack a hand-back
      // just returned to the queue) and keeps renewing locks until they end.
      if (this.taken > 0) {
        void this.worker?.pause(true).catch(() => undefined);
        await new Promise<void>((resolve) => (this.takenDone = resolve));
      }
      await this.worker?.close();
    })();
    return this.stopping;
  }

  private async waitUntilNoneActive(): Promise<boolean> {
    const bull = this.consumer.makeBullQueue(this);
    try {
      let waited = 0;
      for (;;) {
        if (this.stopping) return false;
        const active = await bull.getActiveCount().catch(() => -1);
        if (active === 0) return true;
        if (waited % 10_000 === 0 && waited > 0) {
          this.consumer.logger.info(`queue ${this.queue.name} partition ${this.partition}: waiting for ${active} pack(s) of the previous owner`);
        }
        await this.sleep(200);
        waited += 200;
      }
    } finally {
      await bull.close().catch(() => undefined);
    }
  }
}
