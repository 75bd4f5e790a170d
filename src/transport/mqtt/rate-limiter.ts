// Messages per second per key (device, tenant): a token bucket holding one second of messages,
// refilled continuously, so a steady rate passes and a burst above one second's worth is cut.

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  /** perSecond 0 = unlimited. */
  constructor(private readonly perSecond: number) {}

  get enabled(): boolean {
    return this.perSecond > 0;
  }

  /** Takes one message's token; false when the key is over its rate. */
  tryTake(key: string, now: number): boolean {
    if (this.perSecond <= 0) return true;
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: this.perSecond, at: now };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.perSecond, b.tokens + ((now - b.at) * this.perSecond) / 1000);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Forgets buckets that are full again (idle keys), so the map follows the live devices. */
  sweep(now: number): void {
    for (const [key, b] of this.buckets) if (b.tokens + ((now - b.at) * this.perSecond) / 1000 >= this.perSecond) this.buckets.delete(key);
  }
}
