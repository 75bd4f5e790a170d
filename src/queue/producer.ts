// Puts messages on the rule-engine queues: one BullMQ queue per (queue, partition), messages
// gathered into packs so that BullMQ's per-job cost is paid once per pack.
//
// A queue whose partitions have one consumer each (the sequential strategies) gets a pack per
// partition. The others (BURST, BATCH) are worked by every consumer on every partition, so their
// partition orders nothing: one pack gathers the queue's messages of all partitions, as
// ThingsBoard's consumer polls its partitions into one pack, and goes to the partition of its
// first message. At a thousand messages a second that makes packs of several messages where one
// pack per partition held about one, and BullMQ's cost per message drops with it.
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { TbMsg } from '../msg/tb-msg.js';
import { createRedis } from '../redis/connection.js';
import { addTaken, type LocalConsumer, type LocalRun } from './local-take.js';
import { PACK_JOB_NAME, type PackData, type PackSummary } from './pack.js';
import { DEFAULT_KEY_BASE, partitionOf, partitionPrefix } from './partitions.js';
import { DEFAULT_QUEUES, needsPartitionOwner, type QueueConfig } from './queue-config.js';

export interface KeepJobs {
  readonly count: number;
  /** Seconds. */
  readonly age?: number;
}

export interface RuleEngineProducerOptions {
  /** Redis to connect to (a `client` connection: fails fast when Redis is down). */
  readonly redisUrl?: string;
  /** Or a connection to share; it is not closed by close(). */
  readonly redis?: Redis;
  /** Default: ThingsBoard's three queues. */
  readonly queues?: readonly QueueConfig[];
  /** Queue used when neither send() nor the message names one. Default 'Main'. */
  readonly defaultQueue?: string;
  /** Base of the Redis keys; the same for producers and consumers. Default 'rc-q'. */
  readonly keyBase?: string;
  /** Messages per pack at most (default 500). */
  readonly maxPackSize?: number;
  /** Approximate bytes per pack at most (default 1 MiB); a larger single message still goes alone. */
  readonly maxPackBytes?: number;
  /**
   * How long a message may wait for others to join its pack, ms. 0 (default): until the end of the
   * current event-loop turn, or while the previous pack of its partition is still being written
   * (so packs grow with load and a lone message is not delayed).
   */
  readonly lingerMs?: number;
  /** send() rejects when this many messages wait to be written (default 100 000). */
  readonly maxBufferedMessages?: number;
  /** Finished packs BullMQ keeps per partition, so that Redis does not grow (defaults: 100; failed 1000 for 7 days). */
  readonly removeOnComplete?: KeepJobs;
  readonly removeOnFail?: KeepJobs;
}

/** send() refused a message: the queue is unknown, or too many wait to be written. */
export class QueueProducerError extends Error {
  override readonly name = 'QueueProducerError';
}

interface Pending {
  readonly msg: TbMsg;
  readonly bytes: number;
  resolve(): void;
  reject(err: Error): void;
}

/** The messages waiting for one partition (or a whole shared queue), and whether a pack of them is being written. */
class PartitionBuffer {
  readonly items: Pending[] = [];
  writing = false;
  scheduled = false;
  /** `partitionOf`: the partition a pack starting with `msg` goes to. */
  constructor(
    readonly queue: QueueConfig,
    readonly partitionOf: (msg: TbMsg) => number,
  ) {}
}

export class RuleEngineProducer {
  private readonly queues = new Map<string, QueueConfig>();
  private readonly buffers = new Map<string, (PartitionBuffer | undefined)[]>();
  /** BullMQ queues by queue name and partition. */
  private readonly bullQueues = new Map<string, (Queue<PackData, PackSummary> | undefined)[]>();
  private readonly redis: Redis;
  private readonly ownsRedis: boolean;
  private readonly keyBase: string;
  private readonly defaultQueue: string;
  private readonly maxPackSize: number;
  private readonly maxPackBytes: number;
  private readonly lingerMs: number;
  private readonly maxBuffered: number;
  private readonly jobOptions: { removeOnComplete: KeepJobs; removeOnFail: KeepJobs };
  /** The options of a taken job as BullMQ stores them (it adds attempts: 0). */
  private readonly takenOpts: Readonly<Record<string, unknown>>;
  private readonly takenOptsJson: string;
  private local: LocalConsumer | undefined;
  private buffered = 0;
  private closing: Promise<void> | undefined;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(opts: RuleEngineProducerOptions) {
    if (opts.redis === undefined && opts.redisUrl === undefined) throw new TypeError('RuleEngineProducer needs redisUrl or redis');
    this.redis = opts.redis ?? createRedis(opts.redisUrl ?? '', { role: 'client', connectionName: 'rc-producer' });
    this.ownsRedis = opts.redis === undefined;
    for (const q of opts.queues ?? DEFAULT_QUEUES) this.queues.set(q.name, q);
    this.keyBase = opts.keyBase ?? DEFAULT_KEY_BASE;
    this.defaultQueue = opts.defaultQueue ?? 'Main';
    this.maxPackSize = positive('maxPackSize', opts.maxPackSize ?? 500);
    this.maxPackBytes = positive('maxPackBytes', opts.maxPackBytes ?? 1 << 20);
    this.lingerMs = opts.lingerMs ?? 0;
    if (!(this.lingerMs >= 0)) throw new RangeError('lingerMs must be >= 0');
    this.maxBuffered = positive('maxBufferedMessages', opts.maxBufferedMessages ?? 100_000);
    this.jobOptions = {
      removeOnComplete: opts.removeOnComplete ?? { count: 100 },
      removeOnFail: opts.removeOnFail ?? { count: 1000, age: 7 * 24 * 3600 },
    };
    this.takenOpts = { attempts: 0, ...this.jobOptions };
    this.takenOptsJson = JSON.stringify(this.takenOpts);
  }

  /**
   * The consumer of this process, if it has one: a pack of a shared queue it has room for is
   * added already taken by it and runs here at once (see local-take.ts); the others are added
   * the usual way and go to whichever consumer fetches them. undefined: none (before it closes).
   */
  setLocalConsumer(local: LocalConsumer | undefined): void {
    this.local = local;
  }

  /**
   * Adds a message to a queue (default: the message's queueName, then 'Main'). Resolves when
   * Redis has acknowledged the pack holding it: from then on a consumer will process it even if
   * this process dies (with Redis' AOF, even across a Redis restart).
   */
  send(msg: TbMsg, queueName?: string): Promise<void> {
    if (this.closing) return Promise.reject(new QueueProducerError('the producer is closed'));
    const name = queueName ?? (msg.queueName || this.defaultQueue);
    const queue = this.queues.get(name);
    if (!queue) return Promise.reject(new QueueProducerError(`unknown rule-engine queue "${name}"`));
    if (this.buffered >= this.maxBuffered) {
      return Promise.reject(new QueueProducerError(`${this.buffered} messages are waiting to be written to Redis; try again later`));
    }
    const buffer = this.bufferFor(queue, needsPartitionOwner(queue) ? partitionOf(msg, queue) : 0);
    return new Promise<void>((resolve, reject) => {
      buffer.items.push({ msg, bytes: approxBytes(msg), resolve, reject });
      this.buffered++;
      if (buffer.items.length >= this.maxPackSize) this.write(buffer);
      else this.schedule(buffer);
    });
  }

  /** Resolves when every message sent so far has been written (or refused). */
  flush(): Promise<void> {
    for (const list of this.buffers.values()) for (const b of list) if (b && b.items.length > 0) this.write(b);
    if (this.buffered === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Writes what is buffered, then closes the queues (and the connection if it made it). Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.flush();
      const queues = [...this.bullQueues.values()].flat().flatMap((q) => (q ? [q] : []));
      const results = await Promise.allSettled(queues.map((q) => q.close()));
      if (this.ownsRedis) this.redis.disconnect();
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    })();
    return this.closing;
  }

  /** `slot`: the partition for a queue with partition owners, else 0 (one buffer for the whole queue). */
  private bufferFor(queue: QueueConfig, slot: number): PartitionBuffer {
    let list = this.buffers.get(queue.name);
    if (!list) {
      list = [];
      this.buffers.set(queue.name, list);
    }
    let buffer = list[slot];
    if (!buffer) {
      buffer = new PartitionBuffer(queue, needsPartitionOwner(queue) ? () => slot : (msg) => partitionOf(msg, queue));
      list[slot] = buffer;
    }
    return buffer;
  }

  private bullQueue(queue: QueueConfig, partition: number): Queue<PackData, PackSummary> {
    let list = this.bullQueues.get(queue.name);
    if (!list) {
      list = [];
      this.bullQueues.set(queue.name, list);
    }
    let bull = list[partition];
    if (!bull) {
      bull = new Queue<PackData, PackSummary>(queue.name, {
        connection: this.redis,
        prefix: partitionPrefix(this.keyBase, partition),
        // Fail fast when Redis is down instead of waiting for it to come back.
        skipWaitingForReady: true,
        defaultJobOptions: this.jobOptions,
        streams: { events: { maxLen: 1000 } },
      });
      bull.on('error', () => undefined); // surfaced through the rejected send()
      list[partition] = bull;
    }
    return bull;
  }

  private schedule(buffer: PartitionBuffer): void {
    if (buffer.writing || buffer.scheduled) return; // the running write takes it next
    buffer.scheduled = true;
    const go = () => {
      buffer.scheduled = false;
      this.write(buffer);
    };
    if (this.lingerMs > 0) setTimeout(go, this.lingerMs);
    else setImmediate(go);
  }

  /** Writes one pack of the buffer; one write at a time per buffer keeps a partition in send order. */
  private write(buffer: PartitionBuffer): void {
    if (buffer.writing || buffer.items.length === 0) return;
    buffer.writing = true;
    let n = 0;
    let bytes = 0;
    while (n < buffer.items.length && n < this.maxPackSize) {
      bytes += buffer.items[n].bytes;
      if (n > 0 && bytes > this.maxPackBytes) break;
      n++;
    }
    const pack = buffer.items.splice(0, n);
    const partition = buffer.partitionOf(pack[0].msg);
    const bull = this.bullQueue(buffer.queue, partition);
    const data: PackData = { m: pack.map((p) => p.msg) };
    // Only shared queues: a partition with an owner must run its packs one after the other.
    const run = needsPartitionOwner(buffer.queue) ? undefined : this.local?.reserve(buffer.queue.name, partition);
    (run ? this.addTaken(bull, data, run) : bull.add(PACK_JOB_NAME, data)).then(
      () => this.written(buffer, pack, undefined),
      (err: unknown) => this.written(buffer, pack, err instanceof Error ? err : new Error(String(err))),
    );
  }

  /** Adds the pack active and locked for `run`, then runs it; the usual add if the queue is paused. */
  private async addTaken(bull: Queue<PackData, PackSummary>, data: PackData, run: LocalRun): Promise<unknown> {
    const timestamp = Date.now();
    let id: string | undefined;
    try {
      id = await addTaken(this.redis, bull, PACK_JOB_NAME, JSON.stringify(data), this.takenOptsJson, timestamp, run);
    } catch (e) {
      run.cancel();
      throw e;
    }
    if (id === undefined) {
      run.cancel();
      return bull.add(PACK_JOB_NAME, data);
    }
    run.start({ id, data, opts: this.takenOpts, timestamp });
    return id;
  }

  private written(buffer: PartitionBuffer, pack: readonly Pending[], err: Error | undefined): void {
    buffer.writing = false;
    this.buffered -= pack.length;
    for (const p of pack) {
      if (err) p.reject(err);
      else p.resolve();
    }
    if (buffer.items.length > 0) this.write(buffer);
    if (this.buffered === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  return value;
}

/** Cheap size estimate (no second JSON.stringify): the data plus metadata plus the fixed fields. */
function approxBytes(msg: TbMsg): number {
  let n = 300 + msg.data.length;
  for (const k in msg.metaData) n += k.length + msg.metaData[k].length + 6;
  return n;
}
