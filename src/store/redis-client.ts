// The connection type every repository takes (a single Redis or a Redis Cluster), and MULTI /
// pipeline execution that fails loudly instead of hiding per-command errors in tuples.
import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import { StoreError } from './errors.js';

export type RedisClient = Redis | Cluster;

/** Runs a MULTI or pipeline; returns the replies, throws the first command error. */
export async function execAll(batch: ChainableCommander): Promise<unknown[]> {
  const replies = await batch.exec();
  if (replies === null) throw new StoreError('transaction aborted');
  return replies.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}
