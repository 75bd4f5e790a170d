// A real Store on a fresh test redis-server, with a tenant, a customer and a device, for
// tests of nodes that read or write entities. One per test file: call in before(), close in after().
import { Redis } from 'ioredis';
import type { NodeServices } from '../../src/engine/node-api.js';
import type { TbMsg } from '../../src/msg/tb-msg.js';
import { Store } from '../../src/store/store.js';
import type { Device } from '../../src/store/devices.js';
import type { Tenant } from '../../src/store/tenants.js';
import type { Customer } from '../../src/store/customers.js';
import { startTestRedis } from './redis-server.js';
import { testMsg, testServices, type TestServices } from './node-harness.js';

export interface StoreFixture {
  readonly store: Store;
  readonly redis: Redis;
  readonly url: string;
  readonly tenant: Tenant;
  readonly customer: Customer;
  /** A device of `tenant`, assigned to `customer`. */
  readonly device: Device;
  /** Test services with this store. */
  readonly services: TestServices;
  /** A message from `device` in `tenant` (override anything). */
  msg(init?: Parameters<typeof testMsg>[0]): TbMsg;
  close(): Promise<void>;
}

export async function startStoreFixture(overrides: Partial<NodeServices> = {}): Promise<StoreFixture> {
  const server = await startTestRedis();
  const redis = new Redis(server.url);
  const store = new Store(redis);
  const tenant = await store.tenants.create({ title: 'Test tenant' });
  const customer = await store.customers.create(tenant.id.id, { title: 'Test customer' });
  const device = await store.devices.create(tenant.id.id, { name: 'Thermostat A', type: 'thermostat', customerId: customer.id.id });
  const services = testServices({ store, serviceId: 'test-service', ...overrides });
  return {
    store,
    redis,
    url: server.url,
    tenant,
    customer,
    device,
    services,
    msg: (init = {}) =>
      testMsg({
        originator: { entityType: 'DEVICE', id: device.id.id },
        tenantId: tenant.id.id,
        customerId: customer.id.id,
        metaData: { deviceName: device.name, deviceType: device.type, ts: String(Date.now()) },
        ...init,
      }),
    async close() {
      redis.disconnect();
      await server.stop();
    },
  };
}
