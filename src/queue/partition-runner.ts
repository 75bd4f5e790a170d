// A BullMQ worker on one partition of one queue, started and stopped by the consumer.
import type { Queue, Worker } from 'bullmq';
import type { QueueLogger } from './consumer.js';
import type { PackData, PackSummary } from './pack.js';
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
  private stopping: Promise<void> | undefined;
  private readonly sleepers = new Set<() => void>();

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
