import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { EntityType } from '../../../src/msg/entity.js';
import { StoreValidationError } from '../../../src/store/errors.js';
import type { EntityRelation } from '../../../src/store/relations.js';
import type { Store } from '../../../src/store/store.js';
import { rejection, startStore, type StoreFixture } from './setup.js';

describe('store: relations', () => {
  let fx: StoreFixture;
  let store: Store;
  let tenantId: string;

  before(async () => {
    fx = await startStore();
    store = fx.store;
  });
  after(async () => fx.close());
  beforeEach(() => (tenantId = randomUUID()));

  const ent = (entityType: EntityType) => ({ entityType, id: randomUUID() });
  const names = new Map<string, string>();
  const label = (r: EntityRelation) => `${names.get(r.from.id)}-${r.type}->${names.get(r.to.id)}`;

  /**
   * A -Contains-> B, A -Contains-> C, B -Contains-> D, B -Uses-> E, C -Contains-> D, D -Contains-> F
   * (created in this order). A, B, F are assets; C, D, E devices.
   */
  async function graph() {
    const g = { A: ent('ASSET'), B: ent('ASSET'), C: ent('DEVICE'), D: ent('DEVICE'), E: ent('DEVICE'), F: ent('ASSET') };
    for (const [n, e] of Object.entries(g)) names.set(e.id, n);
    const edges: [keyof typeof g, string, keyof typeof g][] = [
      ['A', 'Contains', 'B'],
      ['A', 'Contains', 'C'],
      ['B', 'Contains', 'D'],
      ['B', 'Uses', 'E'],
      ['C', 'Contains', 'D'],
      ['D', 'Contains', 'F'],
    ];
    for (const [from, type, to] of edges) await store.relations.save(tenantId, { from: g[from], to: g[to], type });
    return g;
  }

  it('saves, gets, lists both ways in creation order, updates info without reordering, deletes', async () => {
    const a = ent('ASSET');
    const [x, y, z] = [ent('DEVICE'), ent('DEVICE'), ent('DEVICE')];
    expect(await store.relations.save(tenantId, { from: a, to: z, type: 'Contains' })).to.equal(true);
    expect(await store.relations.save(tenantId, { from: a, to: x, type: 'Contains', additionalInfo: { note: 'first' } })).to.equal(true);
    expect(await store.relations.save(tenantId, { from: a, to: y, type: 'Uses' })).to.equal(true);
    expect(await store.relations.save(tenantId, { from: a, to: z, type: 'Contains', additionalInfo: { v: 2 } })).to.equal(false);
    const from = await store.relations.findByFrom(tenantId, a);
    expect(from.map((r) => r.to.id)).to.deep.equal([z.id, x.id, y.id]);
    expect(from[0]).to.deep.equal({ from: a, to: z, type: 'Contains', typeGroup: 'COMMON', additionalInfo: { v: 2 } });
    expect((await store.relations.findByFromAndType(tenantId, a, 'Uses')).map((r) => r.to.id)).to.deep.equal([y.id]);
    const to = await store.relations.findByTo(tenantId, x);
    expect(to).to.deep.equal([{ from: a, to: x, type: 'Contains', typeGroup: 'COMMON', additionalInfo: { note: 'first' } }]);
    expect(await store.relations.findByToAndType(tenantId, x, 'Uses')).to.deep.equal([]);
    expect(await store.relations.get(tenantId, a, y, 'Uses')).to.deep.include({ additionalInfo: null });
    expect(await store.relations.get(tenantId, a, y, 'Contains')).to.equal(null);
    // groups are separate
    await store.relations.save(tenantId, { from: a, to: x, type: 'Contains', typeGroup: 'RULE_NODE' });
    expect(await store.relations.findByFrom(tenantId, a, 'RULE_NODE')).to.have.length(1);
    expect(await store.relations.findByFrom(tenantId, a)).to.have.length(3);
    expect(await store.relations.delete(tenantId, a, x, 'Contains')).to.equal(true);
    expect(await store.relations.delete(tenantId, a, x, 'Contains')).to.equal(false);
    expect(await store.relations.findByTo(tenantId, x)).to.deep.equal([]);
    expect(await store.relations.findByTo(tenantId, x, 'RULE_NODE')).to.have.length(1);
    expect(await rejection(store.relations.save(tenantId, { from: a, to: x, type: '' }))).to.be.instanceOf(StoreValidationError);
  });

  it('BFS FROM: maxLevel 1, 2 and unlimited collect every relation of the visited entities', async () => {
    const g = await graph();
    const q = (maxLevel: number) => store.relations.findByQuery(tenantId, g.A, { direction: 'FROM', maxLevel });
    expect((await q(1)).map(label)).to.deep.equal(['A-Contains->B', 'A-Contains->C']);
    expect((await q(2)).map(label)).to.deep.equal(['A-Contains->B', 'A-Contains->C', 'B-Contains->D', 'B-Uses->E', 'C-Contains->D']);
    const all = ['A-Contains->B', 'A-Contains->C', 'B-Contains->D', 'B-Uses->E', 'C-Contains->D', 'D-Contains->F'];
    expect((await q(0)).map(label)).to.deep.equal(all);
    expect((await q(-1)).map(label)).to.deep.equal(all);
    expect((await store.relations.findByQuery(tenantId, g.A, { direction: 'FROM' })).map(label)).to.deep.equal(['A-Contains->B', 'A-Contains->C']);
  });

  it('BFS filters: relation type (case-sensitive) and far-end entity types, any filter matching', async () => {
    const g = await graph();
    const q = (filters: { relationType?: string; entityTypes?: EntityType[] }[]) =>
      store.relations.findByQuery(tenantId, g.A, { direction: 'FROM', maxLevel: 3, filters });
    expect((await q([{ relationType: 'Contains', entityTypes: ['DEVICE'] }])).map(label)).to.deep.equal([
      'A-Contains->C',
      'B-Contains->D',
      'C-Contains->D',
    ]);
    expect((await q([{ relationType: 'contains' }])).map(label)).to.deep.equal([]);
    expect((await q([{ relationType: 'Uses' }, { entityTypes: ['ASSET'] }])).map(label)).to.deep.equal([
      'A-Contains->B',
      'B-Uses->E',
      'D-Contains->F',
    ]);
    expect((await q([{ relationType: '', entityTypes: [] }])).map(label)).to.have.length(6);
  });

  it('BFS fetchLastLevelOnly: relations at maxLevel, plus the relation into a leaf that ends earlier', async () => {
    const g = await graph();
    const q = (maxLevel: number) => store.relations.findByQuery(tenantId, g.A, { direction: 'FROM', maxLevel, fetchLastLevelOnly: true });
    expect((await q(1)).map(label)).to.deep.equal(['A-Contains->B', 'A-Contains->C']);
    expect((await q(2)).map(label)).to.deep.equal(['B-Contains->D', 'B-Uses->E', 'C-Contains->D']);
    // level 3: D -> F; E is a leaf at level 3 whose incoming relation counts
    expect((await q(3)).map(label)).to.deep.equal(['B-Uses->E', 'D-Contains->F']);
    // unlimited: only leaves' incoming relations (E, F)
    expect((await q(0)).map(label)).to.deep.equal(['B-Uses->E', 'D-Contains->F']);
  });

  it('BFS TO: follows relations backwards, filters on the `from` end', async () => {
    const g = await graph();
    const up = await store.relations.findByQuery(tenantId, g.D, { direction: 'TO', maxLevel: 2 });
    expect(up.map(label)).to.deep.equal(['A-Contains->B', 'A-Contains->C', 'B-Contains->D', 'C-Contains->D']);
    const parents = await store.relations.findByQuery(tenantId, g.D, {
      direction: 'TO',
      maxLevel: 1,
      filters: [{ relationType: 'Contains', entityTypes: ['ASSET'] }],
    });
    expect(parents.map(label)).to.deep.equal(['B-Contains->D']);
    const root = await store.relations.findByQuery(tenantId, g.F, { direction: 'TO', maxLevel: 0, fetchLastLevelOnly: true });
    expect(root.map(label)).to.deep.equal(['A-Contains->B']);
  });

  it('BFS terminates on cycles, visits each entity once, and ignores other groups', async () => {
    const g = await graph();
    await store.relations.save(tenantId, { from: g.F, to: g.A, type: 'Contains' });
    await store.relations.save(tenantId, { from: g.A, to: g.E, type: 'Contains', typeGroup: 'RULE_CHAIN' });
    const all = await store.relations.findByQuery(tenantId, g.A, { direction: 'FROM', maxLevel: 0 });
    expect(all.map(label)).to.deep.equal([
      'A-Contains->B',
      'A-Contains->C',
      'B-Contains->D',
      'B-Uses->E',
      'C-Contains->D',
      'D-Contains->F',
      'F-Contains->A',
    ]);
    const other = await store.relations.findByQuery(tenantId, g.A, { direction: 'FROM', relationTypeGroup: 'RULE_CHAIN' });
    expect(other.map(label)).to.deep.equal(['A-Contains->E']);
  });

  it('result order is creation order, not BFS order', async () => {
    const root = ent('DEVICE');
    const [p, q] = [ent('ASSET'), ent('ASSET')];
    names.set(root.id, 'R').set(p.id, 'P').set(q.id, 'Q');
    await store.relations.save(tenantId, { from: q, to: root, type: 'Contains' });
    await store.relations.save(tenantId, { from: p, to: root, type: 'Contains' });
    const found = await store.relations.findByQuery(tenantId, root, { direction: 'TO', maxLevel: 1, filters: [{ relationType: 'Contains', entityTypes: ['ASSET'] }] });
    expect(found.map(label)).to.deep.equal(['Q-Contains->R', 'P-Contains->R']);
  });

  it('deleteAll removes every relation of an entity, both directions and all groups', async () => {
    const g = await graph();
    await store.relations.save(tenantId, { from: g.B, to: g.A, type: 'Manages', typeGroup: 'DASHBOARD', additionalInfo: { x: 1 } });
    await store.relations.deleteAll(tenantId, g.B);
    expect(await store.relations.findByFrom(tenantId, g.B)).to.deep.equal([]);
    expect((await store.relations.findByFrom(tenantId, g.A)).map(label)).to.deep.equal(['A-Contains->C']);
    expect((await store.relations.findByTo(tenantId, g.D)).map(label)).to.deep.equal(['C-Contains->D']);
    expect(await store.relations.findByTo(tenantId, g.A, 'DASHBOARD')).to.deep.equal([]);
    expect(await fx.redis.keys(`*${g.B.id}*`)).to.deep.equal([]);
  });
});
