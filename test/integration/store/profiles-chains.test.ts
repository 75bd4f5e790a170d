import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { DuplicateError, NotFoundError, StoreValidationError } from '../../../src/store/errors.js';
import type { Store } from '../../../src/store/store.js';
import { rejection, sleep, startStore, type StoreFixture } from './setup.js';

describe('store: device profiles and rule chains', () => {
  let fx: StoreFixture;
  let store: Store;
  let tenantId: string;

  before(async () => {
    fx = await startStore();
    store = fx.store;
  });
  after(async () => fx.close());
  beforeEach(() => (tenantId = randomUUID()));

  it('device profiles: first is default, setDefault moves the flag, unique names, default not deletable', async () => {
    const chainId = randomUUID();
    const a = await store.deviceProfiles.create(tenantId, { name: 'default', defaultRuleChainId: chainId, defaultQueueName: 'HighPriority' });
    expect(a).to.deep.include({
      name: 'default',
      default: true,
      type: 'DEFAULT',
      transportType: 'DEFAULT',
      defaultRuleChainId: { entityType: 'RULE_CHAIN', id: chainId },
      defaultQueueName: 'HighPriority',
    });
    const b = await store.deviceProfiles.create(tenantId, { name: 'thermostats' });
    expect(b.default).to.equal(false);
    const err = await rejection(store.deviceProfiles.create(tenantId, { name: 'thermostats' }));
    expect(err).to.be.instanceOf(DuplicateError).and.to.include({ entityType: 'DEVICE_PROFILE', field: 'name' });

    expect((await store.deviceProfiles.setDefault(tenantId, b.id.id)).default).to.equal(true);
    expect((await store.deviceProfiles.get(tenantId, a.id.id))?.default).to.equal(false);
    expect((await store.deviceProfiles.getDefault(tenantId))?.id).to.deep.equal(b.id);
    const list = await store.deviceProfiles.list(tenantId, { pageSize: 10, page: 0, sortProperty: 'name' });
    expect(list.data.map((p) => [p.name, p.default])).to.deep.equal([
      ['default', false],
      ['thermostats', true],
    ]);
    const c = await store.deviceProfiles.create(tenantId, { name: 'c', default: true });
    expect(c.default).to.equal(true);
    expect((await store.deviceProfiles.get(tenantId, b.id.id))?.default).to.equal(false);

    const upd = await store.deviceProfiles.update(tenantId, a.id.id, { name: 'renamed', defaultQueueName: null });
    expect(upd).to.deep.include({ name: 'renamed', defaultQueueName: null });
    expect((await store.deviceProfiles.findByName(tenantId, 'renamed'))?.id).to.deep.equal(a.id);
    expect(await store.deviceProfiles.findByName(tenantId, 'default')).to.equal(null);

    const del = await rejection(store.deviceProfiles.delete(tenantId, c.id.id));
    expect(del).to.be.instanceOf(StoreValidationError);
    await store.deviceProfiles.delete(tenantId, a.id.id);
    expect(await store.deviceProfiles.get(tenantId, a.id.id)).to.equal(null);
    expect(await rejection(store.deviceProfiles.setDefault(tenantId, a.id.id))).to.be.instanceOf(NotFoundError);
    expect((await store.deviceProfiles.getDefault(tenantId))?.id).to.deep.equal(c.id);
  });

  it('rule chains: store the document, list, exactly one root, setRoot moves it, root not deletable', async () => {
    const doc = { ruleChain: { name: 'Root', type: 'CORE' }, metadata: { firstNodeIndex: 0, nodes: [], connections: null } };
    const root = await store.ruleChains.create(tenantId, { name: 'Root', document: doc, root: true });
    await sleep(2); // distinct createdTime: lists are in createdTime order
    const other = await store.ruleChains.create(tenantId, { name: 'Other', document: { x: [1, 2, { y: null }] } });
    await sleep(2);
    const kept = randomUUID();
    await store.ruleChains.create(tenantId, { id: kept, name: 'Kept id', document: {} });
    expect(await rejection(store.ruleChains.create(tenantId, { id: kept, name: 'again', document: {} }))).to.be.instanceOf(StoreValidationError);

    expect(root).to.deep.include({ name: 'Root', root: true, type: 'CORE', document: doc });
    expect(await store.ruleChains.get(tenantId, root.id.id)).to.deep.equal(root);
    expect((await store.ruleChains.getRoot(tenantId))?.id).to.deep.equal(root.id);
    expect((await store.ruleChains.list(tenantId)).map((c) => [c.name, c.root])).to.deep.equal([
      ['Root', true],
      ['Other', false],
      ['Kept id', false],
    ]);

    await store.ruleChains.setRoot(tenantId, other.id.id);
    const roots = (await store.ruleChains.list(tenantId)).filter((c) => c.root);
    expect(roots.map((c) => c.id)).to.deep.equal([other.id]);

    // concurrent setRoot calls: still exactly one root
    const ids = (await store.ruleChains.list(tenantId)).map((c) => c.id.id);
    await Promise.all(ids.map((id) => store.ruleChains.setRoot(tenantId, id)));
    expect((await store.ruleChains.list(tenantId)).filter((c) => c.root)).to.have.length(1);

    const current = (await store.ruleChains.getRoot(tenantId))!;
    expect(await rejection(store.ruleChains.delete(tenantId, current.id.id))).to.be.instanceOf(StoreValidationError);
    const notRoot = ids.find((id) => id !== current.id.id)!;
    const updated = await store.ruleChains.update(tenantId, notRoot, { name: 'Renamed', document: { v: 2 } });
    expect(updated).to.deep.include({ name: 'Renamed', document: { v: 2 }, root: false });
    await store.ruleChains.delete(tenantId, notRoot);
    expect(await store.ruleChains.get(tenantId, notRoot)).to.equal(null);
    expect(await rejection(store.ruleChains.delete(tenantId, notRoot))).to.be.instanceOf(NotFoundError);
    expect(await rejection(store.ruleChains.setRoot(tenantId, notRoot))).to.be.instanceOf(NotFoundError);
    expect((await store.ruleChains.getRoot(tenantId))?.id).to.deep.equal(current.id);
  });
});
