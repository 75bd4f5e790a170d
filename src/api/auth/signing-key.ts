// The HS512 signing key: from the settings (base64, as ThingsBoard's JWT_TOKEN_SIGNING_KEY), or
// generated once and kept in Redis so that every API process, and every restart, signs alike.
import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../../store/redis-client.js';
import type { StoreKeys } from '../../store/keys.js';

/** HS512 wants a key at least as long as its 512-bit hash. */
export const MIN_KEY_BYTES = 64;

/** Kept next to the tenants catalogue ({g} tag); one key per store prefix. */
export function signingKeyName(keys: StoreKeys): string {
  return `${keys.prefix}:{g}:jwt:signing-key`;
}

export async function loadSigningKey(redis: RedisClient, keys: StoreKeys, configured?: string): Promise<Uint8Array> {
  if (configured !== undefined && configured !== '') return decodeKey(configured, 'the configured JWT signing key');
  const name = signingKeyName(keys);
  // SET NX: when two processes start together, the first key written wins for both.
  await redis.set(name, randomBytes(MIN_KEY_BYTES).toString('base64'), 'NX');
  const stored = await redis.get(name);
  if (stored === null) throw new Error(`JWT signing key ${name} vanished right after it was written`);
  return decodeKey(stored, `the JWT signing key in Redis (${name})`);
}

function decodeKey(base64: string, what: string): Uint8Array {
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length < MIN_KEY_BYTES) {
    throw new Error(`${what} must be base64 of at least ${MIN_KEY_BYTES} bytes (HS512), got ${bytes.length} bytes`);
  }
  return new Uint8Array(bytes);
}
