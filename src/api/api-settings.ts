// What the REST API can be tuned with; every field has ThingsBoard's default.
export interface ApiSettings {
  /** Largest request body, bytes (ThingsBoard: HTTP_MAX_PAYLOAD_SIZE_LIMIT_CONFIGURATION, 16 MiB). Larger → 413. */
  readonly maxBodyBytes: number;
  /** ThingsBoard: JWT_TOKEN_EXPIRATION_TIME (s). */
  readonly jwtAccessTtlSec: number;
  /** ThingsBoard: JWT_REFRESH_TOKEN_EXPIRATION_TIME (s). */
  readonly jwtRefreshTtlSec: number;
  readonly jwtIssuer: string;
  /** Base64, at least 64 bytes; undefined = generated once and kept in Redis. */
  readonly jwtSigningKey: string | undefined;
  /** Wrong passwords in a row (within loginFailureWindowMs) that lock a user name. */
  readonly loginMaxFailures: number;
  readonly loginFailureWindowMs: number;
  /** How long the lock lasts (429 with Retry-After meanwhile). */
  readonly loginLockMs: number;
}

export const DEFAULT_API_SETTINGS: ApiSettings = Object.freeze({
  maxBodyBytes: 16 * 1024 * 1024,
  jwtAccessTtlSec: 9000,
  jwtRefreshTtlSec: 604800,
  jwtIssuer: 'thingsboard.io',
  jwtSigningKey: undefined,
  loginMaxFailures: 5,
  loginFailureWindowMs: 300_000,
  loginLockMs: 30_000,
});

export function resolveApiSettings(partial: Partial<ApiSettings> = {}): ApiSettings {
  const s = { ...DEFAULT_API_SETTINGS, ...partial };
  const positive: (keyof ApiSettings)[] = ['maxBodyBytes', 'jwtAccessTtlSec', 'jwtRefreshTtlSec', 'loginMaxFailures', 'loginFailureWindowMs', 'loginLockMs'];
  for (const key of positive) {
    const v = s[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`API setting ${key} must be a positive integer, got ${String(v)}`);
  }
  return Object.freeze(s);
}
