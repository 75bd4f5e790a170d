// Documents read on every request (the caller's user, the addressed device) kept in memory, with
// Redis telling us when one changes: server-assisted client-side caching (CLIENT TRACKING with
// REDIRECT to a connection subscribed to __redis__:invalidate). Whoever changes the key (another
// process, a Lua script, a tenant deletion's UNLINK) invalidates it here, so a deleted user's token
// or a device moved to another customer stops working as soon as Redis has applied the change.
// ThingsBoard caches the same documents (device cache, token outdating) with its own eviction events.
//
// Only what was read while tracking was on is kept: a lost connection of either side clears the
// cache and reads go straight to Redis until tracking is on again. One Redis only: on a cluster,
// tracking would be per node, so the store reads directly there (see createTrackedDocCache).
import { once } from 'node:events';
import type { Redis } from 'ioredis';
import { createRedis, isClusterUrl } from '../redis/connection.js';

/** How a repository reads documents by id: straight from Redis, or through this cache. */
export interface DocReader {
  get(key: string): Promise<string | null>;
  /**
   * This process has just changed the key: drop it now, so that its next read sees the change even
   * before Redis's invalidation (on another connection) has arrived.
   */
  forget(key: string): void;
}

/** Reads straight from Redis (a cluster, tests that build a Store by hand). */
export function uncachedDocs(redis: { get(key: string): Promise<string | null> }): DocReader {
  return { get: (key) => redis.get(key), forget: () => undefined };
}

export interface TrackedDocCacheOptions {
  /** Documents kept at most; the oldest goes first (default 10 000). */
  readonly maxEntries?: number;
  readonly connectionName?: string;
  readonly logger?: { warn(text: string): void };
}

const INVALIDATE_CHANNEL = '__redis__:invalidate';

export class TrackedDocCache implements DocReader {
  private readonly docs = new Map<string, string>();
  /** Reads in flight per key, and the keys invalidated meanwhile (their answer may be stale). */
  private readonly pending = new Map<string, number>();
  private readonly staleWhilePending = new Set<string>();
  private readonly maxEntries: number;
  /** Tracked reads go through here; Redis tracks the keys this connection reads. */
  private readonly reader: Redis;
  /** Receives the invalidations. */
  private readonly invalidations: Redis;
  private tracking = false;
  /** Bumped whenever tracking stops or starts: a read from an earlier epoch is not kept. */
  private epoch = 0;
  private arming: Promise<void> | undefined;
  private closed = false;
  private readonly log: { warn(text: string): void } | undefined;

  constructor(redisUrl: string, opts: TrackedDocCacheOptions = {}) {
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.log = opts.logger;
    const name = opts.connectionName ?? 'rc-doc-cache';
    this.reader = createRedis(redisUrl, { role: 'client', connectionName: name, logger: opts.logger });
    // The worker role waits through a Redis restart instead of failing its SUBSCRIBE.
    // After a reconnect arm() subscribes again itself, once it knows the new connection's id.
    this.invalidations = createRedis(redisUrl, {
      role: 'worker',
      connectionName: `${name}-inval`,
      logger: opts.logger,
      overrides: { autoResubscribe: false },
    });
    this.invalidations.on('messageBuffer', (channel: Buffer, keys: Buffer[] | null) => {
      if (channel.toString() !== INVALIDATE_CHANNEL) return;
      if (keys === null) this.forgetAll(); // FLUSHALL / FLUSHDB: tracking itself stays on
      else for (const key of keys) this.invalidate(key.toString());
    });
    for (const conn of [this.reader, this.invalidations]) {
      conn.on('close', () => this.stopTracking());
      conn.on('ready', () => void this.arm());
    }
  }

  /** Waits for both connections and turns tracking on; until it is, reads go to Redis uncached. */
  async start(): Promise<void> {
    await Promise.all([this.reader, this.invalidations].map((c) => (c.status === 'ready' ? undefined : once(c, 'ready'))));
    await this.arm();
  }

  get size(): number {
    return this.docs.size;
  }

  async get(key: string): Promise<string | null> {
    const hit = this.docs.get(key);
    if (hit !== undefined) return hit;
    if (!this.tracking) return this.reader.get(key);
    const epoch = this.epoch;
    this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
    try {
      const value = await this.reader.get(key);
      // Absent documents are not kept: a 404 is rare and must turn into 200 once created.
      if (value !== null && this.tracking && epoch === this.epoch && !this.staleWhilePending.has(key)) this.keep(key, value);
      return value;
    } finally {
      const left = (this.pending.get(key) ?? 1) - 1;
      if (left > 0) this.pending.set(key, left);
      else {
        this.pending.delete(key);
        this.staleWhilePending.delete(key);
      }
    }
  }

  close(): void {
    this.closed = true;
    this.stopTracking();
    this.reader.disconnect();
    this.invalidations.disconnect();
  }

  private keep(key: string, value: string): void {
    if (this.docs.size >= this.maxEntries) {
      const oldest = this.docs.keys().next();
      if (!oldest.done) this.docs.delete(oldest.value);
    }
    this.docs.set(key, value);
  }

  forget(key: string): void {
    this.invalidate(key);
  }

  private invalidate(key: string): void {
    this.docs.delete(key);
    if (this.pending.has(key)) this.staleWhilePending.add(key);
  }

  private stopTracking(): void {
    this.tracking = false;
    this.forgetAll();
  }

  private forgetAll(): void {
    this.epoch++;
    this.docs.clear();
    for (const key of this.pending.keys()) this.staleWhilePending.add(key);
  }

  /** Subscribes and redirects the reader's tracking to the subscriber; again after any reconnect. */
  private arm(): Promise<void> {
    if (this.arming) return this.arming;
    const arming = this.armOnce().finally(() => {
      if (this.arming === arming) this.arming = undefined;
    });
    this.arming = arming;
    return arming;
  }

  private async armOnce(): Promise<void> {
    if (!this.bothReady()) return;
    const startEpoch = this.epoch;
    try {
      // CLIENT ID before SUBSCRIBE: a subscribed connection takes no other commands.
      const subscriberId = await this.invalidations.client('ID');
      await this.invalidations.subscribe(INVALIDATE_CHANNEL);
      await this.reader.call('CLIENT', 'TRACKING', 'on', 'REDIRECT', String(subscriberId));
    } catch (e) {
      // Redis went away while arming (the next 'ready' arms again), or has no CLIENT TRACKING
      // (Redis < 6): reads stay uncached.
      this.log?.warn(`document cache off: ${(e as Error).message}`);
      return;
    }
    // A connection lost meanwhile may have made that id stale: arm again on the new ones.
    if (this.epoch !== startEpoch) return this.armOnce();
    if (!this.bothReady()) return;
    this.epoch++;
    this.tracking = true;
  }

  private bothReady(): boolean {
    return !this.closed && this.reader.status === 'ready' && this.invalidations.status === 'ready';
  }
}

/** The cache for one Redis; undefined for a cluster URL (the store then reads directly). */
export function createTrackedDocCache(redisUrl: string, opts: TrackedDocCacheOptions = {}): TrackedDocCache | undefined {
  return isClusterUrl(redisUrl) ? undefined : new TrackedDocCache(redisUrl, opts);
}
