import type { Store } from '../store/store.js';
import type { DeviceProfile } from '../store/device-profiles.js';
import type { DeviceIdentity } from './transport-api.js';

const PROFILE_CACHE_MS = 5000;

/**
 * Access token → device identity, for every device message: the token lookup is one Redis
 * round trip; the device profile (the chain and queue of its messages) is cached briefly.
 */
export class DeviceAuth {
  private readonly profiles = new Map<string, { profile: DeviceProfile | null; until: number }>();

  constructor(private readonly store: Store) {}

  async authenticate(token: string): Promise<DeviceIdentity | null> {
    if (token === '' || token.length > 256) return null;
    const device = await this.store.credentials.findDeviceByToken(token);
    if (!device) return null;
    const tenantId = device.tenantId.id;
    const profile = device.deviceProfileId ? await this.profile(tenantId, device.deviceProfileId.id) : null;
    const customerId = device.customerId.id;
    return {
      tenantId,
      customerId: /^0{8}-0{4}-0{4}-0{4}-0{12}$/.test(customerId) ? null : customerId,
      deviceId: device.id.id,
      deviceName: device.name,
      deviceType: device.type,
      deviceProfileId: device.deviceProfileId?.id ?? null,
      ruleChainId: profile?.defaultRuleChainId?.id ?? null,
      queueName: profile?.defaultQueueName ?? null,
    };
  }

  private async profile(tenantId: string, profileId: string): Promise<DeviceProfile | null> {
    const now = Date.now();
    const cached = this.profiles.get(profileId);
    if (cached && cached.until > now) return cached.profile;
    const profile = await this.store.deviceProfiles.get(tenantId, profileId);
    this.profiles.set(profileId, { profile, until: now + PROFILE_CACHE_MS });
    return profile;
  }
}
