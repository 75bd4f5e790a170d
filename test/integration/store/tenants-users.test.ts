import { expect } from 'chai';
import { DuplicateError, NotFoundError, StoreValidationError } from '../../../src/store/errors.js';
import { NULL_UUID } from '../../../src/store/ids.js';
import type { Store } from '../../../src/store/store.js';
import { rejection, startStore, type StoreFixture } from './setup.js';

describe('store: tenants, customers, users', () => {
  let fx: StoreFixture;
  let store: Store;

  before(async () => {
    fx = await startStore();
    store = fx.store;
  });
  after(async () => fx.close());

  it('tenants: create, get, update, page by title with search', async () => {
    const a = await store.tenants.create({ title: 'Zeta corp' });
    await store.tenants.create({ title: 'alpha ltd' });
    expect(a).to.deep.include({ title: 'Zeta corp', name: 'Zeta corp', region: 'Global', additionalInfo: null });
    expect(a.id.entityType).to.equal('TENANT');
    expect(await store.tenants.get(a.id.id)).to.deep.equal(a);
    const u = await store.tenants.update(a.id.id, { title: 'Zeta inc', additionalInfo: { description: 'd' } });
    expect(u).to.deep.include({ title: 'Zeta inc', name: 'Zeta inc', additionalInfo: { description: 'd' } });
    const page = await store.tenants.list({ pageSize: 10, page: 0, sortProperty: 'title' });
    expect(page.data.map((t) => t.title).slice(0, 2)).to.deep.equal(['alpha ltd', 'Zeta inc']);
    const found = await store.tenants.list({ pageSize: 10, page: 0, textSearch: 'ZETA' });
    expect(found.data.map((t) => t.id.id)).to.deep.equal([a.id.id]);
    expect(await rejection(store.tenants.update(NULL_UUID, { title: 'x' }))).to.be.instanceOf(NotFoundError);
    expect(await rejection(store.tenants.create({ title: ' ' }))).to.be.instanceOf(StoreValidationError);
  });

  it('customers: title unique per tenant, find by title, rename, list', async () => {
    const t = (await store.tenants.create({ title: 'T' })).id.id;
    const c = await store.customers.create(t, { title: 'Acme', email: 'a@acme.test' });
    expect(c).to.deep.include({ tenantId: { entityType: 'TENANT', id: t }, title: 'Acme', name: 'Acme', email: 'a@acme.test' });
    const err = await rejection(store.customers.create(t, { title: 'Acme' }));
    expect(err).to.be.instanceOf(DuplicateError).and.to.include({ field: 'title', value: 'Acme' });
    const t2 = (await store.tenants.create({ title: 'T2' })).id.id;
    await store.customers.create(t2, { title: 'Acme' });
    expect((await store.customers.findByTitle(t, 'Acme'))?.id).to.deep.equal(c.id);
    const b = await store.customers.create(t, { title: 'Beta' });
    expect(await rejection(store.customers.update(t, b.id.id, { title: 'Acme' }))).to.be.instanceOf(DuplicateError);
    await store.customers.update(t, c.id.id, { title: 'Acme 2' });
    expect(await store.customers.findByTitle(t, 'Acme')).to.equal(null);
    await store.customers.update(t, b.id.id, { title: 'Acme' });
    const list = await store.customers.list(t, { pageSize: 10, page: 0, sortProperty: 'title', sortOrder: 'DESC' });
    expect(list.data.map((x) => x.title)).to.deep.equal(['Acme 2', 'Acme']);
  });

  it('users: authorities, unique e-mail across tenants (case-insensitive), hashed passwords', async () => {
    const t = (await store.tenants.create({ title: 'T' })).id.id;
    const c = await store.customers.create(t, { title: 'C' });
    const sys = await store.users.create({ email: 'sys@admin.test', authority: 'SYS_ADMIN', password: 'sys' });
    expect(sys.tenantId.id).to.equal(NULL_UUID);
    expect(sys.customerId.id).to.equal(NULL_UUID);
    const admin = await store.users.create({ email: 'Admin@T.test', authority: 'TENANT_ADMIN', tenantId: t, firstName: 'Ann', password: 's3cret' });
    expect(admin).to.deep.include({ email: 'Admin@T.test', name: 'Admin@T.test', authority: 'TENANT_ADMIN', firstName: 'Ann', lastName: null });
    const cu = await store.users.create({ email: 'user@c.test', authority: 'CUSTOMER_USER', tenantId: t, customerId: c.id.id });
    expect(cu.customerId).to.deep.equal({ entityType: 'CUSTOMER', id: c.id.id });

    const t2 = (await store.tenants.create({ title: 'T2' })).id.id;
    const err = await rejection(store.users.create({ email: 'admin@t.TEST', authority: 'TENANT_ADMIN', tenantId: t2 }));
    expect(err).to.be.instanceOf(DuplicateError).and.to.include({ entityType: 'USER', field: 'email' });
    expect(err.message).to.equal("User with email 'admin@t.TEST' already present in database!");

    expect((await store.users.findByEmail('ADMIN@t.test'))?.id).to.deep.equal(admin.id);
    expect(await store.users.findByEmail('nobody@t.test')).to.equal(null);

    const stored = await fx.redis.get(store.keys.userPassword(t, admin.id.id));
    expect(stored).to.match(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(stored).not.to.include('s3cret');
    expect(JSON.stringify(await store.users.get(t, admin.id.id))).not.to.include('scrypt');
    expect(await store.users.verifyPassword(t, admin.id.id, 's3cret')).to.equal(true);
    expect(await store.users.verifyPassword(t, admin.id.id, 's3cret ')).to.equal(false);
    expect(await store.users.verifyPassword(t, cu.id.id, '')).to.equal(false);
    expect((await store.users.authenticate('admin@t.test', 's3cret'))?.id).to.deep.equal(admin.id);
    expect(await store.users.authenticate('admin@t.test', 'wrong')).to.equal(null);
    expect(await store.users.authenticate('ghost@t.test', 'x')).to.equal(null);
    expect((await store.users.authenticate('sys@admin.test', 'sys'))?.authority).to.equal('SYS_ADMIN');
    await store.users.setPassword(t, cu.id.id, 'new');
    expect(await store.users.verifyPassword(t, cu.id.id, 'new')).to.equal(true);
    // same password, different salt
    await store.users.setPassword(t, admin.id.id, 'new');
    expect(await fx.redis.get(store.keys.userPassword(t, admin.id.id))).not.to.equal(await fx.redis.get(store.keys.userPassword(t, cu.id.id)));

    const byTenant = await store.users.listByTenant(t, { pageSize: 10, page: 0 });
    expect(byTenant.data.map((u) => u.email)).to.deep.equal(['Admin@T.test', 'user@c.test']);
    const admins = await store.users.listByTenant(t, { pageSize: 10, page: 0 }, 'TENANT_ADMIN');
    expect(admins.data.map((u) => u.email)).to.deep.equal(['Admin@T.test']);
    const byCustomer = await store.users.listByCustomer(t, c.id.id, { pageSize: 10, page: 0 });
    expect(byCustomer.data.map((u) => u.email)).to.deep.equal(['user@c.test']);
    const upd = await store.users.update(t, cu.id.id, { lastName: 'Doe' });
    expect(upd.lastName).to.equal('Doe');

    await store.users.delete(t, admin.id.id);
    expect(await store.users.findByEmail('admin@t.test')).to.equal(null);
    const reused = await store.users.create({ email: 'admin@t.test', authority: 'TENANT_ADMIN', tenantId: t2 });
    expect((await store.users.findByEmail('Admin@T.test'))?.id).to.deep.equal(reused.id);
  });

  it('users: refuses bad input and a missing customer, releasing the e-mail', async () => {
    const t = (await store.tenants.create({ title: 'T' })).id.id;
    expect(await rejection(store.users.create({ email: 'not-an-email', authority: 'TENANT_ADMIN', tenantId: t }))).to.be.instanceOf(
      StoreValidationError,
    );
    expect(await rejection(store.users.create({ email: 'x@y.test', authority: 'TENANT_ADMIN' }))).to.be.instanceOf(StoreValidationError);
    expect(await rejection(store.users.create({ email: 'x@y.test', authority: 'CUSTOMER_USER', tenantId: t }))).to.be.instanceOf(
      StoreValidationError,
    );
    const missing = await rejection(store.users.create({ email: 'x@y.test', authority: 'CUSTOMER_USER', tenantId: t, customerId: NULL_UUID.replace('1', '9') }));
    expect(missing).to.be.instanceOf(NotFoundError);
    await store.users.create({ email: 'x@y.test', authority: 'TENANT_ADMIN', tenantId: t });
  });

  it('users: an e-mail claim left by a crash is taken over', async () => {
    const t = (await store.tenants.create({ title: 'T' })).id.id;
    await fx.redis.hset(store.keys.email('orphan@x.test'), 'ten', t, 'user', 'never-written');
    expect(await store.users.findByEmail('orphan@x.test')).to.equal(null);
    const u = await store.users.create({ email: 'orphan@x.test', authority: 'TENANT_ADMIN', tenantId: t });
    expect((await store.users.findByEmail('orphan@x.test'))?.id).to.deep.equal(u.id);
  });
});
