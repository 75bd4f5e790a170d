// Persistent RPCs in Redis (ThingsBoard's `rpc` table, spec/rpc.md §6.3). One JSON document per RPC
// under its device's tag, with the device's index by created time and its set of open RPCs, so a
// status change is one single-slot script. Global indexes (by id, by tenant, devices with open RPCs)
// are written in separate steps, ordered so that a crash between them leaves garbage, never an RPC
// that cannot be found by the actor.
import { LuaScript } from '../store/lua-script.js';
import { checkPageLink, pageData, pageInMemory, pageRange, type PageData, type PageLink } from '../store/page.js';
import type { RedisClient } from '../store/redis-client.js';
import { retryStale, STALE } from '../store/retry.js';
import { RpcKeys } from './rpc-keys.js';
import { isFinalStatus, type Rpc, type RpcStatus, type StoredRpc } from './rpc-types.js';

export const RPC_SORT_PROPERTIES = ['createdTime', 'expirationTime', 'request', 'response', 'status'] as const;

// KEYS: doc, all, open. ARGV: json, createdTime, rpcId, open('1'|'0').
const CREATE = new LuaScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX') == false then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
if ARGV[4] == '1' then redis.call('SADD', KEYS[3], ARGV[3]) else redis.call('SREM', KEYS[3], ARGV[3]) end
return 1`);

// KEYS: doc, open. ARGV: expected json, next json, rpcId, open('1'|'0'). 1 done, 0 stale, -1 gone.
const UPDATE = new LuaScript(`
local cur = redis.call('GET', KEYS[1])
if cur == false then return -1 end
if cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[4] == '1' then redis.call('SADD', KEYS[2], ARGV[3]) else redis.call('SREM', KEYS[2], ARGV[3]) end
return 1`);

// KEYS: doc, all, open. ARGV: rpcId. Returns the deleted document or false.
const DELETE = new LuaScript(`
local cur = redis.call('GET', KEYS[1])
if cur == false then return false end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
return cur`);

// KEYS: owner. ARGV: expected. Deletes the key only if it still holds `expected`.
const DELETE_IF = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

// KEYS: owner, seq. ARGV: serviceId, end of this owner's block of request ids ('' if none), first
// unused id. Lets go of the lease; gives the unused ids back when nobody counted past the block.
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if ARGV[2] ~= '' and redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('SET', KEYS[2], ARGV[3]) end
return 1`);

/** Request ids an owner takes from Redis at once: one INCRBY per this many commands to a device. */
const REQUEST_ID_BLOCK = 100;

interface RpcLocation {
  readonly tenantId: string;
  readonly deviceId: string;
}

export class RpcRepository {
  readonly keys: RpcKeys;
  /** Request ids reserved by this process as the owner of a device: `next` up to `end` (exclusive). */
  private readonly idBlocks = new Map<string, { next: number; readonly end: number }>();

  constructor(
    readonly redis: RedisClient,
    prefix = 'rc',
  ) {
    this.keys = new RpcKeys(prefix);
  }

  /**
   * The next device-facing request id: 0, 1, 2, ... per device, never reset (beyond-thingsboard #7).
   * Only the device's owner calls it; it reserves a block of ids at a time, and releaseOwnership
   * gives the unused ones back, so ids stay consecutive unless an owner dies (then they jump on).
   */
  async nextRequestId(deviceId: string): Promise<number> {
    const block = this.idBlocks.get(deviceId);
    if (block && block.next < block.end) return block.next++;
    const end = await this.redis.incrby(this.keys.seq(deviceId), REQUEST_ID_BLOCK);
    const fresh = { next: end - REQUEST_ID_BLOCK, end };
    this.idBlocks.set(deviceId, fresh);
    return fresh.next++;
  }

  /** Stores a new RPC; false when one with this id already exists on the device. */
  async create(stored: StoredRpc): Promise<boolean> {
    const { rpc } = stored;
    const deviceId = rpc.deviceId.id;
    const rpcId = rpc.id.id;
    const open = !isFinalStatus(rpc.status, rpc.request.oneway);
    await this.redis.set(this.keys.byId(rpcId), JSON.stringify({ tenantId: rpc.tenantId.id, deviceId } satisfies RpcLocation));
    const created = await CREATE.run(
      this.redis,
      [this.keys.doc(deviceId, rpcId), this.keys.all(deviceId), this.keys.open(deviceId)],
      [JSON.stringify(stored), rpc.createdTime, rpcId, open ? '1' : '0'],
    );
    if (created !== 1) return false;
    await this.redis.zadd(this.keys.tenantAll(rpc.tenantId.id), rpc.createdTime, `${deviceId}/${rpcId}`);
    if (open) await this.redis.sadd(this.keys.openDevices(), deviceId);
    return true;
  }

  async get(rpcId: string): Promise<StoredRpc | null> {
    const loc = await this.locate(rpcId);
    return loc ? this.getOnDevice(loc.deviceId, rpcId) : null;
  }

  async getOnDevice(deviceId: string, rpcId: string): Promise<StoredRpc | null> {
    const text = await this.redis.get(this.keys.doc(deviceId, rpcId));
    return text === null ? null : (JSON.parse(text) as StoredRpc);
  }

  async exists(deviceId: string, rpcId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.doc(deviceId, rpcId))) === 1;
  }

  /**
   * Changes a stored RPC; `change` returns the next version, or null to leave it. Resolves with the
   * stored version, or null when the RPC is gone (deleted meanwhile: ThingsBoard drops the update).
   */
  async update(deviceId: string, rpcId: string, change: (cur: StoredRpc) => StoredRpc | null): Promise<StoredRpc | null> {
    const key = this.keys.doc(deviceId, rpcId);
    return retryStale('update rpc', async () => {
      const before = await this.redis.get(key);
      if (before === null) return null;
      const next = change(JSON.parse(before) as StoredRpc);
      if (next === null) return JSON.parse(before) as StoredRpc;
      const open = !isFinalStatus(next.rpc.status, next.rpc.request.oneway);
      const r = await UPDATE.run(this.redis, [key, this.keys.open(deviceId)], [before, JSON.stringify(next), rpcId, open ? '1' : '0']);
      if (r === -1) return null;
      return r === 1 ? next : STALE;
    });
  }

  /**
   * Sets status (and response, when given) of a stored RPC. An RPC that ended stays as it ended (the
   * stored version is returned unchanged): a stale actor, which lost the device to another owner
   * without knowing it, must not turn a SUCCESSFUL RPC into EXPIRED.
   */
  setStatus(deviceId: string, rpcId: string, status: RpcStatus, extra: { response?: Rpc['response']; attempts?: number } = {}): Promise<StoredRpc | null> {
    return this.update(deviceId, rpcId, (cur) =>
      isFinalStatus(cur.rpc.status, cur.rpc.request.oneway)
        ? null
        : {
            ...cur,
            attempts: extra.attempts ?? cur.attempts,
            rpc: { ...cur.rpc, status, ...(extra.response !== undefined ? { response: extra.response } : {}) },
          },
    );
  }

  /** Removes an RPC; resolves with what was stored, or null when there was nothing. */
  async delete(rpcId: string): Promise<StoredRpc | null> {
    const loc = await this.locate(rpcId);
    if (!loc) return null;
    const removed = await this.deleteOnDevice(loc.deviceId, rpcId);
    await this.redis.del(this.keys.byId(rpcId));
    await this.redis.zrem(this.keys.tenantAll(loc.tenantId), `${loc.deviceId}/${rpcId}`);
    return removed;
  }

  private async deleteOnDevice(deviceId: string, rpcId: string): Promise<StoredRpc | null> {
    const text = await DELETE.run(this.redis, [this.keys.doc(deviceId, rpcId), this.keys.all(deviceId), this.keys.open(deviceId)], [rpcId]);
    return typeof text === 'string' ? (JSON.parse(text) as StoredRpc) : null;
  }

  /**
   * A page of a device's RPCs (GET /api/rpc/persistent/device/{deviceId}). `textSearch` is ignored,
   * as in ThingsBoard. Created-time order without a status filter reads one page; anything else
   * sorts the device's RPCs in memory.
   */
  async listByDevice(tenantId: string, deviceId: string, link: PageLink, status?: RpcStatus): Promise<PageData<Rpc>> {
    checkPageLink(link, RPC_SORT_PROPERTIES);
    const sort = link.sortProperty ?? 'createdTime';
    const allKey = this.keys.all(deviceId);
    if (status === undefined && sort === 'createdTime') {
      const total = await this.redis.zcard(allKey);
      const [start, stop] = pageRange(link);
      const ids = link.sortOrder === 'DESC' ? await this.redis.zrevrange(allKey, start, stop) : await this.redis.zrange(allKey, start, stop);
      const docs = (await this.docs(deviceId, ids)).filter((s) => s.rpc.tenantId.id === tenantId);
      return pageData(docs.map((s) => s.rpc), total, link);
    }
    const ids = await this.redis.zrange(allKey, 0, -1);
    const rpcs = (await this.docs(deviceId, ids)).map((s) => s.rpc).filter((r) => r.tenantId.id === tenantId && (status === undefined || r.status === status));
    return pageInMemory(rpcs, { ...link, textSearch: undefined }, {
      text: () => '',
      sortKeys: {
        createdTime: (r) => r.createdTime,
        expirationTime: (r) => r.expirationTime,
        request: (r) => JSON.stringify(r.request),
        response: (r) => (r.response === null ? '' : JSON.stringify(r.response)),
        status: (r) => r.status,
      },
      defaultSort: 'createdTime',
    });
  }

  /** The device's RPCs that are not final, oldest first (recovery, §5.9 and beyond-thingsboard #1). */
  async openOf(deviceId: string): Promise<StoredRpc[]> {
    const ids = await this.redis.smembers(this.keys.open(deviceId));
    const docs = await this.docs(deviceId, ids);
    const found = new Set(docs.map((d) => d.rpc.id.id));
    const stale = ids.filter((id) => !found.has(id));
    if (stale.length > 0) await this.redis.srem(this.keys.open(deviceId), ...stale);
    return docs.sort((a, b) => a.rpc.createdTime - b.rpc.createdTime || a.requestId - b.requestId);
  }

  /** Whether the device has RPCs that are not final. */
  async hasOpen(deviceId: string): Promise<boolean> {
    return (await this.redis.scard(this.keys.open(deviceId))) > 0;
  }

  /** Devices that may have open RPCs, a batch at a time (SSCAN cursor; '0' starts and ends). */
  async devicesWithOpen(cursor: string, count = 200): Promise<[string, string[]]> {
    const [next, ids] = await this.redis.sscan(this.keys.openDevices(), cursor, 'COUNT', count);
    return [next, ids];
  }

  /** Takes a device off the open list when it has no open RPC left (re-adds it if one raced in). */
  async dropOpenDevice(deviceId: string): Promise<void> {
    if ((await this.redis.scard(this.keys.open(deviceId))) > 0) return;
    await this.redis.srem(this.keys.openDevices(), deviceId);
    if ((await this.redis.scard(this.keys.open(deviceId))) > 0) await this.redis.sadd(this.keys.openDevices(), deviceId);
  }

  /** Up to `limit` RPCs of a tenant created before `cutoff`, as `deviceId/rpcId`. */
  async createdBefore(tenantId: string, cutoff: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.tenantAll(tenantId), '-inf', `(${cutoff}`, 'LIMIT', 0, limit);
  }

  /** TTL removal of one `deviceId/rpcId` member: no event (§6.6). */
  async removeExpiredMember(tenantId: string, member: string): Promise<void> {
    const slash = member.indexOf('/');
    const deviceId = member.slice(0, slash);
    const rpcId = member.slice(slash + 1);
    await this.deleteOnDevice(deviceId, rpcId);
    await this.redis.del(this.keys.byId(rpcId));
    await this.redis.zrem(this.keys.tenantAll(tenantId), member);
  }

  // ---- the owner lease (see device-rpc-service.ts)

  async ownerOf(deviceId: string): Promise<string | null> {
    return this.redis.get(this.keys.owner(deviceId));
  }

  /** Takes the lease if nobody holds it, or if it still holds `expected` (a dead owner). */
  async takeOwnership(deviceId: string, serviceId: string, expected: string | null): Promise<boolean> {
    // A block left from an earlier lease may be behind ids another owner issued since.
    this.idBlocks.delete(deviceId);
    const key = this.keys.owner(deviceId);
    if (expected === null) return (await this.redis.set(key, serviceId, 'NX')) === 'OK';
    if ((await DELETE_IF.run(this.redis, [key], [expected])) !== 1 && expected !== serviceId) return false;
    return (await this.redis.set(key, serviceId, 'NX')) === 'OK';
  }

  async releaseOwnership(deviceId: string, serviceId: string): Promise<void> {
    const block = this.idBlocks.get(deviceId);
    this.idBlocks.delete(deviceId);
    await RELEASE.run(this.redis, [this.keys.owner(deviceId), this.keys.seq(deviceId)], [serviceId, block ? String(block.end) : '', block ? String(block.next) : '']);
  }

  private async locate(rpcId: string): Promise<RpcLocation | null> {
    const text = await this.redis.get(this.keys.byId(rpcId));
    return text === null ? null : (JSON.parse(text) as RpcLocation);
  }

  /** Documents of one device (one slot: MGET in chunks). */
  private async docs(deviceId: string, ids: readonly string[]): Promise<StoredRpc[]> {
    const out: StoredRpc[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const texts = await this.redis.mget(...chunk.map((id) => this.keys.doc(deviceId, id)));
      for (const t of texts) if (t !== null) out.push(JSON.parse(t) as StoredRpc);
    }
    return out;
  }
}
