// Brute-force guard for POST /api/auth/login, per user name and shared by every API process
// (Redis): `maxFailures` wrong passwords within `windowMs` lock the name for `lockMs`; while locked
// even the right password is refused (429 + Retry-After), so guessing cannot go on. A successful
// login clears the count. ThingsBoard locks the account until an administrator unlocks it; a
// short self-expiring lock keeps the protection without letting a stranger lock a user out for good.
import { createHash } from 'node:crypto';
import type { StoreKeys } from '../../store/keys.js';
import { LuaScript } from '../../store/lua-script.js';
import type { RedisClient } from '../../store/redis-client.js';

export interface LoginThrottleOptions {
  /** Default 5 */
  readonly maxFailures?: number;
  /** Failures older than this are forgotten, ms (default 5 min). */
  readonly windowMs?: number;
  /** Default 30 s */
  readonly lockMs?: number;
}

// Every attempt is counted before its password is checked, in one step with the lock check, so
// parallel guesses cannot slip past the limit; a success clears the count.
// KEYS: attempts, lock. ARGV: max, window ms, lock ms. Reply: lock ms in force (0 = go ahead).
const BEGIN_ATTEMPT = new LuaScript(`
local locked = redis.call('PTTL', KEYS[2])
if locked > 0 then return locked end
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  return tonumber(ARGV[3])
end
return 0`);

// A failed attempt that reached the limit locks the name. KEYS: attempts, lock. ARGV: max, lock ms.
const FAILED = new LuaScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
  return tonumber(ARGV[2])
end
return 0`);

export class LoginThrottle {
  readonly maxFailures: number;
  readonly windowMs: number;
  readonly lockMs: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StoreKeys,
    opts: LoginThrottleOptions = {},
  ) {
    this.maxFailures = opts.maxFailures ?? 5;
    this.windowMs = opts.windowMs ?? 300_000;
    this.lockMs = opts.lockMs ?? 30_000;
  }

  /** Counts an attempt; returns the lock in force (ms), or 0 when the password may be checked. */
  async beginAttempt(username: string): Promise<number> {
    const reply = await BEGIN_ATTEMPT.run(
      this.redis,
      [this.keyOf(username, 'failures'), this.keyOf(username, 'lock')],
      [this.maxFailures, this.windowMs, this.lockMs],
    );
    return Number(reply);
  }

  /** After a wrong password: returns the lock now in force (ms), 0 when none. */
  async recordFailure(username: string): Promise<number> {
    const reply = await FAILED.run(this.redis, [this.keyOf(username, 'failures'), this.keyOf(username, 'lock')], [this.maxFailures, this.lockMs]);
    return Number(reply);
  }

  async recordSuccess(username: string): Promise<void> {
    await this.redis.del(this.keyOf(username, 'failures'));
  }

  /** Both keys of a name share one hash tag (one Lua call); the name is hashed, so any length costs the same. */
  private keyOf(username: string, what: 'failures' | 'lock'): string {
    const name = createHash('sha256').update(username.trim().toLowerCase()).digest('hex').slice(0, 32);
    return `${this.keys.prefix}:{login:${name}}:${what}`;
  }
}
