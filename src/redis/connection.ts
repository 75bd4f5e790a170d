// ioredis connections, configured for what they are used for.
import { Redis, type RedisOptions } from 'ioredis';

export type RedisRole = 'worker' | 'client';

export interface CreateRedisOptions {
  /**
   * worker: BullMQ workers and other blocking readers. BullMQ requires `maxRetriesPerRequest: null`
   * so that blocking commands wait through a Redis restart instead of failing.
   * client: producers, the store, the API. Fail fast: a command fails after one failed reconnect
   * attempt (about connectTimeout) instead of hanging a device or REST caller.
   */
  readonly role: RedisRole;
  /** Shows in CLIENT LIST, which helps when several processes share one Redis. */
  readonly connectionName?: string;
  /** Where connection errors go (default: stderr); an error repeated while reconnecting is logged once. */
  readonly logger?: { warn(text: string): void };
  /** Anything else, applied last. */
  readonly overrides?: RedisOptions;
}

export function createRedis(url: string, opts: CreateRedisOptions): Redis {
  const byRole: RedisOptions =
    opts.role === 'worker'
      ? { maxRetriesPerRequest: null }
      : {
          maxRetriesPerRequest: 1,
          // The offline queue stays on: commands issued while the first connection is being made
          // wait for it (a fresh process need not await 'ready'); during an outage
          // maxRetriesPerRequest flushes them with an error after one reconnect attempt.
          enableOfflineQueue: true,
          connectTimeout: 5000,
        };
  const redis = new Redis(url, {
    ...byRole,
    // Keep reconnecting for ever, at most every 2 s: Redis coming back must heal every process.
    retryStrategy: (times) => Math.min(times * 100, 2000),
    ...(opts.connectionName !== undefined ? { connectionName: opts.connectionName } : {}),
    ...opts.overrides,
  });
  // Without an 'error' listener ioredis prints "Unhandled error event" on every reconnect attempt.
  const log = opts.logger ?? { warn: (text: string) => console.error(text) };
  let last: string | undefined;
  redis.on('error', (err: Error) => {
    if (err.message === last) return;
    last = err.message;
    log.warn(`redis ${redactUrl(url)} (${opts.role}): ${err.message}`);
  });
  redis.on('ready', () => (last = undefined));
  return redis;
}

/** The URL without its password, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '<redis url>';
  }
}
