// The JwtService of a deployment: settings for lifetimes and issuer, the key from the settings or Redis.
import type { Store } from '../../store/store.js';
import { resolveApiSettings, type ApiSettings } from '../api-settings.js';
import { JwtService } from './jwt.js';
import { loadSigningKey } from './signing-key.js';

export async function createJwtService(store: Store, partial: Partial<ApiSettings> = {}): Promise<JwtService> {
  const settings = resolveApiSettings(partial);
  const key = await loadSigningKey(store.redis, store.keys, settings.jwtSigningKey);
  return new JwtService(key, { issuer: settings.jwtIssuer, accessTtlSec: settings.jwtAccessTtlSec, refreshTtlSec: settings.jwtRefreshTtlSec });
}
