import { expect } from 'chai';
import { DuplicateError, NotFoundError } from '../../../src/store/errors.js';
import { NULL_UUID } from '../../../src/store/ids.js';
import type { Store } from '../../../src/store/store.js';
import { commandsDuring, rejection, startStore, type StoreFixture } from './setup.js';

describe('store: devices and credentials', () => {
  let fx: StoreFixture;
  let store: Store;
  let tenantId: string;

  before(async () => {
    fx = await startStore();
    store = fx.store;
  });
  after(async () => fx.close());
  beforeEach(async () => (tenantId = (await store.tenants.create({ title: 'T' })).id.id));

  it('creates a device shaped like ThingsBoard JSON and finds it by id and name', async () => {
    const d = await store.devices.create(tenantId, { name: 'Thermo 1', type: 'thermostat', label: 'lobby', additionalInfo: { gateway: false } });
    expect(d.id.entityType).to.equal('DEVICE');
    expect(d.id.id).to.match(/^[0-9a-f-]{36}$/);
    expect(d.tenantId).to.deep.equal({ entityType: 'TENANT', id: tenantId });
    expect(d.customerId).to.deep.equal({ entityType: 'CUSTOMER', id: NULL_UUID });
    expect(d).to.include({ name: 'Thermo 1', type: 'thermostat', label: 'lobby', version: 1 });
    expect(d.createdTime).to.be.closeTo(Date.now(), 5000);
    expect(await store.devices.findById(tenantId, d.id.id)).to.deep.equal(d);
    expect(await store.devices.findByName(tenantId, 'Thermo 1')).to.deep.equal(d);
    expect(await store.devices.findByName(tenantId, 'thermo 1')).to.equal(null);
    expect(await store.devices.findById(tenantId, '00000000-0000-0000-0000-000000000000')).to.equal(null);
  });

  it('takes the tenant default device profile when none is given', async () => {
    const p = await store.deviceProfiles.create(tenantId, { name: 'default' });
    const d = await store.devices.create(tenantId, { name: 'd' });
    expect(d.deviceProfileId).to.deep.equal({ entityType: 'DEVICE_PROFILE', id: p.id.id });
  });

  it('refuses a duplicate name in the tenant with a typed error; other tenants may reuse it', async () => {
    await store.devices.create(tenantId, { name: 'dup' });
    const err = await rejection(store.devices.create(tenantId, { name: 'dup' }));
    expect(err).to.be.instanceOf(DuplicateError);
    expect(err).to.include({ entityType: 'DEVICE', field: 'name', value: 'dup', message: 'Device with such name already exists!' });
    const other = (await store.tenants.create({ title: 'other' })).id.id;
    expect((await store.devices.create(other, { name: 'dup' })).name).to.equal('dup');
    const renamed = await store.devices.create(tenantId, { name: 'second' });
    expect(await rejection(store.devices.update(tenantId, renamed.id.id, { name: 'dup' }))).to.be.instanceOf(DuplicateError);
  });

  it('renames: the old name is free again, find by name follows, version goes up', async () => {
    const d = await store.devices.create(tenantId, { name: 'old' });
    const u = await store.devices.update(tenantId, d.id.id, { name: 'new', label: 'L', additionalInfo: { a: 1 } });
    expect(u).to.include({ name: 'new', label: 'L', version: 2 });
    expect(await store.devices.findByName(tenantId, 'old')).to.equal(null);
    expect((await store.devices.findByName(tenantId, 'new'))?.id).to.deep.equal(d.id);
    await store.devices.create(tenantId, { name: 'old' });
    expect(await rejection(store.devices.update(tenantId, NULL_UUID, { name: 'x' }))).to.be.instanceOf(NotFoundError);
  });

  it('pages by createdTime and by name, both orders, with text search', async () => {
    const names = ['delta', 'Alpha', 'charlie', 'bravo', 'echo'];
    for (const name of names) {
      await store.devices.create(tenantId, { name });
      await new Promise((r) => setTimeout(r, 2)); // distinct createdTime
    }
    const p0 = await store.devices.listByTenant(tenantId, { pageSize: 2, page: 0 });
    expect(p0.data.map((d) => d.name)).to.deep.equal(['delta', 'Alpha']);
    expect(p0).to.include({ totalElements: 5, totalPages: 3, hasNext: true });
    const p2 = await store.devices.listByTenant(tenantId, { pageSize: 2, page: 2 });
    expect(p2.data.map((d) => d.name)).to.deep.equal(['echo']);
    expect(p2.hasNext).to.equal(false);
    const desc = await store.devices.listByTenant(tenantId, { pageSize: 3, page: 0, sortProperty: 'createdTime', sortOrder: 'DESC' });
    expect(desc.data.map((d) => d.name)).to.deep.equal(['echo', 'bravo', 'charlie']);
    const byName = await store.devices.listByTenant(tenantId, { pageSize: 10, page: 0, sortProperty: 'name' });
    expect(byName.data.map((d) => d.name)).to.deep.equal(['Alpha', 'bravo', 'charlie', 'delta', 'echo']);
    const byNameDesc = await store.devices.listByTenant(tenantId, { pageSize: 2, page: 1, sortProperty: 'name', sortOrder: 'DESC' });
    expect(byNameDesc.data.map((d) => d.name)).to.deep.equal(['charlie', 'bravo']);
    const search = await store.devices.listByTenant(tenantId, { pageSize: 10, page: 0, textSearch: 'A', sortProperty: 'name' });
    expect(search.data.map((d) => d.name)).to.deep.equal(['Alpha', 'bravo', 'charlie', 'delta']);
    const search2 = await store.devices.listByTenant(tenantId, { pageSize: 1, page: 1, textSearch: 'ha', sortOrder: 'DESC' });
    expect(search2.data.map((d) => d.name)).to.deep.equal(['Alpha']);
    expect(search2).to.include({ totalElements: 2, totalPages: 2, hasNext: false });
    const empty = await store.devices.listByTenant(tenantId, { pageSize: 10, page: 5 });
    expect(empty).to.deep.equal({ data: [], totalElements: 5, totalPages: 1, hasNext: false });
  });

  it('assigns to and unassigns from a customer; lists by customer', async () => {
    const c = await store.customers.create(tenantId, { title: 'Acme' });
    const a = await store.devices.create(tenantId, { name: 'a' });
    const b = await store.devices.create(tenantId, { name: 'b', customerId: c.id.id });
    await store.devices.create(tenantId, { name: 'c' });
    const assigned = await store.devices.assignToCustomer(tenantId, a.id.id, c.id.id);
    expect(assigned.customerId).to.deep.equal({ entityType: 'CUSTOMER', id: c.id.id });
    let list = await store.devices.listByCustomer(tenantId, c.id.id, { pageSize: 10, page: 0, sortProperty: 'name' });
    expect(list.data.map((d) => d.name)).to.deep.equal(['a', 'b']);
    const un = await store.devices.unassignFromCustomer(tenantId, b.id.id);
    expect(un.customerId.id).to.equal(NULL_UUID);
    list = await store.devices.listByCustomer(tenantId, c.id.id, { pageSize: 10, page: 0 });
    expect(list.data.map((d) => d.name)).to.deep.equal(['a']);
    expect(await rejection(store.devices.assignToCustomer(tenantId, a.id.id, NULL_UUID.replace('1', '2')))).to.be.instanceOf(NotFoundError);
  });

  it('credentials: generated 20-char token, device by token in ONE command, duplicate token refused', async () => {
    const d = await store.devices.create(tenantId, { name: 'tok' });
    const creds = await store.credentials.save(tenantId, d.id.id);
    expect(creds.credentialsId).to.match(/^[A-Za-z0-9]{20}$/);
    expect(creds).to.include({ credentialsType: 'ACCESS_TOKEN', credentialsValue: null });
    expect(creds.deviceId).to.deep.equal(d.id);
    expect(await store.credentials.findByDeviceId(tenantId, d.id.id)).to.deep.equal(creds);

    let found: unknown;
    const commands = await commandsDuring(fx.url, async () => (found = await store.credentials.findDeviceByToken(creds.credentialsId)));
    expect(found).to.deep.equal(d);
    expect(commands.map((c) => c[0]?.toLowerCase())).to.deep.equal(['hget']);

    const other = await store.devices.create(tenantId, { name: 'other' });
    const err = await rejection(store.credentials.save(tenantId, other.id.id, creds.credentialsId));
    expect(err).to.be.instanceOf(DuplicateError);
    expect(err).to.include({ field: 'token', value: creds.credentialsId });
    // another tenant cannot take it either: tokens are global
    const t2 = (await store.tenants.create({ title: 't2' })).id.id;
    const d2 = await store.devices.create(t2, { name: 'x' });
    expect(await rejection(store.credentials.save(t2, d2.id.id, creds.credentialsId))).to.be.instanceOf(DuplicateError);
    expect(await store.credentials.findDeviceByToken('no-such-token')).to.equal(null);
  });

  it('changing the token frees the old one; the token snapshot follows device updates', async () => {
    const d = await store.devices.create(tenantId, { name: 'snap' });
    await store.credentials.save(tenantId, d.id.id, 'first-token');
    const again = await store.credentials.save(tenantId, d.id.id, 'first-token');
    expect(again.credentialsId).to.equal('first-token');
    const changed = await store.credentials.save(tenantId, d.id.id, 'second-token');
    expect(changed.id).to.deep.equal(again.id);
    expect(await store.credentials.findDeviceByToken('first-token')).to.equal(null);
    const other = await store.devices.create(tenantId, { name: 'takes-first' });
    await store.credentials.save(tenantId, other.id.id, 'first-token');
    expect((await store.credentials.findDeviceByToken('first-token'))?.name).to.equal('takes-first');

    await store.devices.update(tenantId, d.id.id, { name: 'snap-renamed', label: 'x' });
    const c = await store.customers.create(tenantId, { title: 'C' });
    await store.devices.assignToCustomer(tenantId, d.id.id, c.id.id);
    const snap = await store.credentials.findDeviceByToken('second-token');
    expect(snap).to.deep.equal(await store.devices.findById(tenantId, d.id.id));
    expect(snap).to.include({ name: 'snap-renamed', version: 3 });
  });

  it('takes over a token claim left behind by a crash (holder does not use it, claim is old)', async () => {
    const d = await store.devices.create(tenantId, { name: 'heir' });
    const key = store.keys.token('orphan-token');
    await fx.redis.hset(key, 'dev', 'gone-device', 'ten', tenantId, 'v', '1', 'doc', '{}', 'at', String(Date.now() - 60_000));
    const creds = await store.credentials.save(tenantId, d.id.id, 'orphan-token');
    expect(creds.credentialsId).to.equal('orphan-token');
    expect((await store.credentials.findDeviceByToken('orphan-token'))?.id).to.deep.equal(d.id);
    // a fresh claim (a save in flight elsewhere) is respected
    await fx.redis.hset(store.keys.token('fresh-claim'), 'dev', 'in-flight', 'ten', tenantId, 'v', '1', 'doc', '{}', 'at', String(Date.now()));
    expect(await rejection(store.credentials.save(tenantId, d.id.id, 'fresh-claim'))).to.be.instanceOf(DuplicateError);
  });

  it('concurrent saves of one token for two devices: exactly one wins', async () => {
    const a = await store.devices.create(tenantId, { name: 'race-a' });
    const b = await store.devices.create(tenantId, { name: 'race-b' });
    const results = await Promise.allSettled([
      store.credentials.save(tenantId, a.id.id, 'contested'),
      store.credentials.save(tenantId, b.id.id, 'contested'),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
    const loser = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(loser.reason).to.be.instanceOf(DuplicateError);
  });

  it('delete cascades to credentials, token, attributes, telemetry, relations, alarms and events', async () => {
    const asset = { entityType: 'ASSET' as const, id: '11111111-1111-1111-1111-111111111111' };
    const d = await store.devices.create(tenantId, { name: 'doomed' });
    await store.credentials.save(tenantId, d.id.id, 'doomed-token');
    await store.attributes.save(d.id, 'SERVER_SCOPE', { a: 1 });
    await store.attributes.save(d.id, 'CLIENT_SCOPE', { b: 'x' });
    await store.timeseries.save(d.id, { ts: 1000, values: { temp: 21 } });
    await store.relations.save(tenantId, { from: asset, to: d.id, type: 'Contains' });
    await store.relations.save(tenantId, { from: d.id, to: asset, type: 'Uses' });
    await store.alarms.createOrUpdateActive(tenantId, { type: 'High', originator: d.id, severity: 'MAJOR' });
    await store.events.append(tenantId, d.id, 'ERROR', { e: 1 });
    const c = await store.customers.create(tenantId, { title: 'owner' });
    await store.devices.assignToCustomer(tenantId, d.id.id, c.id.id);

    await store.devices.delete(tenantId, d.id.id);

    expect(await store.devices.findById(tenantId, d.id.id)).to.equal(null);
    expect(await store.devices.findByName(tenantId, 'doomed')).to.equal(null);
    expect(await store.credentials.findByDeviceId(tenantId, d.id.id)).to.equal(null);
    expect(await store.credentials.findDeviceByToken('doomed-token')).to.equal(null);
    expect(await store.attributes.getAll(d.id, 'SERVER_SCOPE')).to.deep.equal([]);
    expect(await store.attributes.getAll(d.id, 'CLIENT_SCOPE')).to.deep.equal([]);
    expect(await store.timeseries.getLatest(d.id)).to.deep.equal({});
    expect(await store.timeseries.getHistory(d.id, ['temp'], { startTs: 0, endTs: 5000 })).to.deep.equal({});
    expect(await store.relations.findByFrom(tenantId, asset)).to.deep.equal([]);
    expect(await store.relations.findByTo(tenantId, asset)).to.deep.equal([]);
    expect(await store.alarms.findActive(tenantId, d.id, 'High')).to.equal(null);
    expect(await store.events.list(d.id, 'ERROR')).to.deep.equal([]);
    expect((await store.devices.listByTenant(tenantId, { pageSize: 10, page: 0 })).totalElements).to.equal(0);
    expect((await store.devices.listByCustomer(tenantId, c.id.id, { pageSize: 10, page: 0 })).totalElements).to.equal(0);
    const keys = await fx.redis.keys(`*${d.id.id}*`);
    expect(keys).to.deep.equal([]);
    // the name and token are free again
    const again = await store.devices.create(tenantId, { name: 'doomed' });
    await store.credentials.save(tenantId, again.id.id, 'doomed-token');
    expect(await rejection(store.devices.delete(tenantId, d.id.id))).to.be.instanceOf(NotFoundError);
  });
});
