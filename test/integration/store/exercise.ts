// Runs every repository operation once (with cascades), so a keyspace can be inspected afterwards.
import type { Store } from '../../../src/store/store.js';

export async function exerciseAllRepositories(store: Store): Promise<void> {
  const tenant = await store.tenants.create({ title: 'Keyspace' });
  const t = tenant.id.id;
  await store.tenants.update(t, { title: 'Keyspace 2' });
  await store.tenants.list({ pageSize: 10, page: 0 });

  const customer = await store.customers.create(t, { title: 'C' });
  await store.customers.update(t, customer.id.id, { title: 'C2' });
  await store.customers.findByTitle(t, 'C2');
  await store.customers.list(t, { pageSize: 10, page: 0 });

  await store.users.create({ email: 'sys@k.test', authority: 'SYS_ADMIN', password: 'p' });
  const admin = await store.users.create({ email: 'admin@k.test', authority: 'TENANT_ADMIN', tenantId: t, password: 'p' });
  const cu = await store.users.create({ email: 'cu@k.test', authority: 'CUSTOMER_USER', tenantId: t, customerId: customer.id.id });
  await store.users.setPassword(t, cu.id.id, 'q');
  await store.users.authenticate('admin@k.test', 'p');
  await store.users.update(t, admin.id.id, { firstName: 'A' });
  await store.users.listByTenant(t, { pageSize: 10, page: 0 });
  await store.users.listByCustomer(t, customer.id.id, { pageSize: 10, page: 0 });
  const gone = await store.users.create({ email: 'gone@k.test', authority: 'TENANT_ADMIN', tenantId: t });
  await store.users.delete(t, gone.id.id);

  const profile = await store.deviceProfiles.create(t, { name: 'default' });
  const profile2 = await store.deviceProfiles.create(t, { name: 'other' });
  await store.deviceProfiles.setDefault(t, profile2.id.id);
  await store.deviceProfiles.update(t, profile.id.id, { name: 'first' });
  await store.deviceProfiles.list(t, { pageSize: 10, page: 0 });
  await store.deviceProfiles.setDefault(t, profile.id.id);
  await store.deviceProfiles.delete(t, profile2.id.id);

  const device = await store.devices.create(t, { name: 'd1', customerId: customer.id.id });
  const device2 = await store.devices.create(t, { name: 'd2' });
  await store.credentials.save(t, device.id.id, 'token-1');
  await store.credentials.save(t, device2.id.id);
  await store.credentials.save(t, device.id.id, 'token-2');
  await store.credentials.findDeviceByToken('token-2');
  await store.devices.update(t, device.id.id, { name: 'd1b' });
  await store.devices.unassignFromCustomer(t, device.id.id);
  await store.devices.assignToCustomer(t, device2.id.id, customer.id.id);
  await store.devices.listByTenant(t, { pageSize: 1, page: 0 });
  await store.devices.listByTenant(t, { pageSize: 1, page: 0, sortProperty: 'name', sortOrder: 'DESC' });
  await store.devices.listByTenant(t, { pageSize: 1, page: 0, textSearch: 'd' });
  await store.devices.listByCustomer(t, customer.id.id, { pageSize: 10, page: 0 });
  await store.devices.findByName(t, 'd1b');

  const asset = { entityType: 'ASSET' as const, id: '22222222-2222-2222-2222-222222222222' };
  await store.relations.save(t, { from: asset, to: device.id, type: 'Contains', additionalInfo: { a: 1 } });
  await store.relations.save(t, { from: device.id, to: device2.id, type: 'Uses' });
  await store.relations.findByQuery(t, asset, { direction: 'FROM', maxLevel: 0 });
  await store.relations.findByQuery(t, device2.id, { direction: 'TO', maxLevel: 2, fetchLastLevelOnly: true });
  await store.relations.get(t, asset, device.id, 'Contains');
  await store.relations.delete(t, device.id, device2.id, 'Uses');
  await store.relations.save(t, { from: device.id, to: device2.id, type: 'Uses' });

  await store.attributes.save(device.id, 'SERVER_SCOPE', { a: 1, b: { c: true } });
  await store.attributes.get(device.id, 'SERVER_SCOPE', ['a']);
  await store.attributes.getAll(device.id, 'SERVER_SCOPE');
  await store.attributes.delete(device.id, 'SERVER_SCOPE', ['a']);
  await store.attributes.save(device2.id, 'SHARED_SCOPE', { s: 's' });

  await store.timeseries.save(device.id, [{ ts: 1, values: { t: 1, 'odd:key{x}': 2 } }]);
  await store.timeseries.save(device2.id, { ts: 2, values: { t: 2 } }, { ttlSeconds: 60 });
  await store.timeseries.getLatest(device.id);
  await store.timeseries.getHistory(device2.id, ['t'], { startTs: 0, endTs: 10 });
  await store.timeseries.delete(device.id, ['t']);

  const alarm = await store.alarms.createOrUpdateActive(t, { type: 'A', originator: device2.id, severity: 'MAJOR' });
  await store.alarms.createOrUpdateActive(t, { type: 'A', originator: device2.id, severity: 'CRITICAL' });
  await store.alarms.acknowledge(t, alarm.alarm.id.id);
  await store.alarms.clear(t, alarm.alarm.id.id);
  await store.alarms.listByOriginator(t, device2.id, { pageSize: 10, page: 0 });
  const other = await store.alarms.createOrUpdateActive(t, { type: 'B', originator: device2.id, severity: 'MINOR' });
  await store.alarms.delete(t, other.alarm.id.id);

  const root = await store.ruleChains.create(t, { name: 'Root', document: { nodes: [] }, root: true });
  const chain = await store.ruleChains.create(t, { name: 'Other', document: {} });
  await store.ruleChains.setRoot(t, chain.id.id);
  await store.ruleChains.update(t, root.id.id, { name: 'Old root' });
  await store.ruleChains.list(t);
  await store.ruleChains.getRoot(t);
  await store.ruleChains.delete(t, root.id.id);

  await store.events.append(t, device2.id, 'LC_EVENT', { event: 'STARTED' });
  await store.events.list(device2.id, 'LC_EVENT');

  // a deleted device with everything attached (cascades run multi-key commands too)
  await store.events.append(t, device.id, 'ERROR', { e: 1 });
  await store.alarms.createOrUpdateActive(t, { type: 'C', originator: device.id, severity: 'MINOR' });
  await store.devices.delete(t, device.id.id);
}
