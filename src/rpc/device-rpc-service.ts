// The device RPC service of one process: the DeviceRpcListener the transports call, the
// DeviceRpcApi the rule nodes use, and the owner of the RPC state of some devices.
//
// Ownership. One process at a time owns a device's RPC state (its DeviceRpcActor): whichever first
// needed it — the rule-engine process whose RPC node sent a command, or the transport process
// where the device subscribed while RPCs were open for it — takes a lease in Redis
// (`{rpc:<device>}:owner` = its service id, SET NX). Every other process forwards what concerns the
// device to the owner over the service bus (commands, subscriptions, delivery reports, replies,
// deletions); the owner writes commands to sessions through the bus too, so a command reaches a
// device whichever process holds its session.
// The lease has no TTL: it is valid while its holder is alive on the bus (heartbeat). A lease of a
// dead process, or one held in this process's name from before a restart, is taken over, and the
// device's open persistent RPCs are loaded from Redis. The owner lets go of the lease once nothing
// has been pending for the device for ownerIdleMs, so ownership follows the work and memory stays
// bounded, while a device that gets commands often costs no lease round trips per command. Every
// process also looks periodically (recoveryIntervalMs) at the devices with open persistent RPCs and
// takes over those whose owner is gone (beyond-thingsboard #1).
//
// Within a process every operation of one device runs in turn (a promise chain per device), so the
// actor never sees two operations at once, and lease decisions for a device are never concurrent
// in one process.
import type { TbMsg } from '../msg/tb-msg.js';
import type { ServiceBus } from '../queue/service-bus.js';
import type { RedisClient } from '../store/redis-client.js';
import type { Store } from '../store/store.js';
import { SESSION_CLOSE_TOPIC, type SessionRegistry } from '../transport/session-registry.js';
import type { DeviceRpcListener, DeviceSession, RpcDeliveryStatus, ToDeviceRpcRequest } from '../transport/transport-api.js';
import {
  TOPIC_DEVICE_OP,
  TOPIC_OUTCOME,
  TOPIC_REST_OUTCOME,
  TOPIC_SESSION_REPLY,
  TOPIC_SESSION_SEND,
  type DeviceOp,
  type DeviceOpMsg,
  type OutcomeMsg,
  type SessionRef,
  type SessionReplyMsg,
  type SessionSendMsg,
} from './bus-topics.js';
import { ClientRpcGuard, type ClientRpcRef } from './client-rpc-guard.js';
import { DeviceRpcActor, type ActorHost } from './device-rpc-actor.js';
import type { DeviceRpcApi } from './device-rpc-api.js';
import { OutcomeWaiters } from './outcome-waiters.js';
import { rpcEventMsg, storeRouteResolver, type DeviceRoute, type DeviceRouteResolver } from './rpc-events.js';
import { RpcRepository } from './rpc-repository.js';
import { withRpcDefaults, type RpcSettings } from './rpc-settings.js';
import { isFinalStatus, type Rpc, type RpcOutcome, type RpcStatus, type StoredRpc, type ToDeviceRpc } from './rpc-types.js';

/** Forwards of one operation before it is given up (ownership moving back and forth). */
const MAX_HOPS = 5;

/**
 * How long an operation on a device (a command, its reply, a delivery report, a subscription) is
 * tried again while Redis fails, before it is given up (a reply is then refused to the device,
 * which sends it again; a command's caller hears INTERNAL). A Redis restart takes seconds, and
 * ioredis reconnects up to 2 s after it.
 */
export const REDIS_WAIT_MS = 15_000;
/** Pause between two tries of an operation that failed on Redis, and before a failed timer task runs again. */
const REDIS_RETRY_PAUSE_MS = 250;

export interface RpcLogger {
  info(text: string): void;
  warn(text: string): void;
}

export interface DeviceRpcServiceOptions {
  readonly redis: RedisClient;
  /** Started before start() is called. */
  readonly bus: ServiceBus;
  /** This process's session registry (every process has one; transports register sessions in it). */
  readonly sessions: SessionRegistry;
  /** Durably queues a rule-engine message (the RPC_* events). */
  readonly toRuleEngine: (msg: TbMsg) => Promise<void>;
  /** Chain and queue of a device's messages; default from `store` (device profile), else none. */
  readonly routeOf?: DeviceRouteResolver;
  readonly store?: Store;
  readonly settings?: Partial<RpcSettings>;
  /** Key prefix, the store's (default 'rc'). */
  readonly keyPrefix?: string;
  readonly logger?: RpcLogger;
  /** Told of every persistent-RPC status change (a metrics counter). */
  readonly onStatus?: (status: RpcStatus) => void;
  readonly now?: () => number;
  /** How long an operation on a device is tried again while Redis fails (default REDIS_WAIT_MS). */
  readonly redisWaitMs?: number;
}

/** One device's turn-taking and, while this process owns it, its actor. */
interface Slot {
  actor: DeviceRpcActor | undefined;
  tail: Promise<void>;
  queued: number;
  /** Lets go of the idle actor when it fires (settings.ownerIdleMs). */
  idleTimer?: NodeJS.Timeout;
  /** The actor got a command: more are likely to come here, so it is kept while idle. */
  commanded?: boolean;
  /** bus.continuity when the lease was last known to be ours. */
  leaseCheckedAt?: number;
}

type Ownership = { readonly kind: 'mine' } | { readonly kind: 'forward'; readonly to: string } | { readonly kind: 'skip' };

const NO_ROUTE: DeviceRoute = { ruleChainId: null, queueName: null };

export class DeviceRpcService implements DeviceRpcListener, DeviceRpcApi {
  readonly settings: RpcSettings;
  readonly repo: RpcRepository;
  readonly clientRpc: ClientRpcGuard;
  private readonly waiters = new OutcomeWaiters();
  private readonly slots = new Map<string, Slot>();
  private readonly host: ActorHost;
  private readonly log: RpcLogger;
  private readonly routeOf: DeviceRouteResolver;
  private readonly now: () => number;
  private readonly offs: (() => void)[] = [];
  private emitTail: Promise<void> = Promise.resolve();
  private recoveryTimer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly opts: DeviceRpcServiceOptions) {
    this.settings = withRpcDefaults(opts.settings);
    this.repo = new RpcRepository(opts.redis, opts.keyPrefix ?? opts.store?.keys.prefix ?? 'rc');
    this.log = opts.logger ?? { info: () => undefined, warn: (t) => console.error(t) };
    this.now = opts.now ?? Date.now;
    this.routeOf = opts.routeOf ?? (opts.store ? storeRouteResolver(opts.store) : () => Promise.resolve(NO_ROUTE));
    this.clientRpc = new ClientRpcGuard({
      redis: opts.redis,
      keys: this.repo.keys,
      enabled: this.settings.answerUnrepliedClientRpc,
      ttlMs: this.settings.clientRpcMarkTtlMs,
      reply: (ref, requestId, payload) => this.deliverClientReply(ref, requestId, payload),
    });
    this.host = {
      settings: this.settings,
      repo: this.repo,
      now: () => this.now(),
      log: this.log,
      sendToSession: (deviceId, session, request) => this.sendToSession(deviceId, session, request),
      subscribedSessions: async (deviceId) =>
        (await this.opts.sessions.locateAll(deviceId))
          .filter((s) => s.rpcSubscribed)
          .map((s) => ({ sessionId: s.sessionId, serviceId: s.serviceId, protocol: s.protocol })),
      closeDeviceSessions: (deviceId, reason) => this.closeDeviceSessions(deviceId, reason),
      answer: (replyTo, outcome) => this.answer(replyTo, outcome),
      emit: (rpc) => this.emit(rpc),
      schedule: (actor, delayMs, task) => setTimeout(() => this.runTimerTask(actor, task), delayMs),
    };
  }

  get serviceId(): string {
    return this.opts.bus.serviceId;
  }

  /** Listens on the bus and starts recovering devices whose owner is gone (at once, then periodically). */
  async start(): Promise<void> {
    const bus = this.opts.bus;
    this.offs.push(
      bus.on<DeviceOpMsg>(TOPIC_DEVICE_OP, (m) => this.submit(m)),
      bus.on<SessionSendMsg>(TOPIC_SESSION_SEND, (m) => this.onSessionSend(m)),
      bus.on<SessionReplyMsg>(TOPIC_SESSION_REPLY, (m) => this.opts.sessions.local(m.sessionId)?.sendToServerRpcResponse(m.requestId, m.payload)),
      bus.on<OutcomeMsg>(TOPIC_OUTCOME, (m) => void this.waiters.complete(m.id, m.outcome)),
    );
    await this.recoverNow();
    if (this.settings.recoveryIntervalMs > 0) {
      this.recoveryTimer = setInterval(() => void this.recoverNow(), this.settings.recoveryIntervalMs);
      this.recoveryTimer.unref();
    }
  }

  /**
   * Stops. `release` (default): lets go of every device lease so that another process recovers the
   * persistent RPCs at once; lightweight commands pending here are lost (their callers time out).
   * `release: false` leaves the leases as a crash would (tests).
   */
  async close(opts: { release?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.recoveryTimer);
    for (const off of this.offs.splice(0)) off();
    await this.scanning;
    await Promise.all([...this.slots.values()].map((s) => s.tail));
    for (const [deviceId, slot] of this.slots) {
      clearTimeout(slot.idleTimer);
      slot.actor?.dispose();
      if (slot.actor && opts.release !== false) await this.repo.releaseOwnership(deviceId, this.serviceId).catch(() => undefined);
      slot.actor = undefined;
    }
    this.slots.clear();
    this.waiters.failAll('TIMEOUT');
    await this.emitTail;
  }

  // ---- DeviceRpcApi (rule nodes)

  sendToDevice(request: ToDeviceRpc): Promise<RpcOutcome> {
    const outcome = this.waiters.wait(request.id, request.expirationTime, this.now());
    void this.submit({ deviceId: request.deviceId, op: { kind: 'request', rpc: request, replyTo: this.serviceId }, hops: 0 });
    return outcome;
  }

  async sendToServerRpcReply(serviceId: string, sessionId: string, requestId: number, payload: string): Promise<void> {
    const ref: ClientRpcRef = { serviceId, sessionId, requestId: String(requestId) };
    await this.clientRpc.markReplied(ref).catch((e: unknown) => this.log.warn(`rpc: marking client request replied: ${String(e)}`));
    await this.deliverClientReply(ref, requestId, payload);
  }

  async answerRestCall(originServiceId: string, requestUUID: string, outcome: RpcOutcome): Promise<void> {
    await this.opts.bus.send(originServiceId, TOPIC_REST_OUTCOME, { id: requestUUID, outcome } satisfies OutcomeMsg);
  }

  expectClientRpcContinuation(msg: TbMsg, nextMsgId: string): Promise<void> {
    return this.clientRpc.expectContinuation(msg, nextMsgId);
  }

  // ---- for the rule-engine consumer (beyond-thingsboard #6)

  /** Call when a message's processing ended for good (see client-rpc-guard.ts). */
  answerUnrepliedClientRpc(msg: TbMsg): Promise<boolean> {
    return this.clientRpc.answerUnreplied(msg).catch((e: unknown) => {
      this.log.warn(`rpc: answering unreplied client request: ${String(e)}`);
      return false;
    });
  }

  /** Call when a message is queued to continue later (the runtime's enqueue). */
  noteClientRpcContinuation(msg: TbMsg): Promise<void> {
    return this.clientRpc.noteContinuation(msg).catch((e: unknown) => this.log.warn(`rpc: noting continuation: ${String(e)}`));
  }

  // ---- for the REST API (persistent RPCs)

  /**
   * DELETE /api/rpc/persistent/{rpcId}: removes the stored RPC, cancels any pending send or retry
   * (beyond-thingsboard #9) and emits RPC_DELETED. Resolves with what was stored, or null.
   */
  async deleteRpc(rpcId: string): Promise<StoredRpc | null> {
    const removed = await this.repo.delete(rpcId);
    if (!removed) return null;
    const rpc = removed.rpc;
    if (!isFinalStatus(rpc.status, rpc.request.oneway)) await this.submit({ deviceId: rpc.deviceId.id, op: { kind: 'remove', rpcId }, hops: 0 });
    this.emit({ ...rpc, status: 'DELETED' });
    return removed;
  }

  // ---- DeviceRpcListener (transports of this process)

  onRpcSubscribe(session: DeviceSession): void {
    this.fromSession(session, { kind: 'subscribe', session: this.refOf(session) });
  }

  onRpcUnsubscribe(session: DeviceSession): void {
    this.fromSession(session, { kind: 'unsubscribe', session: this.refOf(session) });
  }

  onRpcDeliveryStatus(session: DeviceSession, requestId: number, status: RpcDeliveryStatus): void {
    this.fromSession(session, { kind: 'status', session: this.refOf(session), requestId, status });
  }

  /** Resolves once the reply is stored (this process owns the device) or in the owner's inbox; rejects when neither could be done. */
  onRpcResponse(session: DeviceSession, requestId: number, payload: string): Promise<void> {
    const m: DeviceOpMsg = { deviceId: session.device.deviceId, op: { kind: 'response', session: this.refOf(session), requestId, payload }, hops: 0 };
    if (this.closed) return Promise.reject(new Error('the device RPC service is stopping'));
    return new Promise<void>((resolve, reject) => {
      void this.run(m.deviceId, (slot) =>
        this.applyPatiently(slot, m, resolve).then(resolve, (e: unknown) => {
          reject(e instanceof Error ? e : new Error(String(e)));
          throw e;
        }),
      );
    });
  }

  onRpcError(session: DeviceSession, requestId: number, error: string): void {
    this.fromSession(session, { kind: 'error', session: this.refOf(session), requestId, error });
  }

  onSessionClosed(session: DeviceSession): void {
    this.fromSession(session, { kind: 'sessionClosed', session: this.refOf(session) });
  }

  private refOf(session: DeviceSession): SessionRef {
    return { sessionId: session.sessionId, serviceId: this.serviceId, protocol: session.protocol };
  }

  private fromSession(session: DeviceSession, op: DeviceOp): void {
    void this.submit({ deviceId: session.device.deviceId, op, hops: 0 });
  }

  // ---- ownership and turn-taking

  /** Runs an operation for a device here if this process owns it (or takes it), else forwards it. */
  private submit(m: DeviceOpMsg): Promise<void> {
    if (this.closed) {
      if (m.op.kind === 'request') this.answer(m.op.replyTo, { rpcId: m.op.rpc.id, response: null, error: 'INTERNAL' });
      return Promise.resolve();
    }
    return this.run(m.deviceId, (slot) =>
      this.applyPatiently(slot, m).catch((e: unknown) => {
        // Redis failed for too long: the caller hears INTERNAL now (a waiter already answered ignores it).
        if (m.op.kind === 'request') this.answer(m.op.replyTo, { rpcId: m.op.rpc.id, response: null, error: 'INTERNAL' });
        throw e;
      }),
    );
  }

  /** Runs `task` in the device's turn; afterwards lets the device go when nothing is pending. */
  private run(deviceId: string, task: (slot: Slot) => Promise<void>): Promise<void> {
    let slot = this.slots.get(deviceId);
    if (!slot) {
      slot = { actor: undefined, tail: Promise.resolve(), queued: 0 };
      this.slots.set(deviceId, slot);
    }
    const s = slot;
    s.queued++;
    const next = s.tail.then(async () => {
      try {
        await task(s);
        if (s.actor?.idle) await this.releaseWhenIdle(deviceId, s);
      } catch (e) {
        this.log.warn(`rpc: device ${deviceId}: ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        s.queued--;
        if (s.queued === 0 && !s.actor && this.slots.get(deviceId) === s) this.slots.delete(deviceId);
      }
    });
    s.tail = next;
    return next;
  }

  /**
   * apply(), tried again while Redis fails (bounded by REDIS_WAIT_MS): dropping a device's report
   * would lose an acknowledged reply or subscription, and dropping a command one the RPC node has
   * already acknowledged. The actor writes to Redis before it forgets anything, so a failed try
   * leaves it ready for the next (a command stored by a try whose reply was lost is taken up by the
   * next). A recovery scan is tried once: it comes again anyway.
   */
  private async applyPatiently(slot: Slot, m: DeviceOpMsg, replyStored?: () => void): Promise<void> {
    if (m.op.kind === 'recover') return this.apply(slot, m);
    const until = this.now() + (this.opts.redisWaitMs ?? REDIS_WAIT_MS);
    for (;;) {
      try {
        await this.apply(slot, m, replyStored);
        return;
      } catch (e) {
        if (this.closed || this.now() + REDIS_RETRY_PAUSE_MS > until) throw e;
        await new Promise((resolve) => setTimeout(resolve, REDIS_RETRY_PAUSE_MS));
      }
    }
  }

  /** A timer of an actor (expiry, re-send, reply wait), in the device's turn; run again shortly if Redis failed it. */
  private runTimerTask(actor: DeviceRpcActor, task: () => Promise<void>): void {
    void this.run(actor.deviceId, async (slot) => {
      if (slot.actor !== actor) return;
      try {
        await task();
      } catch (e) {
        if (!this.closed) setTimeout(() => this.runTimerTask(actor, task), REDIS_RETRY_PAUSE_MS);
        throw e;
      }
    });
  }

  /** `replyStored`: for a reply, told as soon as it is stored, before what follows (the next command). */
  private async apply(slot: Slot, m: DeviceOpMsg, replyStored?: () => void): Promise<void> {
    const { deviceId, op } = m;
    let actor = slot.actor;
    // A kept owner with nothing pending makes sure the lease is still its own before it acts when
    // this process may have looked dead meanwhile (Redis lost, a late heartbeat): another process
    // may then have taken the device over, and a stale actor would send commands whose replies go
    // to the new owner. Otherwise the lease cannot have moved, and no Redis read is spent on it.
    const continuity = this.opts.bus.continuity;
    if (actor?.idle && slot.leaseCheckedAt !== continuity) {
      if ((await this.repo.ownerOf(deviceId)) === this.serviceId) slot.leaseCheckedAt = continuity;
      else {
        this.log.warn(`rpc: device ${deviceId}: another process took it over; this process's kept state is dropped`);
        clearTimeout(slot.idleTimer);
        actor.dispose();
        slot.actor = actor = undefined;
        slot.commanded = false;
      }
    }
    if (!actor) {
      const own = await this.ownership(deviceId, op);
      if (own.kind === 'skip') return;
      if (own.kind === 'forward') {
        if (m.hops >= MAX_HOPS) {
          this.log.warn(`rpc: device ${deviceId}: ${op.kind} dropped after ${m.hops} forwards`);
          if (op.kind === 'request') this.answer(op.replyTo, { rpcId: op.rpc.id, response: null, error: 'INTERNAL' });
          return;
        }
        if (await this.opts.bus.send(own.to, TOPIC_DEVICE_OP, { ...m, hops: m.hops + 1 } satisfies DeviceOpMsg)) return;
        // The owner died just now: try again, which takes its lease over.
        await this.apply(slot, { ...m, hops: m.hops + 1 }, replyStored);
        return;
      }
      actor = new DeviceRpcActor(deviceId, this.host);
      slot.actor = actor;
      slot.leaseCheckedAt = continuity;
      try {
        await actor.load();
      } catch (e) {
        // Half-loaded state must not be used: the next operation loads again.
        actor.dispose();
        slot.actor = undefined;
        throw e;
      }
      // A recovery scan found the device on the open list: let release() check that list.
      if (op.kind === 'recover') actor.hadPersistent = true;
      // What was open before goes out now; a subscription does that itself.
      if (op.kind !== 'subscribe') await actor.resume();
    }
    if (op.kind === 'request') slot.commanded = true;
    await this.dispatch(actor, op, replyStored);
  }

  private async dispatch(actor: DeviceRpcActor, op: DeviceOp, replyStored?: () => void): Promise<void> {
    switch (op.kind) {
      case 'request':
        return actor.onRequest(op.rpc, op.replyTo);
      case 'remove':
        return actor.onRemove(op.rpcId);
      case 'subscribe':
        return actor.onSubscribe(op.session);
      case 'unsubscribe':
        return actor.onUnsubscribe(op.session);
      case 'sessionClosed':
        return actor.onSessionClosed(op.session);
      case 'status':
        return actor.onStatus(op.session, op.requestId, op.status);
      case 'response':
        return actor.onResponse(op.requestId, op.payload, replyStored);
      case 'error':
        return actor.onError(op.requestId, op.error);
      case 'recover':
        return;
    }
  }

  /**
   * Who handles `op` for a device this process has no actor for: this process (lease free, ours
   * from before a restart, or its holder dead), the live holder, or nobody (nothing to update).
   */
  private async ownership(deviceId: string, op: DeviceOp): Promise<Ownership> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const owner = await this.repo.ownerOf(deviceId);
      if (owner === null) {
        // Without an owner nothing is pending in memory anywhere: these change nothing.
        // A late delivery report (MQTT.js may PUBACK after its reply) is one too.
        if (op.kind === 'unsubscribe' || op.kind === 'sessionClosed' || op.kind === 'remove' || op.kind === 'status') return { kind: 'skip' };
        // A subscription with nothing open to send needs no owner: the registry has it for the next
        // one. Taking the lease here would route a command coming meanwhile to this process (a
        // transport), which then keeps it and may die with it, long before anyone recovers it.
        if (op.kind === 'subscribe' && !(await this.repo.hasOpen(deviceId))) return { kind: 'skip' };
        if (await this.repo.takeOwnership(deviceId, this.serviceId, null)) return { kind: 'mine' };
        continue;
      }
      if (owner === this.serviceId) return { kind: 'mine' };
      if (await this.opts.bus.isAlive(owner)) return op.kind === 'recover' ? { kind: 'skip' } : { kind: 'forward', to: owner };
      if (await this.repo.takeOwnership(deviceId, this.serviceId, owner)) {
        this.log.info(`rpc: device ${deviceId}: taking over from ${owner}, which is gone`);
        return { kind: 'mine' };
      }
    }
    this.log.warn(`rpc: device ${deviceId}: could not settle its owner; ${op.kind} dropped`);
    if (op.kind === 'request') this.answer(op.replyTo, { rpcId: op.rpc.id, response: null, error: 'INTERNAL' });
    return { kind: 'skip' };
  }

  /** Lets go of an idle device after ownerIdleMs if nothing comes meanwhile: a busy device costs no lease round trips per command. */
  private async releaseWhenIdle(deviceId: string, slot: Slot): Promise<void> {
    clearTimeout(slot.idleTimer);
    slot.idleTimer = undefined;
    // Only a device that gets commands here is kept: one taken for a subscription goes at once, so
    // the process that sends the commands (the rule engine) becomes the owner.
    if (this.settings.ownerIdleMs <= 0 || this.closed || !slot.commanded) return this.release(deviceId, slot);
    const actor = slot.actor;
    slot.idleTimer = setTimeout(() => {
      void this.run(deviceId, async (s) => {
        if (s.actor === actor && actor?.idle) await this.release(deviceId, s);
      });
    }, this.settings.ownerIdleMs);
    slot.idleTimer.unref();
  }

  private async release(deviceId: string, slot: Slot): Promise<void> {
    const actor = slot.actor;
    if (!actor) return;
    actor.dispose();
    slot.actor = undefined;
    slot.commanded = false;
    if (actor.hadPersistent) await this.repo.dropOpenDevice(deviceId);
    await this.repo.releaseOwnership(deviceId, this.serviceId);
  }

  /** Devices with open persistent RPCs whose owner is gone: take them over (one scan at a time). */
  recoverNow(): Promise<void> {
    this.scanning ??= (async () => {
      try {
        let cursor = '0';
        do {
          const [next, ids] = await this.repo.devicesWithOpen(cursor);
          cursor = next;
          await Promise.all(ids.filter((id) => !this.slots.get(id)?.actor).map((id) => this.submit({ deviceId: id, op: { kind: 'recover' }, hops: 0 })));
        } while (cursor !== '0' && !this.closed);
      } catch (e) {
        this.log.warn(`rpc: recovery scan: ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        this.scanning = undefined;
      }
    })();
    return this.scanning;
  }

  /** This process owns the device's RPC state right now (tests, diagnostics). */
  owns(deviceId: string): boolean {
    return this.slots.get(deviceId)?.actor !== undefined;
  }

  /** Waits until every queued operation of every device has run (tests). */
  async settle(): Promise<void> {
    while ([...this.slots.values()].some((s) => s.queued > 0)) await Promise.all([...this.slots.values()].map((s) => s.tail));
    await this.emitTail;
  }

  // ---- sessions, here or elsewhere

  private async sendToSession(deviceId: string, session: SessionRef, request: ToDeviceRpcRequest): Promise<boolean> {
    if (session.serviceId !== this.serviceId) {
      return this.opts.bus.send(session.serviceId, TOPIC_SESSION_SEND, { deviceId, sessionId: session.sessionId, request, owner: this.serviceId } satisfies SessionSendMsg);
    }
    const local = this.opts.sessions.local(session.sessionId);
    if (!local) return false;
    local.sendRpcRequest(request);
    return true;
  }

  /** A command from the owner for a session of this process; tells the owner when the session is gone. */
  private async onSessionSend(m: SessionSendMsg): Promise<void> {
    const local = this.opts.sessions.local(m.sessionId);
    if (local) {
      local.sendRpcRequest(m.request);
      return;
    }
    const gone: DeviceOpMsg = { deviceId: m.deviceId, op: { kind: 'sessionClosed', session: { sessionId: m.sessionId, serviceId: this.serviceId, protocol: 'mqtt' } }, hops: 0 };
    await this.opts.bus.send(m.owner, TOPIC_DEVICE_OP, gone);
  }

  private async closeDeviceSessions(deviceId: string, reason: string): Promise<void> {
    for (const loc of await this.opts.sessions.locateAll(deviceId)) {
      if (loc.serviceId === this.serviceId) this.opts.sessions.local(loc.sessionId)?.close(reason);
      else await this.opts.bus.send(loc.serviceId, SESSION_CLOSE_TOPIC, { deviceId, sessionId: loc.sessionId, reason });
    }
  }

  private async deliverClientReply(ref: ClientRpcRef, requestId: number, payload: string): Promise<void> {
    if (ref.serviceId === this.serviceId) {
      this.opts.sessions.local(ref.sessionId)?.sendToServerRpcResponse(requestId, payload);
      return;
    }
    // false (that transport is gone) is the silent drop of §8.2.
    await this.opts.bus.send(ref.serviceId, TOPIC_SESSION_REPLY, { sessionId: ref.sessionId, requestId, payload } satisfies SessionReplyMsg);
  }

  // ---- answers and events

  private answer(replyTo: string, outcome: RpcOutcome): void {
    if (replyTo === this.serviceId) {
      this.waiters.complete(outcome.rpcId, outcome);
      return;
    }
    this.opts.bus.send(replyTo, TOPIC_OUTCOME, { id: outcome.rpcId, outcome } satisfies OutcomeMsg).catch((e: unknown) => {
      this.log.warn(`rpc: answering ${outcome.rpcId} to ${replyTo}: ${String(e)}`);
    });
  }

  /** Queues RPC_<STATUS> in the order the changes happened. */
  private emit(rpc: Rpc): void {
    this.opts.onStatus?.(rpc.status);
    this.emitTail = this.emitTail.then(async () => {
      try {
        const route = await this.routeOf(rpc.tenantId.id, rpc.deviceId.id).catch(() => NO_ROUTE);
        await this.opts.toRuleEngine(rpcEventMsg(rpc, rpc.status, route));
      } catch (e) {
        this.log.warn(`rpc: RPC_${rpc.status} event of ${rpc.id.id} not queued: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
  }
}
