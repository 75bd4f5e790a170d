// Per-device and per-tenant message rates (TransportLimits) for every device transport (MQTT, HTTP,
// CoAP). A token bucket per key holds one second's worth of messages (at least one) and refills
// continuously, so a steady rate passes and a burst above one second's worth is cut. The buckets
// live in this process' memory: each transport process limits what it receives itself, as
// ThingsBoard's transport service does, without a Redis round trip per message.
import type { DeviceIdentity, TransportLimits } from './transport-api.js';

interface Bucket {
  tokens: number;
  at: number;
}

/** Messages per second per key (a device id, a tenant id). */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly capacity: number;
  /** How long an empty bucket takes to be full again; also how often idle buckets are dropped. */
  private readonly refillMs: number;
  private lastSweep = -Infinity;

  /** perSecond 0 (or less) = unlimited. */
  constructor(private readonly perSecond: number) {
    this.capacity = Math.max(1, perSecond);
    this.refillMs = perSecond > 0 ? (1000 * this.capacity) / perSecond : Infinity;
  }

  get enabled(): boolean {
    return this.perSecond > 0;
  }

  /** Keys with a bucket now (idle ones are dropped as the limiter is used). */
  get trackedKeys(): number {
    return this.buckets.size;
  }

  /** Takes one message's token; false (nothing taken) when the key is over its rate. */
  tryTake(key: string, now: number): boolean {
    if (!this.hasToken(key, now)) return false;
    this.take(key);
    return true;
  }

  /** Whether the key may send one more message now (refills its bucket; takes nothing). */
  hasToken(key: string, now: number): boolean {
    if (!this.enabled) return true;
    if (now - this.lastSweep >= this.refillMs) this.sweep(now);
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { tokens: this.capacity, at: now };
      this.buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(this.capacity, bucket.tokens + ((now - bucket.at) * this.perSecond) / 1000);
      bucket.at = now;
    }
    return bucket.tokens >= 1;
  }

  /** Takes the token hasToken(key) just found. */
  take(key: string): void {
    const bucket = this.buckets.get(key);
    if (bucket) bucket.tokens -= 1;
  }

  /** Drops buckets that are full again: a new one starts full too, so the map follows the active keys. */
  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, b] of this.buckets) if (b.tokens + ((now - b.at) * this.perSecond) / 1000 >= this.capacity) this.buckets.delete(key);
  }
}

/** The device and the tenant limits together: a message passes only if both allow it, and then counts against both. */
export class DeviceRateLimiter {
  private readonly device: RateLimiter;
  private readonly tenant: RateLimiter;

  constructor(
    limits: Pick<TransportLimits, 'deviceMsgsPerSecond' | 'tenantMsgsPerSecond'>,
    private readonly now: () => number = Date.now,
  ) {
    this.device = new RateLimiter(limits.deviceMsgsPerSecond);
    this.tenant = new RateLimiter(limits.tenantMsgsPerSecond);
  }

  /** Takes one message from the device's and the tenant's buckets, or names the limit that refused it (nothing taken). */
  acquire(device: DeviceIdentity): 'device' | 'tenant' | null {
    const at = this.now();
    if (!this.device.hasToken(device.deviceId, at)) return 'device';
    if (!this.tenant.hasToken(device.tenantId, at)) return 'tenant';
    this.device.take(device.deviceId);
    this.tenant.take(device.tenantId);
    return null;
  }

  tryAcquire(device: DeviceIdentity): boolean {
    return this.acquire(device) === null;
  }
}
