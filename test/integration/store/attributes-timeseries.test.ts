import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { StoreValidationError } from '../../../src/store/errors.js';
import type { Store } from '../../../src/store/store.js';
import { commandsDuring, rejection, sleep, startStore, type StoreFixture } from './setup.js';

describe('store: attributes and time series', () => {
  let fx: StoreFixture;
  let store: Store;
  const device = () => ({ entityType: 'DEVICE' as const, id: randomUUID() });

  before(async () => {
    fx = await startStore();
    store = fx.store;
  });
  after(async () => fx.close());

  it('attributes: save many with lastUpdateTs, JSON types kept, get by keys / all, per scope, delete', async () => {
    const d = device();
    const values = { active: true, count: 42, ratio: 0.25, big: 1234567890123, name: 'x', cfg: { a: [1, 'b'], n: null } };
    await store.attributes.save(d, 'SHARED_SCOPE', values, 1000);
    await store.attributes.save(d, 'SERVER_SCOPE', [{ key: 'active', value: false }], 2000);
    const all = await store.attributes.getAll(d, 'SHARED_SCOPE');
    expect(all.map((a) => a.key)).to.deep.equal(['active', 'big', 'cfg', 'count', 'name', 'ratio']);
    for (const a of all) {
      expect(a.value).to.deep.equal(values[a.key as keyof typeof values]);
      expect(a.lastUpdateTs).to.equal(1000);
    }
    expect(await store.attributes.get(d, 'SHARED_SCOPE', ['ratio', 'missing', 'active'])).to.deep.equal([
      { key: 'ratio', value: 0.25, lastUpdateTs: 1000 },
      { key: 'active', value: true, lastUpdateTs: 1000 },
    ]);
    expect(await store.attributes.get(d, 'SERVER_SCOPE', ['active'])).to.deep.equal([{ key: 'active', value: false, lastUpdateTs: 2000 }]);
    expect(await store.attributes.getAll(d, 'CLIENT_SCOPE')).to.deep.equal([]);
    await store.attributes.save(d, 'SHARED_SCOPE', { count: 43 }, 3000);
    expect(await store.attributes.get(d, 'SHARED_SCOPE', ['count'])).to.deep.equal([{ key: 'count', value: 43, lastUpdateTs: 3000 }]);
    expect(await store.attributes.delete(d, 'SHARED_SCOPE', ['count', 'name', 'nope'])).to.equal(2);
    expect((await store.attributes.getAll(d, 'SHARED_SCOPE')).map((a) => a.key)).to.deep.equal(['active', 'big', 'cfg', 'ratio']);
    expect(await rejection(store.attributes.save(d, 'BAD' as 'SHARED_SCOPE', { a: 1 }))).to.be.instanceOf(StoreValidationError);
    expect(await rejection(store.attributes.save(d, 'SHARED_SCOPE', { a: null as unknown as number }))).to.be.instanceOf(StoreValidationError);
  });

  it('hot path: an attribute save and a telemetry save are one command each', async () => {
    const d = device();
    await store.timeseries.save(d, { ts: 1, values: { warm: 1 } }); // loads the script
    const attr = await commandsDuring(fx.url, () => store.attributes.save(d, 'CLIENT_SCOPE', { a: 1, b: 'two', c: { x: 3 } }));
    expect(attr.map((c) => c[0]?.toLowerCase())).to.deep.equal(['hset']);
    const ts = await commandsDuring(fx.url, () => store.timeseries.save(d, [{ ts: 10, values: { t: 1, h: 2 } }, { ts: 11, values: { t: 2 } }]));
    expect(ts.map((c) => c[0]?.toLowerCase())).to.deep.equal(['evalsha']);
  });

  it('time series: latest per key only moves forward; history range with limit and order; same ts overwrites', async () => {
    const d = device();
    await store.timeseries.save(d, [
      { ts: 100, values: { temp: 20, status: 'ok' } },
      { ts: 200, values: { temp: 21.5 } },
      { ts: 300, values: { temp: 23, obj: { a: 1 } } },
    ]);
    await store.timeseries.save(d, { ts: 150, values: { temp: 99 } }); // late point: history only
    expect(await store.timeseries.getLatest(d, ['temp', 'status', 'missing'])).to.deep.equal({
      temp: { ts: 300, value: 23 },
      status: { ts: 100, value: 'ok' },
    });
    expect(await store.timeseries.getLatest(d)).to.deep.equal({
      obj: { ts: 300, value: { a: 1 } },
      status: { ts: 100, value: 'ok' },
      temp: { ts: 300, value: 23 },
    });
    const desc = await store.timeseries.getHistory(d, ['temp', 'status', 'none'], { startTs: 100, endTs: 300 });
    expect(desc).to.deep.equal({
      temp: [
        { ts: 300, value: 23 },
        { ts: 200, value: 21.5 },
        { ts: 150, value: 99 },
        { ts: 100, value: 20 },
      ],
      status: [{ ts: 100, value: 'ok' }],
    });
    const asc = await store.timeseries.getHistory(d, ['temp'], { startTs: 101, endTs: 300, limit: 2, order: 'ASC' });
    expect(asc.temp).to.deep.equal([
      { ts: 150, value: 99 },
      { ts: 200, value: 21.5 },
    ]);
    await store.timeseries.save(d, { ts: 150, values: { temp: 19 } });
    const after = await store.timeseries.getHistory(d, ['temp'], { startTs: 150, endTs: 150 });
    expect(after.temp).to.deep.equal([{ ts: 150, value: 19 }]);
    await store.timeseries.delete(d, ['temp']);
    expect(await store.timeseries.getLatest(d, ['temp'])).to.deep.equal({});
    expect(await store.timeseries.getHistory(d, ['temp'], { startTs: 0, endTs: 1000 })).to.deep.equal({});
  });

  it('time series TTL: expired points are not returned and are trimmed; latest stays', async () => {
    const d = device();
    const now = Date.now();
    await store.timeseries.save(d, { ts: now - 10, values: { keep: 1, mixed: 'forever' } });
    await store.timeseries.save(d, { ts: now, values: { short: 1, mixed: 'short' } }, { ttlSeconds: 0.3 });
    await store.timeseries.save(d, { ts: now + 1, values: { short: 2 } }, { ttlSeconds: 0.3 });
    const q = { startTs: 0, endTs: now + 10 };
    expect((await store.timeseries.getHistory(d, ['short'], q)).short).to.have.length(2);
    expect(await fx.redis.pttl(store.keys.timeseries(d, 'short'))).to.be.within(1, 300);
    expect(await fx.redis.pttl(store.keys.timeseries(d, 'mixed'))).to.equal(-1);
    await sleep(400);
    const h = await store.timeseries.getHistory(d, ['short', 'mixed', 'keep'], q);
    expect(h).to.deep.equal({ mixed: [{ ts: now - 10, value: 'forever' }], keep: [{ ts: now - 10, value: 1 }] });
    // trimmed, not just hidden: the all-TTL key expired as a whole, the mixed one lost its point
    expect(await fx.redis.exists(store.keys.timeseries(d, 'short'))).to.equal(0);
    expect(await fx.redis.zcard(store.keys.timeseries(d, 'mixed'))).to.equal(1);
    expect(await fx.redis.zcard(store.keys.timeseriesExpiry(d, 'mixed'))).to.equal(0);
    expect(await store.timeseries.getLatest(d, ['short'])).to.deep.equal({ short: { ts: now + 1, value: 2 } });
    // a write trims too
    await store.timeseries.save(d, { ts: now + 2, values: { mixed: 'a' } }, { ttlSeconds: 0.05 });
    await sleep(100);
    await store.timeseries.save(d, { ts: now + 3, values: { mixed: 'b' } });
    expect(await fx.redis.zcard(store.keys.timeseries(d, 'mixed'))).to.equal(2);
    // rewriting a TTL point without TTL makes it permanent
    await store.timeseries.save(d, { ts: now + 4, values: { p: 1 } }, { ttlSeconds: 0.05 });
    await store.timeseries.save(d, { ts: now + 4, values: { p: 2 } });
    await sleep(100);
    expect((await store.timeseries.getHistory(d, ['p'], { startTs: 0, endTs: now + 10 })).p).to.deep.equal([{ ts: now + 4, value: 2 }]);
  });

  it('deleteAll removes every key of the entity', async () => {
    const d = device();
    await store.timeseries.save(d, { ts: 1, values: { a: 1, b: 2 } }, { ttlSeconds: 100 });
    await store.attributes.save(d, 'SERVER_SCOPE', { x: 1 });
    await Promise.all([store.timeseries.deleteAll(d), store.attributes.deleteAll(d)]);
    expect(await fx.redis.keys(`*${d.id}*`)).to.deep.equal([]);
  });
});
