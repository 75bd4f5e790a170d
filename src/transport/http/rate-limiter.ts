// Per-device and per-tenant message rates (TransportLimits). A token bucket per key, in this
// process' memory: each transport process limits what it receives itself, as ThingsBoard's
// transport service does, without a Redis round trip per message.
import type { DeviceIdentity, TransportLimits } from '../transport-api.js';

interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets kept before full (idle) ones are dropped. */
const PRUNE_ABOVE = 10_000;

export class DeviceRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limits: Pick<TransportLimits, 'deviceMsgsPerSecond' | 'tenantMsgsPerSecond'>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one message from the device's and the tenant's buckets; false (nothing taken) when either is empty. */
  tryAcquire(device: DeviceIdentity): boolean {
    const at = this.now();
    const deviceBucket = this.refill(`d:${device.deviceId}`, this.limits.deviceMsgsPerSecond, at);
    const tenantBucket = this.refill(`t:${device.tenantId}`, this.limits.tenantMsgsPerSecond, at);
    if ((deviceBucket && deviceBucket.tokens < 1) || (tenantBucket && tenantBucket.tokens < 1)) return false;
    if (deviceBucket) deviceBucket.tokens -= 1;
    if (tenantBucket) tenantBucket.tokens -= 1;
    if (this.buckets.size > PRUNE_ABOVE) this.prune(at);
    return true;
  }

  /** null = unlimited. A bucket holds one second's worth (at least one message). */
  private refill(key: string, perSecond: number, at: number): Bucket | null {
    if (!(perSecond > 0)) return null;
    const capacity = Math.max(1, perSecond);
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { tokens: capacity, at };
      this.buckets.set(key, bucket);
      return bucket;
    }
    bucket.tokens = Math.min(capacity, bucket.tokens + ((at - bucket.at) / 1000) * perSecond);
    bucket.at = at;
    return bucket;
  }

  /** Drops buckets idle long enough to be full again: a new one starts full too. */
  private prune(at: number): void {
    const rates = [this.limits.deviceMsgsPerSecond, this.limits.tenantMsgsPerSecond].filter((r) => r > 0);
    const refillMs = 1000 * Math.max(1, ...rates.map((r) => 1 / r));
    for (const [key, bucket] of this.buckets) if (at - bucket.at >= refillMs) this.buckets.delete(key);
  }
}
