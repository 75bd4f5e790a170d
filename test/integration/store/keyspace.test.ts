import { expect } from 'chai';
import { hashTagOf } from '../../../src/store/keys.js';
import { exerciseAllRepositories } from './exercise.js';
import { startClusterStore, startStore, type ClusterFixture, type StoreFixture } from './setup.js';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const TAGS = [new RegExp(`^g$`), new RegExp(`^t:${UUID}$`), /^tok:[^{}]+$/, /^email:[^{}]+$/, new RegExp(`^[A-Z_]+:${UUID}$`)];

describe('store: key scheme', () => {
  describe('on a single Redis', () => {
    let fx: StoreFixture;
    before(async () => (fx = await startStore({ prefix: 'ks' })));
    after(async () => fx.close());

    it('every key the repositories write carries a {hash tag} of the documented kinds, under the prefix', async () => {
      await exerciseAllRepositories(fx.store);
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await fx.redis.scan(cursor, 'COUNT', 1000);
        keys.push(...batch);
        cursor = next;
      } while (cursor !== '0');
      expect(keys.length).to.be.greaterThan(30);
      const bad = keys.filter((k) => {
        const tag = hashTagOf(k);
        return !k.startsWith('ks:{') || tag === undefined || !TAGS.some((re) => re.test(tag));
      });
      expect(bad).to.deep.equal([]);
      // each documented kind is in use
      for (const re of TAGS) expect(keys.some((k) => re.test(hashTagOf(k) ?? '')), String(re)).to.equal(true);
    });
  });

  describe('on a Redis Cluster (cross-slot commands fail with CROSSSLOT)', () => {
    let fx: ClusterFixture;
    before(async () => (fx = await startClusterStore()));
    after(async () => fx.close());

    it('the fixture really refuses cross-slot commands', async () => {
      const err = await fx.cluster.mget('{a}x', '{b}y').catch((e: Error) => e);
      expect(String(err)).to.match(/CROSSSLOT|same slot/i);
    });

    it('every repository operation works', async () => {
      await exerciseAllRepositories(fx.store);
      const d = await fx.store.devices.findByName((await fx.store.tenants.list({ pageSize: 1, page: 0 })).data[0]!.id.id, 'd2');
      expect(d?.customerId.entityType).to.equal('CUSTOMER');
    });
  });
});
