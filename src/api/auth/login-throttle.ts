// Brute-force guard for POST /api/auth/login, per user name and shared by every API process
// (Redis): `maxFailures` wrong passwords within `windowMs` lock the name for `lockMs`; while locked
// even the right password is refused (429 + Retry-After), so guessing cannot go on. A successful
// login clears the count. ThingsBoard locks the account until an administrator unlocks it; a
// short self-expiring lock keeps the protection without letting a stranger lock a user out for good.
import { keyPart, type StoreKeys } from '../../store/keys.js';
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

// KEYS: failures, lock. ARGV: max, window ms, lock ms. Reply: lock ms now in force (0 = none).
const RECORD_FAILURE = new LuaScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n >= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  return tonumber(ARGV[3])
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

  /** Milliseconds the name stays locked, 0 when it is not. */
  async lockedFor(username: string): Promise<number> {
    return Math.max(0, await this.redis.pttl(this.keyOf(username, 'lock')));
  }

  /** Counts a failure; returns the lock now in force (ms), 0 when none. */
  async recordFailure(username: string): Promise<number> {
    const reply = await RECORD_FAILURE.run(
      this.redis,
      [this.keyOf(username, 'failures'), this.keyOf(username, 'lock')],
      [this.maxFailures, this.windowMs, this.lockMs],
    );
    return Number(reply);
  }

  async recordSuccess(username: string): Promise<void> {
    await this.redis.del(this.keyOf(username, 'failures'));
  }

  /** Both keys of a name share one hash tag (one Lua call). */
  private keyOf(username: string, what: 'failures' | 'lock'): string {
    return `${this.keys.prefix}:{login:${keyPart(username.trim().toLowerCase())}}:${what}`;
  }
}
