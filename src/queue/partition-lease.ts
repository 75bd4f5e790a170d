// Ownership of one queue partition by one consumer at a time: a Redis key with a TTL, renewed while
// held, whose value carries a fencing token that grows with every new owner.
import type { Redis } from 'ioredis';

// Scripts are tiny and run every few seconds: plain EVAL, no script cache to manage.
const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
return token`;

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export class PartitionLease {
  private value: string | undefined;
  private fencingToken: number | undefined;
  /** Date.now() of the last time Redis confirmed the lease. */
  private confirmedAt = 0;

  constructor(
    private readonly redis: Redis,
    readonly key: string,
    private readonly fenceKey: string,
    private readonly ownerId: string,
    readonly ttlMs: number,
  ) {}

  /** The fencing token while held (a later owner always has a larger one). */
  get token(): number | undefined {
    return this.fencingToken;
  }

  /** Held as far as this process knows: acquired, and confirmed within the TTL. */
  get held(): boolean {
    return this.value !== undefined && Date.now() - this.confirmedAt < this.ttlMs;
  }

  /** Takes the lease if nobody holds it. */
  async tryAcquire(): Promise<boolean> {
    const asked = Date.now();
    const token = await this.redis.eval(ACQUIRE, 2, this.key, this.fenceKey, this.ownerId, this.ttlMs);
    if (token === null) return false;
    this.fencingToken = Number(token);
    this.value = `${this.ownerId}|${this.fencingToken}`;
    this.confirmedAt = asked;
    return true;
  }

  /** Extends the TTL; false when someone else holds it now. Throws when Redis cannot be asked. */
  async renew(): Promise<boolean> {
    if (this.value === undefined) return false;
    const asked = Date.now();
    const ok = (await this.redis.eval(RENEW, 1, this.key, this.value, this.ttlMs)) === 1;
    if (ok) this.confirmedAt = asked;
    else this.forget();
    return ok;
  }

  /** The fencing check before work: is the lease in Redis still ours, with our token? */
  async verify(): Promise<boolean> {
    if (this.value === undefined) return false;
    return (await this.redis.get(this.key)) === this.value;
  }

  /** Gives the lease up (only if still ours); the next owner can take it at once. */
  async release(): Promise<void> {
    const value = this.value;
    this.forget();
    if (value !== undefined) await this.redis.eval(RELEASE, 1, this.key, value);
  }

  private forget(): void {
    this.value = undefined;
    this.fencingToken = undefined;
  }
}
