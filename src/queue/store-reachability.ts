// Whether Redis was reachable while a pack was being processed, as one connection of the consumer
// sees it. A message that failed while Redis was away failed because of the outage, not because of
// itself (a node's save or RPC through a fail-fast connection): the pack processor retries it once
// Redis is back instead of letting the processing strategy skip it (issue #7).
import type { Cluster, Redis } from 'ioredis';

/**
 * How long after Redis came back failures still count as the outage's: the other connections of
 * the process (nodes', RPC's) reconnect on their own schedule, up to 2 s apart (redis/connection.ts).
 */
export const RECONNECT_SETTLE_MS = 2500;

/** Taken before an attempt, asked about after it. */
export interface ReachabilityMark {
  readonly outages: number;
  readonly down: boolean;
}

/** What the pack processor needs to know about the store. */
export interface StoreOutages {
  mark(): ReachabilityMark;
  /** Redis was unreachable (or came back less than RECONNECT_SETTLE_MS ago) at some moment since `mark`. */
  unreachableSince(mark: ReachabilityMark): boolean;
  readonly reachable: boolean;
}

export class StoreReachability implements StoreOutages {
  /** Not ready after having been: the first connection being made is not an outage. */
  private down = false;
  private connected: boolean;
  private outages = 0;
  private backAt = -Infinity;
  private readonly onClose = () => {
    if (!this.connected || this.down) return;
    this.outages++;
    this.down = true;
  };
  private readonly onReady = () => {
    if (this.down) this.backAt = this.now();
    this.connected = true;
    this.down = false;
  };

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly now: () => number = Date.now,
  ) {
    this.connected = redis.status === 'ready';
    redis.on('close', this.onClose);
    redis.on('end', this.onClose);
    redis.on('ready', this.onReady);
  }

  get reachable(): boolean {
    return !this.down;
  }

  mark(): ReachabilityMark {
    return { outages: this.outages, down: this.down };
  }

  unreachableSince(mark: ReachabilityMark): boolean {
    return mark.down || this.down || this.outages !== mark.outages || this.now() - this.backAt < RECONNECT_SETTLE_MS;
  }

  dispose(): void {
    this.redis.off('close', this.onClose);
    this.redis.off('end', this.onClose);
    this.redis.off('ready', this.onReady);
  }
}
