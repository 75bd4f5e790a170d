// The access-token index: {tok:<token>} -> which device holds the token, plus a snapshot of that
// device, so that "device by token" (every device message) is one HGET. The device record in its
// tenant slot stays the source of truth; the snapshot carries the device version and only a newer
// (or equal) version may overwrite it, so racing writers cannot leave an older device behind.
import type { Device } from './devices.js';
import { parseDocOrNull } from './json.js';
import type { StoreKeys } from './keys.js';
import { LuaScript, replyStrings } from './lua-script.js';
import type { RedisClient } from './redis-client.js';

// KEYS: token. ARGV: device, tenant, version, doc, now (ms).
// Reply {'OK'} or {'HELD', device, tenant, claimedAt}.
const CLAIM = new LuaScript(`
local held = redis.call('HMGET', KEYS[1], 'dev', 'ten', 'v', 'at')
if held[1] and held[1] ~= ARGV[1] then return {'HELD', held[1], held[2], held[4]} end
if held[1] and (tonumber(held[3]) or 0) > tonumber(ARGV[3]) then return {'OK'} end
redis.call('HSET', KEYS[1], 'dev', ARGV[1], 'ten', ARGV[2], 'v', ARGV[3], 'doc', ARGV[4], 'at', held[4] or ARGV[5])
return {'OK'}`);

// KEYS: token. ARGV: expected holder, device, tenant, version, doc, now (ms).
const STEAL = new LuaScript(`
if redis.call('HGET', KEYS[1], 'dev') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'dev', ARGV[2], 'ten', ARGV[3], 'v', ARGV[4], 'doc', ARGV[5], 'at', ARGV[6])
return 1`);

// KEYS: token. ARGV: device.
const RELEASE = new LuaScript(`
if redis.call('HGET', KEYS[1], 'dev') ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])`);

// KEYS: token. ARGV: device, version, doc.
const REFRESH = new LuaScript(`
local held = redis.call('HMGET', KEYS[1], 'dev', 'v')
if held[1] ~= ARGV[1] then return 0 end
if (tonumber(held[2]) or 0) > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'doc', ARGV[3])
return 1`);

export type ClaimResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly deviceId: string; readonly tenantId: string; readonly claimedAt: number };

export class TokenIndex {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StoreKeys,
  ) {}

  /** The device snapshot for a token: one round trip. */
  async device(token: string): Promise<Device | null> {
    return parseDocOrNull<Device>(await this.redis.hget(this.keys.token(token), 'doc'));
  }

  /** Takes the token for the device unless another device holds it. */
  async claim(token: string, device: Device): Promise<ClaimResult> {
    const args = [device.id.id, device.tenantId.id, device.version, JSON.stringify(device), Date.now()];
    const [status, deviceId, tenantId, at] = replyStrings(await CLAIM.run(this.redis, [this.keys.token(token)], args));
    return status === 'OK' ? { ok: true } : { ok: false, deviceId: deviceId ?? '', tenantId: tenantId ?? '', claimedAt: Number(at) || 0 };
  }

  /** Takes over a token whose holder turned out to be stale; false if the holder changed meanwhile. */
  async steal(token: string, expectedHolder: string, device: Device): Promise<boolean> {
    const args = [expectedHolder, device.id.id, device.tenantId.id, device.version, JSON.stringify(device), Date.now()];
    return (await STEAL.run(this.redis, [this.keys.token(token)], args)) === 1;
  }

  /** Drops the token if this device holds it. */
  async release(token: string, deviceId: string): Promise<void> {
    await RELEASE.run(this.redis, [this.keys.token(token)], [deviceId]);
  }

  /** Writes a newer device snapshot if this device holds the token. */
  async refresh(token: string, device: Device): Promise<void> {
    await REFRESH.run(this.redis, [this.keys.token(token)], [device.id.id, device.version, JSON.stringify(device)]);
  }
}
