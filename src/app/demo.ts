// Demo data for a first `npm start`: the users, tenant, customer, root chain, device profile and
// devices a ThingsBoard user expects, and the commands to try them. Only when the store is empty.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Store } from '../store/store.js';
import type { TenantChains } from '../rule-engine/tenant-chains.js';

export const SHIPPED_ROOT_CHAIN = fileURLToPath(new URL('../../rule-chains/root_rule_chain.json', import.meta.url));

export const DEMO_USERS = {
  sysadmin: { email: 'sysadmin@thingsboard.org', password: 'sysadmin' },
  tenant: { email: 'tenant@thingsboard.org', password: 'tenant' },
  customer: { email: 'customer@thingsboard.org', password: 'customer' },
} as const;

/** Demo devices with fixed access tokens, so the printed commands work as they are. */
export const DEMO_DEVICES = [
  { name: 'Smart Switch', type: 'switch', token: 'DEMO_SWITCH_TOKEN', customer: true },
  { name: 'GPIO Board', type: 'gpio', token: 'DEMO_GPIO_TOKEN', customer: true },
  { name: 'Thermostat T1', type: 'thermostat', token: 'DEMO_THERMOSTAT_TOKEN', customer: false },
  { name: 'Controller A', type: 'controller', token: 'DEMO_CONTROLLER_TOKEN', customer: false },
] as const;

export interface DemoData {
  readonly tenantId: string;
  readonly customerId: string;
  /** Device name → id. */
  readonly devices: Readonly<Record<string, string>>;
}

/** Creates the demo when no tenant exists yet; returns null when the store already has data. */
export async function seedDemo(store: Store, chains: TenantChains): Promise<DemoData | null> {
  const existing = await store.tenants.list({ pageSize: 1, page: 0 });
  if (existing.totalElements > 0) return null;
  if (!(await store.users.findByEmail(DEMO_USERS.sysadmin.email))) {
    await store.users.create({ email: DEMO_USERS.sysadmin.email, authority: 'SYS_ADMIN', password: DEMO_USERS.sysadmin.password, firstName: 'System', lastName: 'Administrator' });
  }
  const tenant = await store.tenants.create({ title: 'Demo tenant' });
  const tenantId = tenant.id.id;
  const customer = await store.customers.create(tenantId, { title: 'Customer A' });
  const customerId = customer.id.id;
  await store.users.create({ email: DEMO_USERS.tenant.email, authority: 'TENANT_ADMIN', tenantId, password: DEMO_USERS.tenant.password });
  await store.users.create({ email: DEMO_USERS.customer.email, authority: 'CUSTOMER_USER', tenantId, customerId, password: DEMO_USERS.customer.password });

  // As in ThingsBoard: the root chain is the tenant's, and the default profile names no chain.
  const root = JSON.parse(await readFile(SHIPPED_ROOT_CHAIN, 'utf8')) as unknown;
  await chains.importChain(tenantId, root, { source: SHIPPED_ROOT_CHAIN, root: true });
  await store.deviceProfiles.create(tenantId, { name: 'default', default: true, defaultRuleChainId: null, defaultQueueName: null });

  const devices: Record<string, string> = {};
  for (const d of DEMO_DEVICES) {
    const device = await store.devices.create(tenantId, { name: d.name, type: d.type, customerId: d.customer ? customerId : null });
    await store.credentials.save(tenantId, device.id.id, d.token);
    devices[d.name] = device.id.id;
  }
  // Controller A uses Thermostat T1: for the device-to-related-device chain.
  await store.relations.save(tenantId, {
    from: { entityType: 'DEVICE', id: devices['Controller A'] },
    to: { entityType: 'DEVICE', id: devices['Thermostat T1'] },
    type: 'Uses',
  });
  return { tenantId, customerId, devices };
}

/** Ready-to-paste commands for the demo (printed by `npm start`). */
export function demoInstructions(demo: DemoData, ports: { http: number; mqtt: number }): string {
  const sw = demo.devices['Smart Switch'];
  const api = `http://localhost:${ports.http}`;
  return [
    'Demo ready. Users: sysadmin@thingsboard.org / sysadmin, tenant@thingsboard.org / tenant, customer@thingsboard.org / customer',
    `Dashboard: ${api}/`,
    '',
    '# 1. act as the device "Smart Switch" (answers every command with {"ok":true}):',
    `mosquitto_sub -h localhost -p ${ports.mqtt} -u DEMO_SWITCH_TOKEN -t 'v1/devices/me/rpc/request/+' -v | while read -r topic payload; do mosquitto_pub -h localhost -p ${ports.mqtt} -u DEMO_SWITCH_TOKEN -t "\${topic/request/response}" -m '{"ok":true}'; done`,
    '',
    '# 2. log in and send it a two-way RPC:',
    `TOKEN=$(curl -s -X POST ${api}/api/auth/login -H 'Content-Type: application/json' -d '{"username":"tenant@thingsboard.org","password":"tenant"}' | sed 's/.*"token":"\\([^"]*\\)".*/\\1/')`,
    `curl -s -X POST ${api}/api/rpc/twoway/${sw} -H "X-Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"method":"setValue","params":true}'`,
    '',
    '# 3. telemetry, and a client-side RPC answered by the root chain:',
    `mosquitto_pub -h localhost -p ${ports.mqtt} -u DEMO_THERMOSTAT_TOKEN -t v1/devices/me/telemetry -m '{"temperature":21.5}'`,
    `mosquitto_sub -h localhost -p ${ports.mqtt} -u DEMO_THERMOSTAT_TOKEN -t 'v1/devices/me/rpc/response/+' -C 1 -v & sleep 0.5; mosquitto_pub -h localhost -p ${ports.mqtt} -u DEMO_THERMOSTAT_TOKEN -t v1/devices/me/rpc/request/1 -m '{"method":"getCurrentTime","params":{}}'; wait`,
    '',
    '# or simulate a device: npx rpc-chains simulate --token DEMO_SWITCH_TOKEN',
  ].join('\n');
}
