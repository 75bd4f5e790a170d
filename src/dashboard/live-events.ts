// The live part of the dashboard: the rxjs streams of the process (trace steps, RPC status events,
// device connection changes) turned into one filtered event stream per browser.
import { EMPTY, Observable, Subject, filter, from, map, merge, mergeMap, of, share } from 'rxjs';
import type { TraceEvent } from '../engine/trace.js';
import type { ConnectionEvent, DashboardEvent, RpcStatusEvent, TraceStreamEvent } from './shared/events.js';

/** The user of a stream, as the REST API's JWT names them. */
export interface DashboardUser {
  readonly email: string;
  readonly authority: string;
  readonly tenantId: string;
  readonly customerId: string;
}

/** Who may see what. Trace steps carry no tenant, so the chain id (and the originator) decide. */
export interface DashboardAccess {
  canSeeDevice(user: DashboardUser, deviceId: string): Promise<boolean>;
  canSeeChain(user: DashboardUser, chainId: string): Promise<boolean>;
}

/** The store methods access checks need (src/store/store.ts). */
export interface AccessStore {
  readonly devices: { findById(tenantId: string, deviceId: string): Promise<{ customerId: { id: string } } | null> };
  readonly ruleChains: { get(tenantId: string, chainId: string): Promise<unknown> };
}

const NULL_UUID = '13814000-1dd2-11b2-8080-808080808080';

/** Tenant (and, for customer users, customer) checks against the store, as the REST API does. */
export function storeAccess(store: AccessStore): DashboardAccess {
  return {
    async canSeeDevice(user, deviceId) {
      if (user.authority === 'SYS_ADMIN') return false;
      const device = await store.devices.findById(user.tenantId, deviceId);
      if (device === null) return false;
      return user.authority !== 'CUSTOMER_USER' || (device.customerId.id === user.customerId && user.customerId !== NULL_UUID);
    },
    async canSeeChain(user, chainId) {
      // Rule chains are TENANT_ADMIN business in the REST API; a customer user sees only traces
      // of their own devices, which canSeeDevice checks on top.
      if (user.authority === 'SYS_ADMIN') return false;
      return (await store.ruleChains.get(user.tenantId, chainId)) !== null;
    },
  };
}

/** No checks: for tests that run without a store. */
export const OPEN_ACCESS: DashboardAccess = {
  canSeeDevice: async () => true,
  canSeeChain: async () => true,
};

/** Remembers yes/no answers for a while: a busy chain must not cost a Redis read per step. */
export class CachedAccess implements DashboardAccess {
  private readonly cache = new Map<string, { ok: boolean; at: number }>();

  constructor(
    private readonly inner: DashboardAccess,
    private readonly ttlMs = 30_000,
    private readonly maxEntries = 5_000,
  ) {}

  canSeeDevice(user: DashboardUser, deviceId: string): Promise<boolean> {
    return this.cached(`d:${user.tenantId}:${user.customerId}:${deviceId}`, () => this.inner.canSeeDevice(user, deviceId));
  }

  canSeeChain(user: DashboardUser, chainId: string): Promise<boolean> {
    return this.cached(`c:${user.tenantId}:${chainId}`, () => this.inner.canSeeChain(user, chainId));
  }

  private async cached(key: string, ask: () => Promise<boolean>): Promise<boolean> {
    const hit = this.cache.get(key);
    const now = Date.now();
    if (hit && now - hit.at < this.ttlMs) return hit.ok;
    const ok = await ask().catch(() => false);
    if (this.cache.size >= this.maxEntries) this.cache.clear();
    this.cache.set(key, { ok, at: now });
    return ok;
  }
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function idText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (isObj(v) && typeof v.id === 'string') return v.id;
  return undefined;
}

/**
 * An RPC status event from whatever the RPC service emits: the stored Rpc entity (§6.3), a TbMsg
 * of type RPC_<STATUS> whose data is that entity (as JSON text or object), or `{rpc}` / `{status, rpc}`.
 */
export function toRpcStatusEvent(source: unknown): (RpcStatusEvent & { tenantId: string | undefined }) | null {
  if (!isObj(source)) return null;
  let rpc: unknown = source;
  let status: string | undefined;
  if (typeof source.type === 'string' && source.type.startsWith('RPC_')) status = source.type.slice(4);
  if (isObj(source.rpc)) rpc = source.rpc;
  else if (isObj(source.data)) rpc = source.data;
  else if (typeof source.data === 'string') {
    try {
      rpc = JSON.parse(source.data) as unknown;
    } catch {
      return null;
    }
  }
  if (!isObj(rpc)) return null;
  const rpcId = idText(rpc.id) ?? idText(source.rpcId);
  const deviceId = idText(rpc.deviceId) ?? idText(source.deviceId) ?? idText(source.originator);
  if (typeof rpc.status === 'string') status = rpc.status;
  if (typeof source.status === 'string') status = source.status;
  if (rpcId === undefined || deviceId === undefined || status === undefined) return null;
  return {
    type: 'rpc',
    rpcId,
    deviceId,
    status,
    response: rpc.response ?? null,
    rpc: isObj(rpc.request) ? rpc : null,
    tenantId: idText(rpc.tenantId) ?? idText(source.tenantId),
  };
}

export interface ConnectionSource {
  isConnected(deviceId: string): Promise<boolean>;
}

/**
 * Polls the connection state of the devices some stream watches, once per device and interval
 * whatever the number of streams, and emits changes (and the first state seen).
 */
export class ConnectionWatcher {
  private readonly watched = new Map<string, number>();
  private readonly state = new Map<string, boolean>();
  private readonly subject = new Subject<ConnectionEvent>();
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  readonly changes$: Observable<ConnectionEvent> = this.subject.asObservable();

  constructor(
    private readonly source: ConnectionSource,
    private readonly pollMs: number,
    private readonly onError: (e: unknown) => void = () => {},
  ) {}

  /** Starts watching; the returned function stops (reference counted). */
  watch(deviceIds: readonly string[]): () => void {
    for (const id of deviceIds) this.watched.set(id, (this.watched.get(id) ?? 0) + 1);
    if (this.timer === null && this.watched.size > 0) {
      this.timer = setInterval(() => void this.poll(), this.pollMs);
      this.timer.unref();
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      for (const id of deviceIds) {
        const n = (this.watched.get(id) ?? 1) - 1;
        if (n <= 0) {
          this.watched.delete(id);
          this.state.delete(id);
        } else this.watched.set(id, n);
      }
      if (this.watched.size === 0) this.stopTimer();
    };
  }

  /** The current state, asked now (a new stream starts with it). */
  async current(deviceId: string): Promise<boolean | null> {
    try {
      const connected = await this.source.isConnected(deviceId);
      if (this.watched.has(deviceId)) this.state.set(deviceId, connected);
      return connected;
    } catch (e) {
      this.onError(e);
      return null;
    }
  }

  /** A change pushed by the transports (when they have a stream of it): no need to wait for a poll. */
  push(event: { deviceId: string; connected: boolean }): void {
    if (!this.watched.has(event.deviceId) || this.state.get(event.deviceId) === event.connected) return;
    this.state.set(event.deviceId, event.connected);
    this.subject.next({ type: 'connection', deviceId: event.deviceId, connected: event.connected });
  }

  private async poll(): Promise<void> {
    if (this.polling) return; // a slow store must not pile up polls
    this.polling = true;
    try {
      await Promise.all(
        [...this.watched.keys()].map(async (deviceId) => {
          let connected: boolean;
          try {
            connected = await this.source.isConnected(deviceId);
          } catch (e) {
            this.onError(e);
            return;
          }
          if (this.watched.has(deviceId)) this.push({ deviceId, connected });
        }),
      );
    } finally {
      this.polling = false;
    }
  }

  private stopTimer(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  close(): void {
    this.stopTimer();
    this.watched.clear();
    this.subject.complete();
  }
}

export interface LiveSources {
  readonly trace$?: Observable<TraceEvent>;
  readonly rpcEvents$?: Observable<unknown>;
  readonly connections?: ConnectionWatcher;
}

/**
 * One browser's events: trace steps of chains (and devices) the user may see, RPC status changes of
 * the user's tenant (and devices), connection changes of the watched devices.
 */
export function userEvents(
  user: DashboardUser,
  sources: LiveSources,
  access: DashboardAccess,
  watched: ReadonlySet<string>,
  /** Whose trace steps: an originator id, '*' for all, null for none. */
  traceOf: string | null = null,
): Observable<DashboardEvent> {
  const allowed = (ok: Promise<boolean>) => from(ok.catch(() => false));
  const trace$: Observable<TraceStreamEvent> =
    sources.trace$ && traceOf !== null
    ? sources.trace$.pipe(
        filter((step) => traceOf === '*' || step.originatorId === traceOf),
        // concatMap would keep order but one slow check would stall every step; the check is
        // cached, so after the first step of a chain the order is kept anyway.
        mergeMap((step) =>
          allowed(
            access.canSeeChain(user, step.chainId).then((ok) => ok && (user.authority !== 'CUSTOMER_USER' || access.canSeeDevice(user, step.originatorId))),
          ).pipe(
            filter(Boolean),
            map((): TraceStreamEvent => ({ type: 'trace', step: traceStep(step) })),
          ),
        ),
      )
    : EMPTY;
  const rpc$: Observable<RpcStatusEvent> = sources.rpcEvents$
    ? sources.rpcEvents$.pipe(
        mergeMap((raw) => {
          const ev = toRpcStatusEvent(raw);
          if (ev === null) return EMPTY;
          const { tenantId, ...event } = ev;
          // The event names its tenant (the Rpc entity does): no store read for the common case.
          if (tenantId !== undefined && tenantId !== user.tenantId) return EMPTY;
          const check = tenantId === undefined || user.authority === 'CUSTOMER_USER' ? access.canSeeDevice(user, event.deviceId) : Promise.resolve(true);
          return allowed(check).pipe(
            filter(Boolean),
            map(() => event),
          );
        }),
      )
    : EMPTY;
  const conn$: Observable<ConnectionEvent> = sources.connections
    ? sources.connections.changes$.pipe(filter((e) => watched.has(e.deviceId)))
    : EMPTY;
  return merge(trace$, rpc$, conn$).pipe(share());
}

function traceStep(e: TraceEvent): TraceStreamEvent['step'] {
  return {
    msgId: e.msgId,
    msgType: e.msgType,
    originatorId: e.originatorId,
    chainId: e.chainId,
    chainName: e.chainName,
    nodeId: e.nodeId,
    nodeName: e.nodeName,
    nodeType: e.nodeType,
    relations: [...e.relations],
    durationMs: Math.round(e.durationMs * 1000) / 1000,
    ...(e.error !== undefined ? { error: e.error } : {}),
    ts: e.ts,
  };
}

/** The devices of a stream's `devices` parameter the user may see. */
export async function visibleDevices(user: DashboardUser, ids: readonly string[], access: DashboardAccess): Promise<string[]> {
  const unique = [...new Set(ids)];
  const ok = await Promise.all(unique.map((id) => access.canSeeDevice(user, id).catch(() => false)));
  return unique.filter((_, i) => ok[i]);
}

/** The first connection states of a new stream. */
export function initialConnections(watcher: ConnectionWatcher, ids: readonly string[]): Observable<ConnectionEvent> {
  return from(ids).pipe(
    mergeMap((deviceId) =>
      from(watcher.current(deviceId)).pipe(mergeMap((connected) => (connected === null ? EMPTY : of<ConnectionEvent>({ type: 'connection', deviceId, connected })))),
    ),
  );
}

/** Connection state from the session registry: connected while some process holds a session. */
export function sessionsOf(registry: { locateAll(deviceId: string): Promise<readonly unknown[]> }): ConnectionSource {
  return { isConnected: async (deviceId) => (await registry.locateAll(deviceId)).length > 0 };
}
