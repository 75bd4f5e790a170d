// Stored RPCs: the device listing of GET /api/rpc/persistent/device/{id} (§2.6) and the per-tenant
// TTL clean-up (§6.6), on a real Store.
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { RpcCleanupService } from '../../../src/rpc/rpc-cleanup.js';
import { RpcRepository } from '../../../src/rpc/rpc-repository.js';
import { withRpcDefaults } from '../../../src/rpc/rpc-settings.js';
import { rpcEntity, type RpcStatus, type StoredRpc } from '../../../src/rpc/rpc-types.js';
import { StoreValidationError } from '../../../src/store/errors.js';
import { Store } from '../../../src/store/store.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { newDeviceId, rpcTo } from './rpc-harness.js';

const DAY = 86_400_000;

describe('stored RPCs', function () {
  this.timeout(20_000);
  let server: TestRedis;
  let redis: Redis;
  let store: Store;
  let repo: RpcRepository;

  before(async () => {
    server = await startTestRedis();
    redis = new Redis(server.url);
    store = new Store(redis);
    repo = new RpcRepository(redis);
  });
  after(async () => {
    redis.disconnect();
    await server.stop();
  });

  async function save(tenantId: string, deviceId: string, createdTime: number, status: RpcStatus = 'QUEUED'): Promise<StoredRpc> {
    const req = rpcTo(deviceId, 60_000, { tenantId, persisted: true });
    const stored: StoredRpc = { rpc: rpcEntity(req, status, createdTime), requestId: 0, attempts: 0 };
    expect(await repo.create(stored)).to.equal(true);
    return stored;
  }

  describe('listing by device', () => {
    const tenant = 'tenant-list';
    const dev = newDeviceId();
    const statuses: RpcStatus[] = ['QUEUED', 'SUCCESSFUL', 'EXPIRED', 'SUCCESSFUL', 'FAILED'];
    before(async () => {
      for (let i = 0; i < statuses.length; i++) await save(tenant, dev, 1_000 + i, statuses[i]);
    });

    it('pages by created time, both ways', async () => {
      const p0 = await repo.listByDevice(tenant, dev, { pageSize: 2, page: 0 });
      expect(p0).to.deep.include({ totalElements: 5, totalPages: 3, hasNext: true });
      expect(p0.data.map((r) => r.createdTime)).to.deep.equal([1000, 1001]);
      const last = await repo.listByDevice(tenant, dev, { pageSize: 2, page: 2, sortProperty: 'createdTime', sortOrder: 'DESC' });
      expect(last.data.map((r) => r.createdTime)).to.deep.equal([1000]);
      expect(last.hasNext).to.equal(false);
    });

    it('filters by status', async () => {
      const page = await repo.listByDevice(tenant, dev, { pageSize: 10, page: 0, sortOrder: 'DESC' }, 'SUCCESSFUL');
      expect(page.data.map((r) => [r.status, r.createdTime])).to.deep.equal([
        ['SUCCESSFUL', 1003],
        ['SUCCESSFUL', 1001],
      ]);
      expect(page.totalElements).to.equal(2);
    });

    it('sorts by the documented properties; others are refused', async () => {
      const byStatus = await repo.listByDevice(tenant, dev, { pageSize: 10, page: 0, sortProperty: 'status' });
      expect(byStatus.data.map((r) => r.status)).to.deep.equal(['EXPIRED', 'FAILED', 'QUEUED', 'SUCCESSFUL', 'SUCCESSFUL']);
      await repo.listByDevice(tenant, dev, { pageSize: 10, page: 0, sortProperty: 'expirationTime' });
      let err: unknown;
      await repo.listByDevice(tenant, dev, { pageSize: 10, page: 0, sortProperty: 'name' }).catch((e: unknown) => (err = e));
      expect(err).to.be.instanceOf(StoreValidationError);
    });

    it('another tenant sees nothing of the device', async () => {
      expect((await repo.listByDevice('someone-else', dev, { pageSize: 10, page: 0 })).data).to.deep.equal([]);
    });

    it('only open RPCs are on the open list; a final one leaves it', async () => {
      const open = await repo.openOf(dev);
      expect(open.map((s) => s.rpc.status)).to.deep.equal(['QUEUED']);
      await repo.setStatus(dev, open[0].rpc.id.id, 'EXPIRED');
      expect(await repo.openOf(dev)).to.deep.equal([]);
    });

    it('an RPC that ended keeps its status and response: a later change (a stale expiry timer) leaves it as it was', async () => {
      const d = newDeviceId();
      const stored = await save(tenant, d, 5_000);
      const id = stored.rpc.id.id;
      await repo.setStatus(d, id, 'SUCCESSFUL', { response: { ok: true } });
      const after = await repo.setStatus(d, id, 'EXPIRED');
      expect(after?.rpc.status).to.equal('SUCCESSFUL');
      expect((await repo.getOnDevice(d, id))?.rpc).to.deep.include({ status: 'SUCCESSFUL', response: { ok: true } });
    });
  });

  describe('TTL clean-up', () => {
    it('removes RPCs older than the tenant\'s rpcTtlDays, whatever their status; tenants without a TTL keep theirs', async () => {
      const now = Date.now();
      const withTtl = await store.tenants.create({ title: 'TTL 1 day', additionalInfo: { rpcTtlDays: 1 } });
      const without = await store.tenants.create({ title: 'No TTL' });
      const dev = newDeviceId();
      const old = await save(withTtl.id.id, dev, now - 2 * DAY, 'QUEUED');
      const oldDone = await save(withTtl.id.id, dev, now - 3 * DAY, 'SUCCESSFUL');
      const fresh = await save(withTtl.id.id, dev, now - 1000, 'QUEUED');
      const keep = await save(without.id.id, newDeviceId(), now - 30 * DAY, 'FAILED');
      const cleanup = new RpcCleanupService({ store, repo, settings: withRpcDefaults({ ttlRemovalBatchSize: 1 }), now: () => now });
      expect(await cleanup.runOnce()).to.equal(2);
      expect(await repo.get(old.rpc.id.id)).to.equal(null);
      expect(await repo.get(oldDone.rpc.id.id)).to.equal(null);
      expect(await repo.get(fresh.rpc.id.id)).to.not.equal(null);
      expect(await repo.get(keep.rpc.id.id)).to.not.equal(null);
      expect((await repo.openOf(dev)).map((s) => s.rpc.id.id)).to.deep.equal([fresh.rpc.id.id]);
    });

    it('runs in one process per interval (a lock in Redis)', async () => {
      const settings = withRpcDefaults({ ttlCheckingIntervalMs: 60_000 });
      const a = new RpcCleanupService({ store, repo, settings });
      const b = new RpcCleanupService({ store, repo, settings });
      await redis.del(repo.keys.ttlLock());
      await a.runIfLocked();
      expect(await redis.pttl(repo.keys.ttlLock())).to.be.greaterThan(50_000);
      expect(await b.runIfLocked()).to.equal(0);
    });
  });
});
