// The document cache that Redis keeps up to date (CLIENT TRACKING): a read is kept, a change by
// anyone (another connection, a Lua script, UNLINK, FLUSHALL) drops it, and a Redis restart empties
// it and tracking comes back by itself. Hits are counted by Redis (INFO commandstats), not by us.
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { TrackedDocCache } from '../../../src/store/tracked-doc-cache.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';

async function getCalls(admin: Redis): Promise<number> {
  const stats = await admin.info('commandstats');
  const m = /cmdstat_get:calls=(\d+)/.exec(stats);
  return m ? Number(m[1]) : 0;
}

/** Invalidations travel on another connection: wait until the cache has let the key go. */
async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('store: tracked document cache', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let writer: Redis;
  let cache: TrackedDocCache;

  beforeEach(async () => {
    redis = await startTestRedis();
    writer = new Redis(redis.url);
    cache = new TrackedDocCache(redis.url, { maxEntries: 3 });
    await cache.start();
  });
  afterEach(async () => {
    cache.close();
    writer.disconnect();
    await redis.stop();
  });

  it('answers a second read from memory', async () => {
    await writer.set('doc:1', '{"v":1}');
    const before = await getCalls(writer);
    expect(await cache.get('doc:1')).to.equal('{"v":1}');
    expect(await cache.get('doc:1')).to.equal('{"v":1}');
    expect(await cache.get('doc:1')).to.equal('{"v":1}');
    expect((await getCalls(writer)) - before).to.equal(1);
  });

  it('does not keep a missing document: it is found once created', async () => {
    expect(await cache.get('doc:new')).to.equal(null);
    await writer.set('doc:new', 'x');
    expect(await cache.get('doc:new')).to.equal('x');
  });

  for (const [how, change] of [
    ['SET from another connection', (w: Redis) => w.set('doc:1', '{"v":2}')],
    ['DEL', (w: Redis) => w.del('doc:1')],
    ['UNLINK', (w: Redis) => w.unlink('doc:1')],
    ['a Lua script', (w: Redis) => w.eval("redis.call('SET', KEYS[1], '{\"v\":2}')", 1, 'doc:1')],
    ['FLUSHALL', (w: Redis) => w.flushall()],
  ] as const) {
    it(`forgets a document changed by ${how}`, async () => {
      await writer.set('doc:1', '{"v":1}');
      expect(await cache.get('doc:1')).to.equal('{"v":1}');
      const expected = await (async () => {
        await change(writer);
        return writer.get('doc:1');
      })();
      await until(async () => (await cache.get('doc:1')) === expected, `the cache to read ${String(expected)}`);
      expect(await cache.get('doc:1')).to.equal(expected);
    });
  }

  it('keeps documents again after a FLUSHALL', async () => {
    await writer.set('doc:1', 'a');
    await cache.get('doc:1');
    await writer.flushall();
    await until(() => cache.size === 0, 'the flush to be seen');
    await writer.set('doc:1', 'b');
    expect(await cache.get('doc:1')).to.equal('b');
    const before = await getCalls(writer);
    expect(await cache.get('doc:1')).to.equal('b');
    expect((await getCalls(writer)) - before).to.equal(0);
  });

  it('keeps at most maxEntries documents, dropping the oldest', async () => {
    for (const k of ['a', 'b', 'c', 'd']) await writer.set(`doc:${k}`, k);
    for (const k of ['a', 'b', 'c', 'd']) await cache.get(`doc:${k}`);
    expect(cache.size).to.equal(3);
    const before = await getCalls(writer);
    await cache.get('doc:d');
    expect((await getCalls(writer)) - before, 'the newest is kept').to.equal(0);
    await cache.get('doc:a');
    expect((await getCalls(writer)) - before, 'the oldest was dropped').to.equal(1);
  });

  it('empties on a Redis restart and tracks again afterwards', async () => {
    await writer.set('doc:1', 'before');
    expect(await cache.get('doc:1')).to.equal('before');
    expect(cache.size).to.equal(1);
    await redis.restart();
    await until(() => cache.size === 0, 'the cache to empty');
    // Reads work at once (uncached until tracking is on again), then are kept again.
    await until(async () => {
      try {
        await cache.get('doc:1');
        return cache.size === 1;
      } catch {
        return false;
      }
    }, 'tracking to come back');
    const fresh = new Redis(redis.url);
    try {
      await fresh.set('doc:1', 'after');
      await until(async () => (await cache.get('doc:1')) === 'after', 'the change after the restart to be seen');
    } finally {
      fresh.disconnect();
    }
  });
});
