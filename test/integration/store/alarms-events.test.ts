import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { NotFoundError } from '../../../src/store/errors.js';
import type { Store } from '../../../src/store/store.js';
import { rejection, startStore, type StoreFixture } from './setup.js';

describe('store: alarms and events', () => {
  let fx: StoreFixture;
  let store: Store;
  let tenantId: string;
  const device = () => ({ entityType: 'DEVICE' as const, id: randomUUID() });

  before(async () => {
    fx = await startStore({ maxEventsPerEntity: 5 });
    store = fx.store;
  });
  after(async () => fx.close());
  beforeEach(() => (tenantId = randomUUID()));

  it('alarm lifecycle: create, update the active one, acknowledge, clear, then a new one', async () => {
    const d = device();
    const first = await store.alarms.createOrUpdateActive(tenantId, { type: 'High Temp', originator: d, severity: 'MAJOR', details: { t: 30 }, ts: 1000 });
    expect(first.created).to.equal(true);
    const a = first.alarm;
    expect(a).to.deep.include({
      type: 'High Temp',
      name: 'High Temp',
      originator: d,
      severity: 'MAJOR',
      status: 'ACTIVE_UNACK',
      acknowledged: false,
      cleared: false,
      startTs: 1000,
      endTs: 1000,
      ackTs: 0,
      clearTs: 0,
      details: { t: 30 },
    });
    expect(a.id.entityType).to.equal('ALARM');

    const second = await store.alarms.createOrUpdateActive(tenantId, { type: 'High Temp', originator: d, severity: 'CRITICAL', details: { t: 40 }, ts: 2000 });
    expect(second).to.deep.include({ created: false, modified: true });
    expect(second.old?.severity).to.equal('MAJOR');
    expect(second.alarm).to.deep.include({ id: a.id, severity: 'CRITICAL', startTs: 1000, endTs: 2000, details: { t: 40 } });

    const other = await store.alarms.createOrUpdateActive(tenantId, { type: 'Low Battery', originator: d, severity: 'WARNING' });
    expect(other.created).to.equal(true);

    const acked = await store.alarms.acknowledge(tenantId, a.id.id, { ts: 3000 });
    expect(acked.alarm).to.deep.include({ status: 'ACTIVE_ACK', acknowledged: true, ackTs: 3000 });
    expect((await store.alarms.acknowledge(tenantId, a.id.id)).modified).to.equal(false);
    expect((await store.alarms.findActive(tenantId, d, 'High Temp'))?.status).to.equal('ACTIVE_ACK');
    const stillActive = await store.alarms.createOrUpdateActive(tenantId, { type: 'High Temp', originator: d, severity: 'CRITICAL', ts: 3500 });
    expect(stillActive.alarm).to.deep.include({ id: a.id, status: 'ACTIVE_ACK', endTs: 3500 });

    const cleared = await store.alarms.clear(tenantId, a.id.id, { ts: 4000, details: { cleared: 'by test' } });
    expect(cleared.alarm).to.deep.include({ status: 'CLEARED_ACK', cleared: true, clearTs: 4000, details: { cleared: 'by test' } });
    expect((await store.alarms.clear(tenantId, a.id.id)).modified).to.equal(false);
    expect(await store.alarms.findActive(tenantId, d, 'High Temp')).to.equal(null);
    expect((await store.alarms.get(tenantId, a.id.id))?.status).to.equal('CLEARED_ACK');

    const next = await store.alarms.createOrUpdateActive(tenantId, { type: 'High Temp', originator: d, severity: 'MINOR', ts: 5000 });
    expect(next.created).to.equal(true);
    expect(next.alarm.id).not.to.deep.equal(a.id);
    const clearedUnack = await store.alarms.clear(tenantId, other.alarm.id.id);
    expect(clearedUnack.alarm.status).to.equal('CLEARED_UNACK');
    expect((await store.alarms.acknowledge(tenantId, other.alarm.id.id)).alarm.status).to.equal('CLEARED_ACK');
    expect(await rejection(store.alarms.clear(tenantId, randomUUID()))).to.be.instanceOf(NotFoundError);
  });

  it('concurrent raises of one alarm type create a single active alarm', async () => {
    const d = device();
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => store.alarms.createOrUpdateActive(tenantId, { type: 'Flood', originator: d, severity: 'MAJOR', ts: i })),
    );
    expect(results.filter((r) => r.created)).to.have.length(1);
    expect(new Set(results.map((r) => r.alarm.id.id)).size).to.equal(1);
  });

  it('lists alarms by originator with paging and status filters, newest first', async () => {
    const d = device();
    const ids: string[] = [];
    for (const type of ['a', 'b', 'c', 'd']) {
      ids.push((await store.alarms.createOrUpdateActive(tenantId, { type, originator: d, severity: 'MINOR' })).alarm.id.id);
      await new Promise((r) => setTimeout(r, 2));
    }
    await store.alarms.clear(tenantId, ids[0]!);
    await store.alarms.acknowledge(tenantId, ids[1]!);
    await store.alarms.createOrUpdateActive(tenantId, { type: 'x', originator: device(), severity: 'MINOR' });
    const page = await store.alarms.listByOriginator(tenantId, d, { pageSize: 3, page: 0 });
    expect(page.data.map((a) => a.type)).to.deep.equal(['d', 'c', 'b']);
    expect(page).to.include({ totalElements: 4, totalPages: 2, hasNext: true });
    const active = await store.alarms.listByOriginator(tenantId, d, { pageSize: 10, page: 0, searchStatus: 'ACTIVE', sortOrder: 'ASC' });
    expect(active.data.map((a) => a.type)).to.deep.equal(['b', 'c', 'd']);
    expect((await store.alarms.listByOriginator(tenantId, d, { pageSize: 10, page: 0, searchStatus: 'CLEARED' })).data.map((a) => a.type)).to.deep.equal(['a']);
    expect((await store.alarms.listByOriginator(tenantId, d, { pageSize: 10, page: 0, searchStatus: 'ACK' })).data.map((a) => a.type)).to.deep.equal(['b']);
    expect((await store.alarms.listByOriginator(tenantId, d, { pageSize: 10, page: 0, status: 'ACTIVE_UNACK' })).data.map((a) => a.type)).to.deep.equal([
      'd',
      'c',
    ]);
    await store.alarms.delete(tenantId, ids[3]!);
    expect(await store.alarms.findActive(tenantId, d, 'd')).to.equal(null);
    expect((await store.alarms.listByOriginator(tenantId, d, { pageSize: 10, page: 0 })).totalElements).to.equal(3);
  });

  it('events: appended per entity and type, newest first, bounded length, time window', async () => {
    const node = { entityType: 'RULE_NODE' as const, id: randomUUID() };
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push(await store.events.append(tenantId, node, 'DEBUG_RULE_NODE', { i, msg: { data: `m${i}` } }));
    await store.events.append(tenantId, node, 'ERROR', { error: 'boom' });
    expect(await fx.redis.xlen(store.keys.events(node, 'DEBUG_RULE_NODE'))).to.equal(5);
    const events = await store.events.list(node, 'DEBUG_RULE_NODE');
    expect(events.map((e) => (e.body as { i: number }).i)).to.deep.equal([7, 6, 5, 4, 3]);
    expect(events[0]).to.deep.include({ id: ids[7], tenantId, entityId: node, type: 'DEBUG_RULE_NODE' });
    expect(events[0]!.createdTime).to.be.closeTo(Date.now(), 5000);
    expect((await store.events.list(node, 'DEBUG_RULE_NODE', { limit: 2 })).map((e) => e.id)).to.deep.equal([ids[7], ids[6]]);
    const future = await store.events.list(node, 'DEBUG_RULE_NODE', { startTs: Date.now() + 60_000 });
    expect(future).to.deep.equal([]);
    const window = await store.events.list(node, 'DEBUG_RULE_NODE', { startTs: events[4]!.createdTime, endTs: events[0]!.createdTime });
    expect(window).to.have.length(5);
    expect((await store.events.list(node, 'ERROR')).map((e) => e.body)).to.deep.equal([{ error: 'boom' }]);
    await store.events.clear(node, 'ERROR');
    expect(await store.events.list(node, 'ERROR')).to.deep.equal([]);
    expect(await store.events.list(node, 'DEBUG_RULE_NODE')).to.have.length(5);
  });
});
