// Tenants: a small global catalogue under the {g} tag.
import { getDocs, casSet } from './docs.js';
import { NotFoundError, StoreValidationError } from './errors.js';
import { newId, type IdOf } from './ids.js';
import { parseDoc, parseDocOrNull, type JsonObject } from './json.js';
import type { StoreKeys } from './keys.js';
import { checkPageLink, pageInMemory, type PageData, type PageLink } from './page.js';
import { execAll, type RedisClient } from './redis-client.js';
import { retryStale, STALE } from './retry.js';

export interface Tenant {
  readonly id: IdOf<'TENANT'>;
  readonly createdTime: number;
  readonly title: string;
  /** ThingsBoard repeats the title as name. */
  readonly name: string;
  readonly region: string;
  readonly additionalInfo: JsonObject | null;
}

export interface TenantInput {
  readonly title: string;
  readonly region?: string;
  readonly additionalInfo?: JsonObject | null;
}

export class TenantRepository {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StoreKeys,
  ) {}

  async create(input: TenantInput): Promise<Tenant> {
    const title = checkTitle(input.title);
    const tenant: Tenant = {
      id: newId('TENANT'),
      createdTime: Date.now(),
      title,
      name: title,
      region: input.region ?? 'Global',
      additionalInfo: input.additionalInfo ?? null,
    };
    await execAll(
      this.redis
        .multi()
        .set(this.keys.tenant(tenant.id.id), JSON.stringify(tenant))
        .zadd(this.keys.tenants(), tenant.createdTime, tenant.id.id),
    );
    return tenant;
  }

  async get(tenantId: string): Promise<Tenant | null> {
    return parseDocOrNull<Tenant>(await this.redis.get(this.keys.tenant(tenantId)));
  }

  async update(tenantId: string, patch: Partial<TenantInput>): Promise<Tenant> {
    const key = this.keys.tenant(tenantId);
    return retryStale('update tenant', async () => {
      const before = await this.redis.get(key);
      if (before === null) throw new NotFoundError('TENANT', tenantId);
      const cur = parseDoc<Tenant>(before);
      const title = patch.title !== undefined ? checkTitle(patch.title) : cur.title;
      const next: Tenant = {
        ...cur,
        title,
        name: title,
        region: patch.region ?? cur.region,
        additionalInfo: patch.additionalInfo !== undefined ? patch.additionalInfo : cur.additionalInfo,
      };
      return (await casSet(this.redis, key, before, JSON.stringify(next))) ? next : STALE;
    });
  }

  async list(link: PageLink): Promise<PageData<Tenant>> {
    checkPageLink(link, ['createdTime', 'title', 'name']);
    const ids = await this.redis.zrange(this.keys.tenants(), 0, -1);
    const all = await getDocs<Tenant>(this.redis, ids.map((id) => this.keys.tenant(id)));
    return pageInMemory(all, link, {
      text: (t) => t.title,
      sortKeys: { createdTime: (t) => t.createdTime, title: (t) => t.title.toLowerCase(), name: (t) => t.title.toLowerCase() },
      defaultSort: 'createdTime',
    });
  }
}

function checkTitle(title: string): string {
  if (typeof title !== 'string' || title.trim() === '') throw new StoreValidationError('Tenant title should be specified!');
  return title;
}
