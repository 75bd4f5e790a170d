// Device credentials (ACCESS_TOKEN). The token is unique across all tenants through the token index
// ({tok:<token>}); the credentials record in the tenant slot is the source of truth.
//
// save(): claim the token (index) -> write the record (tenant slot) -> refresh the snapshot and drop
// the previous token. A claim left by a crash points at a device whose record does not name the
// token; after a grace period the next claimant takes it over. Within the grace period it counts as
// taken, so two concurrent saves of one token can never both succeed.
import { randomInt, randomUUID } from 'node:crypto';
import type { Device } from './devices.js';
import { DuplicateError, NotFoundError, StoreValidationError } from './errors.js';
import { idOf, type IdOf } from './ids.js';
import { parseDoc, parseDocOrNull } from './json.js';
import type { StoreKeys } from './keys.js';
import { LuaScript, replyStrings } from './lua-script.js';
import { execAll, type RedisClient } from './redis-client.js';
import { retryStale, STALE } from './retry.js';
import { TokenIndex } from './token-index.js';

export interface DeviceCredentials {
  readonly id: { readonly id: string };
  readonly createdTime: number;
  readonly deviceId: IdOf<'DEVICE'>;
  readonly credentialsType: 'ACCESS_TOKEN';
  /** The access token */
  readonly credentialsId: string;
  readonly credentialsValue: null;
}

export const TOKEN_LENGTH = 20;
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** How long a claim whose device does not name the token is respected (a save in flight). */
const STALE_CLAIM_MS = 30_000;

// KEYS: device doc, credentials. ARGV: expected credentials ('' none), next credentials.
// Reply {'OK', device doc} | {'MISSING'} | {'STALE'}.
const WRITE = new LuaScript(`
local doc = redis.call('GET', KEYS[1])
if not doc then return {'MISSING'} end
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return {'STALE'} end
redis.call('SET', KEYS[2], ARGV[2])
return {'OK', doc}`);

/** 20 random alphanumeric characters, like ThingsBoard's generated tokens. */
export function generateAccessToken(): string {
  let token = '';
  for (let i = 0; i < TOKEN_LENGTH; i++) token += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return token;
}

export class DeviceCredentialsRepository {
  private readonly tokens: TokenIndex;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StoreKeys,
  ) {
    this.tokens = new TokenIndex(redis, keys);
  }

  /** The hot path of every device message: one round trip. */
  async findDeviceByToken(token: string): Promise<Device | null> {
    return this.tokens.device(token);
  }

  async findByDeviceId(tenantId: string, deviceId: string): Promise<DeviceCredentials | null> {
    return parseDocOrNull<DeviceCredentials>(await this.redis.get(this.keys.deviceCredentials(tenantId, deviceId)));
  }

  /** Creates or replaces the device's access token (generated when not given). */
  async save(tenantId: string, deviceId: string, token: string = generateAccessToken()): Promise<DeviceCredentials> {
    checkToken(token);
    const docKey = this.keys.device(tenantId, deviceId);
    const credKey = this.keys.deviceCredentials(tenantId, deviceId);
    return retryStale('save device credentials', async () => {
      const [docText, credText] = (await execAll(this.redis.multi().get(docKey).get(credKey))) as [string | null, string | null];
      if (docText === null) throw new NotFoundError('DEVICE', deviceId);
      const device = parseDoc<Device>(docText);
      const old = parseDocOrNull<DeviceCredentials>(credText);
      if (old !== null && old.credentialsId === token) return old;

      const claim = await this.tokens.claim(token, device);
      if (!claim.ok) {
        const holder = await this.findByDeviceId(claim.tenantId, claim.deviceId);
        if (holder?.credentialsId === token || Date.now() - claim.claimedAt < STALE_CLAIM_MS) {
          throw new DuplicateError('DEVICE', 'token', token, 'Device credentials are already assigned to another device!');
        }
        if (!(await this.tokens.steal(token, claim.deviceId, device))) return STALE;
      }

      const next: DeviceCredentials = {
        id: old?.id ?? { id: randomUUID() },
        createdTime: old?.createdTime ?? Date.now(),
        deviceId: idOf('DEVICE', deviceId),
        credentialsType: 'ACCESS_TOKEN',
        credentialsId: token,
        credentialsValue: null,
      };
      const [status, latest] = replyStrings(await WRITE.run(this.redis, [docKey, credKey], [credText ?? '', JSON.stringify(next)]));
      if (status !== 'OK') {
        await this.tokens.release(token, deviceId);
        if (status === 'MISSING') throw new NotFoundError('DEVICE', deviceId);
        return STALE;
      }
      // The device may have changed since it was read: the snapshot follows the latest version.
      await Promise.all([
        this.tokens.refresh(token, parseDoc<Device>(latest ?? docText)),
        old !== null ? this.tokens.release(old.credentialsId, deviceId) : undefined,
      ]);
      return next;
    });
  }
}

function checkToken(token: string): void {
  if (typeof token !== 'string' || token === '') throw new StoreValidationError('Device credentials id should be specified!');
  if (/\s/.test(token)) throw new StoreValidationError('Access token should not contain whitespace');
}
