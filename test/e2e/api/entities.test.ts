import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { NULL_UUID } from '../../../src/store/ids.js';
import { startApi, envelopeOf, waitFor, PASSWORD, type ApiFixture } from './harness.js';

interface Entity {
  id: { entityType: string; id: string };
  [key: string]: unknown;
}
interface Page<T> {
  data: T[];
  totalPages: number;
  totalElements: number;
  hasNext: boolean;
}

describe('API entities: ThingsBoard paths and JSON', () => {
  let api: ApiFixture;
  let sysadmin: string;
  let adminA: string;
  let userA1: string;
  let adminB: string;
  before(async () => {
    api = await startApi({ consume: true });
    [sysadmin, adminA, userA1, adminB] = await Promise.all([
      api.login(api.world.sysadmin),
      api.login(api.world.adminA),
      api.login(api.world.userA1),
      api.login(api.world.adminB),
    ]);
  });
  after(async () => api?.close());

  const eventOf = async (type: string, originatorId: string) => {
    await waitFor(`${type} of ${originatorId}`, () => api.received.some((m) => m.type === type && m.originator.id === originatorId));
    return api.received.find((m) => m.type === type && m.originator.id === originatorId)!;
  };

  describe('tenants (system administrator)', () => {
    it('creates, reads, updates, pages and deletes a tenant with everything in it', async () => {
      const created = await api.call('POST', '/api/tenant', { token: sysadmin, body: { title: 'Tenant C', region: 'EU' } });
      expect(created.status).to.equal(200);
      const tenant = created.json as Entity;
      expect(tenant).to.deep.include({ title: 'Tenant C', name: 'Tenant C', region: 'EU' });
      expect(tenant.id.entityType).to.equal('TENANT');
      // ThingsBoard gives a new tenant a default device profile.
      expect((await api.store.deviceProfiles.getDefault(tenant.id.id))?.name).to.equal('default');

      expect(((await api.call('GET', `/api/tenant/${tenant.id.id}`, { token: sysadmin })).json as Entity).title).to.equal('Tenant C');
      const renamed = await api.call('POST', '/api/tenant', { token: sysadmin, body: { id: tenant.id, title: 'Tenant C2' } });
      expect((renamed.json as Entity).title).to.equal('Tenant C2');

      const page = (await api.call('GET', '/api/tenants?pageSize=2&page=0&sortProperty=title&sortOrder=ASC', { token: sysadmin })).json as Page<Entity>;
      expect(page.data.map((t) => t.title)).to.deep.equal(['Tenant A', 'Tenant B']);
      expect(page).to.include({ totalElements: 3, totalPages: 2, hasNext: true });
      const search = (await api.call('GET', '/api/tenants?pageSize=10&page=0&textSearch=c2', { token: sysadmin })).json as Page<Entity>;
      expect(search.data.map((t) => t.title)).to.deep.equal(['Tenant C2']);

      // A tenant administrator sees their own tenant only.
      expect((await api.call('GET', `/api/tenant/${api.world.tenantA.id.id}`, { token: adminA })).status).to.equal(200);
      expect(envelopeOf(await api.call('GET', `/api/tenant/${tenant.id.id}`, { token: adminA }))).to.include({ status: 403 });
      expect(envelopeOf(await api.call('POST', '/api/tenant', { token: adminA, body: { title: 'nope' } }))).to.include({ status: 403 });

      // Delete: its admin, device and token go with it.
      const admin = await api.call('POST', '/api/user', { token: sysadmin, body: { email: 'admin@c.example', authority: 'TENANT_ADMIN', tenantId: tenant.id, password: PASSWORD } });
      expect(admin.status).to.equal(200);
      const adminC = await api.login('admin@c.example');
      const dev = await api.call('POST', '/api/device?accessToken=TENANT-C-TOKEN', { token: adminC, body: { name: 'C1' } });
      expect(dev.status).to.equal(200);
      expect((await api.call('DELETE', `/api/tenant/${tenant.id.id}`, { token: sysadmin })).status).to.equal(200);
      expect((await api.call('GET', `/api/tenant/${tenant.id.id}`, { token: sysadmin })).status).to.equal(404);
      expect(await api.store.users.findByEmail('admin@c.example')).to.equal(null);
      expect(await api.store.credentials.findDeviceByToken('TENANT-C-TOKEN')).to.equal(null);
      expect(await api.store.redis.keys(`*{t:${tenant.id.id}}*`)).to.deep.equal([]);
      expect((await api.call('DELETE', `/api/tenant/${tenant.id.id}`, { token: sysadmin })).status).to.equal(404);
    });
  });

  describe('customers', () => {
    it('creates (ENTITY_CREATED to the rule engine), updates, reads and pages customers; the title is unique', async () => {
      const res = await api.call('POST', '/api/customer', { token: adminA, body: { title: 'Customer A3', email: 'a3@x.example' } });
      expect(res.status).to.equal(200);
      const customer = res.json as Entity;
      expect(customer).to.deep.include({ title: 'Customer A3', email: 'a3@x.example', tenantId: { entityType: 'TENANT', id: api.world.tenantA.id.id } });
      const event = await eventOf('ENTITY_CREATED', customer.id.id);
      expect(event.metaData).to.include({ userId: api.world.adminA.id.id, userName: 'admin@a.example', userFirstName: 'Ada' });
      expect(JSON.parse(event.data)).to.deep.include({ title: 'Customer A3' });

      const dup = await api.call('POST', '/api/customer', { token: adminA, body: { title: 'Customer A3' } });
      expect(envelopeOf(dup)).to.include({ status: 400, errorCode: 31, message: 'Customer with such title already exists!' });

      const updated = await api.call('POST', '/api/customer', { token: adminA, body: { id: customer.id, title: 'Customer A3b' } });
      expect((updated.json as Entity).title).to.equal('Customer A3b');
      expect(((await api.call('GET', `/api/customer/${customer.id.id}`, { token: adminA })).json as Entity).title).to.equal('Customer A3b');

      const page = (await api.call('GET', '/api/customers?pageSize=10&page=0&sortProperty=title&sortOrder=DESC', { token: adminA })).json as Page<Entity>;
      expect(page.data.map((c) => c.title)).to.deep.equal(['Customer A3b', 'Customer A2', 'Customer A1']);

      // A customer user reads their own customer only; another tenant's customer is not found.
      expect((await api.call('GET', `/api/customer/${api.world.customerA1.id.id}`, { token: userA1 })).status).to.equal(200);
      expect((await api.call('GET', `/api/customer/${api.world.customerA2.id.id}`, { token: userA1 })).status).to.equal(403);
      expect((await api.call('GET', `/api/customer/${customer.id.id}`, { token: adminB })).status).to.equal(404);
    });
  });

  describe('users', () => {
    it('a tenant administrator creates a customer user, who can then log in; reads and deletes users', async () => {
      const res = await api.call('POST', '/api/user?sendActivationMail=false', {
        token: adminA,
        body: { email: 'second@a1.example', authority: 'CUSTOMER_USER', customerId: api.world.customerA1.id, firstName: 'Sec', password: 'pw-2' },
      });
      expect(res.status).to.equal(200);
      const user = res.json as Entity;
      expect(user).to.deep.include({ email: 'second@a1.example', name: 'second@a1.example', authority: 'CUSTOMER_USER', firstName: 'Sec' });
      expect(user.customerId).to.deep.equal({ entityType: 'CUSTOMER', id: api.world.customerA1.id.id });
      expect(res.text).to.not.include('pw-2');
      const token = await api.login('second@a1.example', 'pw-2');
      expect(((await api.call('GET', '/api/auth/user', { token })).json as Entity).id).to.deep.equal(user.id);

      expect(((await api.call('GET', `/api/user/${user.id.id}`, { token: adminA })).json as Entity).email).to.equal('second@a1.example');
      // A customer user sees only themselves; another tenant does not see the user at all.
      expect((await api.call('GET', `/api/user/${user.id.id}`, { token: userA1 })).status).to.equal(403);
      expect((await api.call('GET', `/api/user/${user.id.id}`, { token })).status).to.equal(200);
      expect((await api.call('GET', `/api/user/${user.id.id}`, { token: adminB })).status).to.equal(404);
      const listed = (await api.call('GET', `/api/customer/${api.world.customerA1.id.id}/users?pageSize=10&page=0`, { token: adminA })).json as Page<Entity>;
      expect(listed.data.map((u) => u.email)).to.have.members(['user@a1.example', 'second@a1.example']);

      const updated = await api.call('POST', '/api/user', { token: adminA, body: { id: user.id, email: 'second@a1.example', authority: 'CUSTOMER_USER', lastName: 'Ond' } });
      expect((updated.json as Entity).lastName).to.equal('Ond');

      expect((await api.call('DELETE', `/api/user/${user.id.id}`, { token: adminA })).status).to.equal(200);
      expect((await api.call('GET', `/api/user/${user.id.id}`, { token: adminA })).status).to.equal(404);
      expect((await api.call('POST', '/api/auth/login', { body: { username: 'second@a1.example', password: 'pw-2' } })).status).to.equal(401);
    });

    it('who may create whom: no tenant admin for another tenant, no system administrator, no customer user of a foreign customer', async () => {
      // A tenant admin's new user always lands in the admin's own tenant.
      const own = await api.call('POST', '/api/user', { token: adminA, body: { email: 'other@a.example', authority: 'TENANT_ADMIN', tenantId: api.world.tenantB.id } });
      expect((own.json as Entity).tenantId).to.deep.equal({ entityType: 'TENANT', id: api.world.tenantA.id.id });
      expect((await api.call('POST', '/api/user', { token: adminA, body: { email: 'root2@x.example', authority: 'SYS_ADMIN' } })).status).to.equal(403);
      const foreignCustomer = await api.call('POST', '/api/user', {
        token: adminB,
        body: { email: 'c@b.example', authority: 'CUSTOMER_USER', customerId: api.world.customerA1.id },
      });
      expect(envelopeOf(foreignCustomer)).to.include({ status: 404 });
      expect((await api.call('POST', '/api/user', { token: userA1, body: { email: 'x@a.example', authority: 'CUSTOMER_USER', customerId: api.world.customerA1.id } })).status).to.equal(403);
      const dup = await api.call('POST', '/api/user', { token: adminA, body: { email: 'ADMIN@b.example', authority: 'TENANT_ADMIN' } });
      expect(envelopeOf(dup)).to.include({ status: 400, errorCode: 31 });
      // The system administrator reads tenant administrators of any tenant.
      expect((await api.call('GET', `/api/user/${api.world.adminB.id.id}`, { token: sysadmin })).status).to.equal(200);
      expect((await api.call('GET', `/api/user/${api.world.userA1.id.id}`, { token: sysadmin })).status).to.equal(403);
      const admins = (await api.call('GET', `/api/tenant/${api.world.tenantB.id.id}/users?pageSize=10&page=0`, { token: sysadmin })).json as Page<Entity>;
      expect(admins.data.map((u) => u.email)).to.deep.equal(['admin@b.example']);
    });
  });

  describe('devices', () => {
    it('creates a device with a given access token, reads it and its credentials; the profile follows `type`', async () => {
      const res = await api.call('POST', '/api/device?accessToken=A-TOKEN-1', { token: adminA, body: { name: 'Pump 1', type: 'pump', label: 'Cellar' } });
      expect(res.status).to.equal(200);
      const device = res.json as Entity & { deviceProfileId: { id: string } };
      expect(device).to.deep.include({ name: 'Pump 1', type: 'pump', label: 'Cellar', customerId: { entityType: 'CUSTOMER', id: NULL_UUID } });
      expect((await api.store.deviceProfiles.get(api.world.tenantA.id.id, device.deviceProfileId.id))?.name).to.equal('pump');
      expect((await eventOf('ENTITY_CREATED', device.id.id)).originator).to.deep.equal({ entityType: 'DEVICE', id: device.id.id });

      const creds = (await api.call('GET', `/api/device/${device.id.id}/credentials`, { token: adminA })).json as Record<string, unknown>;
      expect(creds).to.deep.include({ credentialsType: 'ACCESS_TOKEN', credentialsId: 'A-TOKEN-1', deviceId: { entityType: 'DEVICE', id: device.id.id } });
      expect(((await api.call('GET', `/api/device/${device.id.id}`, { token: adminA })).json as Entity).name).to.equal('Pump 1');

      // The same token for another device is refused, and that device is not left behind.
      const dup = await api.call('POST', '/api/device?accessToken=A-TOKEN-1', { token: adminA, body: { name: 'Pump 2' } });
      expect(envelopeOf(dup)).to.include({ status: 400, errorCode: 31, message: 'Device credentials are already assigned to another device!' });
      expect(await api.store.devices.findByName(api.world.tenantA.id.id, 'Pump 2')).to.equal(null);
      // Without a token, one is generated; without a type, the default profile is used.
      const plain = (await api.call('POST', '/api/device', { token: adminA, body: { name: 'Pump 2' } })).json as Entity;
      expect(plain.type).to.equal('default');
      const generated = (await api.call('GET', `/api/device/${plain.id.id}/credentials`, { token: adminA })).json as { credentialsId: string };
      expect(generated.credentialsId).to.match(/^[A-Za-z0-9]{20}$/);

      // New token through POST /api/device/credentials; the old one stops working.
      const saved = await api.call('POST', '/api/device/credentials', {
        token: adminA,
        body: { deviceId: { entityType: 'DEVICE', id: device.id.id }, credentialsType: 'ACCESS_TOKEN', credentialsId: 'A-TOKEN-2' },
      });
      expect((saved.json as { credentialsId: string }).credentialsId).to.equal('A-TOKEN-2');
      expect(await api.store.credentials.findDeviceByToken('A-TOKEN-1')).to.equal(null);
      expect((await api.store.credentials.findDeviceByToken('A-TOKEN-2'))?.id.id).to.equal(device.id.id);
      const x509 = await api.call('POST', '/api/device/credentials', {
        token: adminA,
        body: { deviceId: { entityType: 'DEVICE', id: device.id.id }, credentialsType: 'X509_CERTIFICATE', credentialsId: 'x' },
      });
      expect(envelopeOf(x509).message).to.equal('body.credentialsType must be one of ACCESS_TOKEN');

      // Update by id; a name taken by another device is refused.
      const renamed = await api.call('POST', '/api/device', { token: adminA, body: { id: device.id, name: 'Pump 1b', type: 'pump', additionalInfo: { description: 'x' } } });
      expect(renamed.json as Entity).to.deep.include({ name: 'Pump 1b', additionalInfo: { description: 'x' } });
      expect(envelopeOf(await api.call('POST', '/api/device', { token: adminA, body: { id: device.id, name: 'Pump 2' } })).message).to.equal(
        'Device with such name already exists!',
      );
      expect((await api.call('POST', '/api/device', { token: userA1, body: { name: 'by customer' } })).status).to.equal(403);
    });

    it('pages tenant devices with textSearch and sorting, finds one by name, and pages a customer\'s devices', async () => {
      const byName = (await api.call('GET', '/api/tenant/devices?pageSize=2&page=0&sortProperty=name&sortOrder=ASC', { token: adminA })).json as Page<Entity>;
      expect(byName.data.map((d) => d.name)).to.deep.equal(['A1 thermostat', 'A2 valve']);
      expect(byName.hasNext).to.equal(true);
      const search = (await api.call('GET', '/api/tenant/devices?pageSize=10&page=0&textSearch=VALVE', { token: adminA })).json as Page<Entity>;
      expect(search.data.map((d) => d.name)).to.deep.equal(['A2 valve']);
      const one = await api.call('GET', '/api/tenant/devices?deviceName=A3%20spare', { token: adminA });
      expect((one.json as Entity).id.id).to.equal(api.world.deviceA3.id.id);
      expect((await api.call('GET', '/api/tenant/devices?deviceName=none', { token: adminA })).status).to.equal(404);
      expect(envelopeOf(await api.call('GET', '/api/tenant/devices?page=0', { token: adminA })).message).to.equal('querystring.pageSize is required');

      const mine = (await api.call('GET', `/api/customer/${api.world.customerA1.id.id}/devices?pageSize=10&page=0`, { token: userA1 })).json as Page<Entity>;
      expect(mine.data.map((d) => d.name)).to.deep.equal(['A1 thermostat']);
      expect((await api.call('GET', `/api/customer/${api.world.customerA2.id.id}/devices?pageSize=10&page=0`, { token: userA1 })).status).to.equal(403);
      expect((await api.call('GET', `/api/customer/${api.world.customerA1.id.id}/devices?pageSize=10&page=0`, { token: adminB })).status).to.equal(404);
    });

    it('assigns a device to a customer and unassigns it (ENTITY_ASSIGNED / ENTITY_UNASSIGNED)', async () => {
      const dev = api.world.deviceA3;
      const assigned = await api.call('POST', `/api/customer/${api.world.customerA1.id.id}/device/${dev.id.id}`, { token: adminA });
      expect((assigned.json as Entity).customerId).to.deep.equal({ entityType: 'CUSTOMER', id: api.world.customerA1.id.id });
      expect((await eventOf('ENTITY_ASSIGNED', dev.id.id)).metaData).to.include({ assignedCustomerId: api.world.customerA1.id.id, assignedCustomerName: 'Customer A1' });
      // Now the customer's user reaches it.
      expect((await api.call('GET', `/api/device/${dev.id.id}`, { token: userA1 })).status).to.equal(200);

      const unassigned = await api.call('DELETE', `/api/customer/device/${dev.id.id}`, { token: adminA });
      expect((unassigned.json as Entity).customerId).to.deep.equal({ entityType: 'CUSTOMER', id: NULL_UUID });
      expect((await eventOf('ENTITY_UNASSIGNED', dev.id.id)).metaData).to.include({ unassignedCustomerId: api.world.customerA1.id.id });
      expect((await api.call('GET', `/api/device/${dev.id.id}`, { token: userA1 })).status).to.equal(403);
      expect(envelopeOf(await api.call('DELETE', `/api/customer/device/${dev.id.id}`, { token: adminA })).message).to.equal("Device isn't assigned to any customer!");
      expect((await api.call('POST', `/api/customer/${randomUUID()}/device/${dev.id.id}`, { token: adminA })).status).to.equal(404);
      expect((await api.call('POST', `/api/customer/${api.world.customerA1.id.id}/device/${api.world.deviceB1.id.id}`, { token: adminA })).status).to.equal(404);
    });

    it('deletes a device with its token and data (ENTITY_DELETED)', async () => {
      const dev = (await api.call('POST', '/api/device?accessToken=DOOMED', { token: adminA, body: { name: 'Doomed' } })).json as Entity;
      await api.store.attributes.save(dev.id as { entityType: 'DEVICE'; id: string }, 'SERVER_SCOPE', { a: 1 });
      const res = await api.call('DELETE', `/api/device/${dev.id.id}`, { token: adminA });
      expect(res.status).to.equal(200);
      expect(res.text).to.equal('');
      await eventOf('ENTITY_DELETED', dev.id.id);
      expect((await api.call('GET', `/api/device/${dev.id.id}`, { token: adminA })).status).to.equal(404);
      expect(await api.store.credentials.findDeviceByToken('DOOMED')).to.equal(null);
      expect(await api.store.attributes.getAll(dev.id as { entityType: 'DEVICE'; id: string }, 'SERVER_SCOPE')).to.deep.equal([]);
    });
  });

  describe('device profiles', () => {
    it('creates, reads, pages profiles and moves the default', async () => {
      const res = await api.call('POST', '/api/deviceProfile', { token: adminA, body: { name: 'Sensors', description: 'all sensors', transportType: 'MQTT' } });
      expect(res.status).to.equal(200);
      const profile = res.json as Entity;
      expect(profile).to.deep.include({ name: 'Sensors', description: 'all sensors', transportType: 'MQTT', default: false, type: 'DEFAULT' });
      expect(((await api.call('GET', `/api/deviceProfile/${profile.id.id}`, { token: adminA })).json as Entity).name).to.equal('Sensors');
      const made = await api.call('POST', `/api/deviceProfile/${profile.id.id}/default`, { token: adminA });
      expect((made.json as Entity).default).to.equal(true);
      const page = (await api.call('GET', '/api/deviceProfiles?pageSize=10&page=0&sortProperty=name', { token: adminA })).json as Page<Entity>;
      expect(page.data.filter((p) => p.default).map((p) => p.name)).to.deep.equal(['Sensors']);
      const updated = await api.call('POST', '/api/deviceProfile', { token: adminA, body: { id: profile.id, name: 'Sensors 2', defaultQueueName: 'HighPriority' } });
      expect(updated.json as Entity).to.deep.include({ name: 'Sensors 2', defaultQueueName: 'HighPriority', default: true });
      expect(envelopeOf(await api.call('POST', '/api/deviceProfile', { token: adminA, body: { name: 'Sensors 2' } })).status).to.equal(400);
      const missingChain = await api.call('POST', '/api/deviceProfile', { token: adminA, body: { name: 'X', defaultRuleChainId: { entityType: 'RULE_CHAIN', id: randomUUID() } } });
      expect(envelopeOf(missingChain).status).to.equal(400);
      expect((await api.call('GET', `/api/deviceProfile/${profile.id.id}`, { token: adminB })).status).to.equal(404);
      expect((await api.call('GET', `/api/deviceProfile/${profile.id.id}`, { token: userA1 })).status).to.equal(403);
    });
  });

  describe('relations', () => {
    it('creates, lists both ways and deletes relations; RELATION_ADD_OR_UPDATE goes to both ends', async () => {
      const from = { entityType: 'CUSTOMER', id: api.world.customerA1.id.id };
      const to = { entityType: 'DEVICE', id: api.world.deviceA1.id.id };
      const created = await api.call('POST', '/api/relation', { token: adminA, body: { from, to, type: 'Manages', additionalInfo: { since: 2024 } } });
      expect(created.status).to.equal(200);
      await eventOf('RELATION_ADD_OR_UPDATE', from.id);
      await eventOf('RELATION_ADD_OR_UPDATE', to.id);

      const out = (await api.call('GET', `/api/relations?fromId=${from.id}&fromType=CUSTOMER`, { token: adminA })).json as unknown[];
      expect(out).to.deep.equal([{ from, to, type: 'Manages', typeGroup: 'COMMON', additionalInfo: { since: 2024 } }]);
      const into = (await api.call('GET', `/api/relations?toId=${to.id}&toType=DEVICE`, { token: userA1 })).json as unknown[];
      expect(into).to.have.length(1);
      expect((await api.call('GET', `/api/relations?fromId=${from.id}&fromType=CUSTOMER&relationType=Other`, { token: adminA })).json).to.deep.equal([]);
      expect(envelopeOf(await api.call('GET', '/api/relations', { token: adminA })).status).to.equal(400);
      // A customer user cannot relate to another customer's device; another tenant cannot see the relation.
      const foreign = await api.call('POST', '/api/relation', { token: userA1, body: { from, to: { entityType: 'DEVICE', id: api.world.deviceA2.id.id }, type: 'Manages' } });
      expect(foreign.status).to.equal(403);
      expect((await api.call('GET', `/api/relations?fromId=${from.id}&fromType=CUSTOMER`, { token: adminB })).status).to.equal(404);

      const q = `fromId=${from.id}&fromType=CUSTOMER&relationType=Manages&toId=${to.id}&toType=DEVICE`;
      expect((await api.call('DELETE', `/api/relation?${q}`, { token: adminA })).status).to.equal(200);
      await eventOf('RELATION_DELETED', to.id);
      expect(envelopeOf(await api.call('DELETE', `/api/relation?${q}`, { token: adminA }))).to.include({ status: 404, message: "Requested item wasn't found!" });
      expect((await api.call('GET', `/api/relations?fromId=${from.id}&fromType=CUSTOMER`, { token: adminA })).json).to.deep.equal([]);
    });
  });

  describe('alarms', () => {
    it('pages the alarms of an entity, acknowledges and clears them (ALARM_ACK / ALARM_CLEAR)', async () => {
      const tenantId = api.world.tenantA.id.id;
      const originator = api.world.deviceA1.id;
      const { alarm } = await api.store.alarms.createOrUpdateActive(tenantId, { type: 'High temperature', originator, severity: 'MAJOR', customerId: api.world.customerA1.id.id });
      await api.store.alarms.createOrUpdateActive(tenantId, { type: 'Low battery', originator, severity: 'MINOR' });
      const path = `/api/alarm/DEVICE/${originator.id}`;
      const all = (await api.call('GET', `${path}?pageSize=10&page=0`, { token: userA1 })).json as Page<Entity>;
      expect(all.data.map((a) => a.type)).to.have.members(['High temperature', 'Low battery']);

      const acked = await api.call('POST', `/api/alarm/${alarm.id.id}/ack`, { token: userA1 });
      expect(acked.json as Entity).to.deep.include({ acknowledged: true, status: 'ACTIVE_ACK' });
      expect(JSON.parse((await eventOf('ALARM_ACK', originator.id)).data)).to.deep.include({ status: 'ACTIVE_ACK' });
      expect(envelopeOf(await api.call('POST', `/api/alarm/${alarm.id.id}/ack`, { token: adminA })).message).to.equal('Alarm was already acknowledged!');
      const cleared = await api.call('POST', `/api/alarm/${alarm.id.id}/clear`, { token: adminA });
      expect((cleared.json as Entity).status).to.equal('CLEARED_ACK');
      await eventOf('ALARM_CLEAR', originator.id);

      const active = (await api.call('GET', `${path}?pageSize=10&page=0&searchStatus=ACTIVE`, { token: adminA })).json as Page<Entity>;
      expect(active.data.map((a) => a.type)).to.deep.equal(['Low battery']);
      const clearedOnes = (await api.call('GET', `${path}?pageSize=10&page=0&searchStatus=CLEARED`, { token: adminA })).json as Page<Entity>;
      expect(clearedOnes.data.map((a) => a.type)).to.deep.equal(['High temperature']);
      expect((await api.call('GET', `/api/alarm/DEVICE/${api.world.deviceA2.id.id}?pageSize=10&page=0`, { token: userA1 })).status).to.equal(403);
      expect((await api.call('POST', `/api/alarm/${alarm.id.id}/clear`, { token: adminB })).status).to.equal(404);
    });
  });
});
