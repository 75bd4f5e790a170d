// Taking a pack as it is added: when the process that adds a pack to a shared queue also consumes
// that queue, one Lua script stores the job and moves it straight to BullMQ's active list, locked
// for a local worker, which runs it at once. The usual way costs two more trips to Redis and a
// wake-up on the critical path (add; the worker's marker wakes it; moveToActive), and two empty
// fetches after. The job is as durable either way: it is in Redis, active and locked, before
// anyone is told it was sent; if this process dies, BullMQ's stalled check hands it to another
// consumer as it would any job of a dead worker.
//
// The script writes what BullMQ's addStandardJob and moveToActive write for a plain job (no
// parent, delay, priority or deduplication), in BullMQ 6's key layout; the queue tests check it
// against BullMQ itself (state, completion, stalled recovery), so an upgrade that changes the
// layout fails there.
import type { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import type { PackData, PackSummary } from './pack.js';
import { RedisScript } from './redis-script.js';

/** A consumer in this process that can run a pack of a queue the moment it is added. */
export interface LocalConsumer {
  /**
   * A place to run one pack of `queueName`, partition `partition`, here and now; undefined when
   * this consumer does not work that partition, is stopping, or already runs as many packs taken
   * this way as its workers would fetch.
   */
  reserve(queueName: string, partition: number): LocalRun | undefined;
}

/** One reserved run: the lock the job is added with, then the pack to run. */
export interface LocalRun {
  /** BullMQ lock token of the job. */
  readonly token: string;
  readonly lockDurationMs: number;
  /** Written as the job's "processed by", as BullMQ does. */
  readonly workerName: string;
  /** The job was added, active and locked with `token`: run it. */
  start(job: TakenJob): void;
  /** The job was not added as taken: frees the reservation. */
  cancel(): void;
}

export interface TakenJob {
  readonly id: string;
  readonly data: PackData;
  /** The job options as stored (BullMQ reads removeOnComplete/removeOnFail from them on completion). */
  readonly opts: Readonly<Record<string, unknown>>;
  readonly timestamp: number;
}

/**
 * Adds a pack as an active job locked for `run`. Resolves with the job id, or undefined when the
 * queue is paused or has a global concurrency limit (then add it the usual way).
 */
export async function addTaken(
  redis: Redis,
  queue: Queue<PackData, PackSummary>,
  name: string,
  dataJson: string,
  optsJson: string,
  timestamp: number,
  run: LocalRun,
): Promise<string | undefined> {
  const k = queue.keys;
  const id = await ADD_TAKEN.run(redis, [k.id, k.meta, k.events, k.active], [
    queue.toKey(''),
    name,
    dataJson,
    optsJson,
    timestamp,
    run.token,
    run.lockDurationMs,
    run.workerName,
  ]);
  return typeof id === 'string' ? id : undefined;
}

// KEYS: id counter, meta, events stream, active list.
// ARGV: key prefix, job name, data, opts (JSON), timestamp, lock token, lock ms, worker name.
const ADD_TAKEN = new RedisScript(`
local rcall = redis.call
local meta = rcall('HMGET', KEYS[2], 'paused', 'concurrency', 'opts.maxLenEvents')
if meta[1] or meta[2] then return 0 end
local maxEvents = meta[3]
if not maxEvents then
  maxEvents = 10000
  rcall('HSET', KEYS[2], 'opts.maxLenEvents', maxEvents)
end
local jobId = rcall('INCR', KEYS[1]) .. ''
local jobKey = ARGV[1] .. jobId
rcall('HMSET', jobKey, 'name', ARGV[2], 'data', ARGV[3], 'opts', ARGV[4], 'timestamp', ARGV[5],
  'delay', 0, 'priority', 0, 'processedOn', ARGV[5], 'pb', ARGV[8], 'ats', 1)
rcall('XADD', KEYS[3], 'MAXLEN', '~', maxEvents, '*', 'event', 'added', 'jobId', jobId, 'name', ARGV[2])
rcall('LPUSH', KEYS[4], jobId)
rcall('SET', jobKey .. ':lock', ARGV[6], 'PX', ARGV[7])
rcall('XADD', KEYS[3], '*', 'event', 'active', 'jobId', jobId, 'prev', 'waiting')
return jobId`);
