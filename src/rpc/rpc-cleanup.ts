// TTL clean-up of stored RPCs (spec/rpc.md §6.6): every ttlCheckingIntervalMs (first run after a
// random part of it), per tenant with a TTL, RPCs created before now − ttlDays are deleted whatever
// their status, in batches, without events. A lock in Redis lets one process do it per interval.
//
// The TTL of a tenant: ThingsBoard reads the tenant profile's rpcTtlDays; rpc-chains has no tenant
// profiles, so it is the tenant's additionalInfo.rpcTtlDays when that is a number, else the
// defaultRpcTtlDays setting (0 = keep for ever).
import type { Store } from '../store/store.js';
import type { RpcRepository } from './rpc-repository.js';
import type { RpcSettings } from './rpc-settings.js';

const DAY_MS = 86_400_000;

export type TtlDaysOf = (tenantId: string) => Promise<number>;

export function tenantTtlDays(store: Store, fallback: number): TtlDaysOf {
  return async (tenantId) => {
    const ttl = (await store.tenants.get(tenantId))?.additionalInfo?.rpcTtlDays;
    return typeof ttl === 'number' && Number.isFinite(ttl) && ttl >= 0 ? ttl : fallback;
  };
}

export interface RpcCleanupOptions {
  readonly store: Store;
  readonly repo: RpcRepository;
  readonly settings: RpcSettings;
  readonly ttlDaysOf?: TtlDaysOf;
  readonly logger?: { info(text: string): void; warn(text: string): void };
  readonly now?: () => number;
}

export class RpcCleanupService {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private readonly ttlDaysOf: TtlDaysOf;

  constructor(private readonly opts: RpcCleanupOptions) {
    this.ttlDaysOf = opts.ttlDaysOf ?? tenantTtlDays(opts.store, opts.settings.defaultRpcTtlDays);
  }

  start(): void {
    const { ttlEnabled, ttlCheckingIntervalMs } = this.opts.settings;
    if (!ttlEnabled || ttlCheckingIntervalMs <= 0 || this.timer) return;
    const tick = () => {
      void this.runIfLocked();
      this.timer = setTimeout(tick, ttlCheckingIntervalMs);
      this.timer.unref();
    };
    this.timer = setTimeout(tick, Math.floor(Math.random() * ttlCheckingIntervalMs));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One run if no other process ran within the interval; resolves with the RPCs removed. */
  async runIfLocked(): Promise<number> {
    const { repo, settings } = this.opts;
    const lockMs = Math.max(1000, settings.ttlCheckingIntervalMs - 1000);
    const got = await repo.redis.set(repo.keys.ttlLock(), String(process.pid), 'PX', lockMs, 'NX').catch(() => null);
    return got === 'OK' ? this.runOnce() : 0;
  }

  /** Removes every expired RPC of every tenant now; resolves with how many. */
  runOnce(): Promise<number> {
    this.running ??= (async () => {
      const { store, repo, settings } = this.opts;
      const now = (this.opts.now ?? Date.now)();
      let removed = 0;
      try {
        for (let page = 0; ; page++) {
          const tenants = await store.tenants.list({ pageSize: 100, page });
          for (const t of tenants.data) {
            const days = await this.ttlDaysOf(t.id.id);
            if (days <= 0) continue;
            const cutoff = now - days * DAY_MS;
            for (;;) {
              const batch = await repo.createdBefore(t.id.id, cutoff, settings.ttlRemovalBatchSize);
              for (const member of batch) await repo.removeExpiredMember(t.id.id, member);
              removed += batch.length;
              if (batch.length < settings.ttlRemovalBatchSize) break;
            }
          }
          if (!tenants.hasNext) break;
        }
        if (removed > 0) this.opts.logger?.info(`rpc: TTL clean-up removed ${removed} RPC(s)`);
      } catch (e) {
        this.opts.logger?.warn(`rpc: TTL clean-up: ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        this.running = undefined;
      }
      return removed;
    })();
    return this.running;
  }
}
