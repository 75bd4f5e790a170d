// The partitions of one ordered queue that a consumer owns through leases, shared evenly with the
// other live consumers of that queue.
import { fnv1a } from './partitions.js';
import { PartitionRunner, type RunnerHost } from './partition-runner.js';
import type { QueueConfig } from './queue-config.js';

/** The partitions of one ordered queue that this consumer owns, kept even with the other consumers. */
export class LeasedQueue {
  private readonly runners = new Map<number, PartitionRunner>();
  /** Partitions being given up: their leases are renewed until their packs are done. */
  private readonly draining = new Map<number, PartitionRunner>();
  private loop: Promise<void> | undefined;
  private closed = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly consumer: RunnerHost,
    readonly queue: QueueConfig,
  ) {}

  owned(): number[] {
    return [...this.runners.keys()].sort((a, b) => a - b);
  }

  start(): void {
    this.loop = (async () => {
      const every = Math.max(50, Math.floor(this.consumer.leaseTtlMs / 3));
      while (!this.closed) {
        try {
          await this.tick();
        } catch (e) {
          this.consumer.warnOnce(`lease ${this.queue.name}`, `queue ${this.queue.name}: partition leases: ${(e as Error).message}`);
        }
        if (this.closed) break;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, every);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    })();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.loop;
    const all = [...this.runners.values(), ...this.draining.values()];
    this.runners.clear();
    // Keep the leases alive while the last packs finish, then hand them over at once.
    const renewing = setInterval(() => {
      for (const r of all) r.lease?.renew().catch(() => undefined);
    }, Math.max(50, Math.floor(this.consumer.leaseTtlMs / 3)));
    try {
      await Promise.allSettled(all.map((r) => r.stop()));
    } finally {
      clearInterval(renewing);
    }
    await Promise.allSettled(all.map((r) => r.lease?.release()));
    await this.consumer.unregister(this.queue).catch(() => undefined);
  }

  private async tick(): Promise<void> {
    const consumers = await this.consumer.heartbeat(this.queue);
    await this.renewAll();
    if (this.closed) return;
    const target = Math.ceil(this.queue.partitions / consumers);
    let extra = this.runners.size - target;
    // Give up the highest partitions first; the others see them free on their next tick.
    for (const p of this.owned().reverse()) {
      if (extra <= 0) break;
      extra--;
      this.drain(p);
    }
    const P = this.queue.partitions;
    const first = fnv1a(this.consumer.consumerId) % P;
    for (let i = 0; i < P && this.runners.size < target && !this.closed; i++) {
      const p = (first + i) % P;
      if (this.runners.has(p) || this.draining.has(p)) continue;
      const lease = this.consumer.makeLease(this.queue, p);
      if (!(await lease.tryAcquire())) continue;
      if (this.closed) {
        await lease.release();
        break;
      }
      const runner = new PartitionRunner(this.consumer, this.queue, p, lease);
      this.runners.set(p, runner);
      this.consumer.logger.info(`queue ${this.queue.name}: ${this.consumer.consumerId} owns partition ${p} (fencing token ${lease.token})`);
      void runner.start().catch((e: unknown) => this.consumer.warnOnce(`start ${this.queue.name}`, String(e)));
    }
  }

  private async renewAll(): Promise<void> {
    const entries = [...this.runners.entries()];
    const results = await Promise.all(
      [...entries, ...this.draining.entries()].map(([, r]) => (r.lease ? r.lease.renew().catch(() => r.lease?.held ?? false) : true)),
    );
    entries.forEach(([p, runner], i) => {
      if (results[i]) return;
      this.consumer.logger.warn(`queue ${this.queue.name}: lost the lease of partition ${p}; stopping its worker`);
      this.runners.delete(p);
      void runner.stop();
    });
  }

  private drain(p: number): void {
    const runner = this.runners.get(p);
    if (!runner) return;
    this.runners.delete(p);
    this.draining.set(p, runner);
    this.consumer.logger.info(`queue ${this.queue.name}: ${this.consumer.consumerId} gives partition ${p} up`);
    void runner
      .stop()
      .then(() => runner.lease?.release())
      .catch(() => undefined)
      .finally(() => this.draining.delete(p));
  }
}
