// Deleting a tenant and everything in it. The Store has no tenant delete yet, so this walks its
// repositories: devices (with their data and tokens), users (freeing their e-mails), the entity
// data of customers and of the tenant, then every key of the tenant's slot, and the tenant last,
// so that an interrupted delete can simply be run again.
// TODO(store): move into TenantRepository.delete() once the store owns it.
import type { Cluster, Redis } from 'ioredis';
import type { EntityId } from '../msg/entity.js';
import { idOf } from '../store/ids.js';
import { keyPart } from '../store/keys.js';
import { execAll } from '../store/redis-client.js';
import type { Store } from '../store/store.js';

const PAGE = { pageSize: 500, page: 0 } as const;

export async function deleteTenantData(store: Store, tenantId: string): Promise<void> {
  // Always page 0: each round deletes what it listed.
  for (let devices = await store.devices.listByTenant(tenantId, PAGE); devices.data.length > 0; devices = await store.devices.listByTenant(tenantId, PAGE)) {
    for (const d of devices.data) await store.devices.delete(tenantId, d.id.id);
  }
  for (let users = await store.users.listByTenant(tenantId, PAGE); users.data.length > 0; users = await store.users.listByTenant(tenantId, PAGE)) {
    for (const u of users.data) await store.users.delete(tenantId, u.id.id);
  }
  const entities: EntityId[] = [idOf('TENANT', tenantId)];
  for (let page = 0; ; page++) {
    const customers = await store.customers.list(tenantId, { pageSize: 500, page });
    entities.push(...customers.data.map((c) => c.id));
    if (!customers.hasNext) break;
  }
  for (const e of entities) {
    await Promise.all([store.attributes.deleteAll(e), store.timeseries.deleteAll(e), store.events.deleteAll(e), store.relations.deleteAll(tenantId, e)]);
  }
  await deleteMatching(store.redis, `${store.keys.prefix}:{t:${globEscape(keyPart(tenantId))}}*`);
  await execAll(store.redis.multi().del(store.keys.tenant(tenantId)).zrem(store.keys.tenants(), tenantId));
}

/** SCAN + UNLINK on every master (a cluster keeps the slot on one of them). */
async function deleteMatching(redis: Redis | Cluster, pattern: string): Promise<void> {
  const nodes: Redis[] = isCluster(redis) ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await node.unlink(...keys);
    } while (cursor !== '0');
  }
}

function isCluster(redis: Redis | Cluster): redis is Cluster {
  return (redis as { isCluster?: boolean }).isCluster === true;
}

function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
