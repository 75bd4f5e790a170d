// One device's server-side RPC state, as ThingsBoard's device actor keeps it (spec/rpc.md §5): the
// pending commands in arrival order, the sessions listening for commands, the submit strategy, the
// delivery retries and the expiry. Only the device's owner process has one (device-rpc-service.ts),
// and it calls one method at a time: no method runs while another is awaiting.
//
// Where rpc-chains differs from ThingsBoard (spec/beyond-thingsboard.md):
//  - #2 a delivery TIMEOUT re-sends after a bounded backoff in every strategy (not only on resubscribe);
//  - #3 a lightweight RPC whose retries run out answers its caller at once;
//  - #8 a reply above maxResponseBytes fails the RPC with the reason;
//  - #9 a deleted RPC is dropped here, and a persistent one is checked in Redis before each send;
//  - #1 load() resumes every open persistent RPC after a restart, not only QUEUED ones.
// A (re)subscribing session gets the commands not yet delivered; ThingsBoard's BURST also repeats
// delivered two-way commands still awaiting their reply, which only makes duplicates.
import type { ToDeviceRpcRequest } from '../transport/transport-api.js';
import type { SessionRef } from './bus-topics.js';
import type { RpcRepository } from './rpc-repository.js';
import { retryBackoff, type RpcSettings } from './rpc-settings.js';
import { isFinalStatus, requestOf, rpcEntity, storedResponse, type Rpc, type RpcError, type RpcOutcome, type RpcStatus, type StoredRpc, type ToDeviceRpc } from './rpc-types.js';
import type { JsonValue } from '../store/json.js';

/** What the actor needs from its process. */
export interface ActorHost {
  readonly settings: RpcSettings;
  readonly repo: RpcRepository;
  now(): number;
  /** Hands a command to a session (here or on another process); false when that session's process is gone. */
  sendToSession(deviceId: string, session: SessionRef, request: ToDeviceRpcRequest): Promise<boolean>;
  /** Every live session of the device that listens for commands (recovery). */
  subscribedSessions(deviceId: string): Promise<SessionRef[]>;
  /** Closes every session of the device, wherever it is (close-session-on-delivery-timeout). */
  closeDeviceSessions(deviceId: string, reason: string): Promise<void>;
  /** Gives a caller its outcome: `replyTo` is the service id of the process it waits in. */
  answer(replyTo: string, outcome: RpcOutcome): void;
  /** The RPC_<STATUS> rule-engine message of a stored change. */
  emit(rpc: Rpc): void;
  /** Runs `task` after `delayMs` in the device's turn, if this actor still owns the device then. */
  schedule(actor: DeviceRpcActor, delayMs: number, task: () => Promise<void>): NodeJS.Timeout;
  readonly log: { warn(text: string): void };
}

/** One pending command (ThingsBoard's ToDeviceRpcRequestMetadata, plus what retries need). */
interface PendingRpc {
  readonly rpc: ToDeviceRpc;
  readonly requestId: number;
  /** Who waits for the outcome; null once answered (persistent: at once with {"rpcId"}). */
  replyTo: string | null;
  /** Written to some session at least once (expiry then answers TIMEOUT, not NO_ACTIVE_CONNECTION). */
  sent: boolean;
  delivered: boolean;
  /** Delivery timeouts so far. */
  attempts: number;
  /** The last stored status (persistent only). */
  status: RpcStatus;
  /** Sessions that were sent the command and have not reported its delivery yet. */
  readonly inFlight: Set<string>;
  expiryTimer?: NodeJS.Timeout;
  retryTimer?: NodeJS.Timeout;
}

export const RETRIES_EXHAUSTED = (n: number) => `There was a Timeout and all retry attempts have been exhausted. Retry attempts set: ${n}`;
export const RESPONSE_AWAIT_TIMEOUT = 'There was a timeout awaiting for RPC response from device.';
export const CLOSE_SESSION_REASON = 'RPC delivery timeout (ADMINISTRATIVE_ACTION)';

/** How old the actor's list of listening sessions may be when a new command comes. */
const SESSIONS_REFRESH_MS = 5_000;

export class DeviceRpcActor {
  private readonly pending = new Map<number, PendingRpc>();
  private readonly subs = new Map<string, SessionRef>();
  /** When `subs` was last taken from the registry. */
  private sessionsReadAt = 0;
  private awaitTimer: { readonly requestId: number; readonly timer: NodeJS.Timeout } | undefined;
  /** Had persistent RPCs: on release, the device may leave the open-devices list. */
  hadPersistent = false;
  private disposed = false;

  constructor(
    readonly deviceId: string,
    private readonly host: ActorHost,
  ) {}

  /** Nothing pending: the owner can let the device go. */
  get idle(): boolean {
    return this.pending.size === 0;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Request ids pending, in order (tests, diagnostics). */
  pendingIds(): number[] {
    return [...this.pending.keys()];
  }

  private get strategy(): RpcSettings['submitStrategy'] {
    return this.host.settings.submitStrategy;
  }

  /**
   * Takes the device over: its subscribed sessions from the session registry, its open persistent
   * RPCs from Redis (expired ones become EXPIRED). Returns whether anything is pending.
   */
  async load(): Promise<boolean> {
    for (const s of await this.host.subscribedSessions(this.deviceId)) this.subs.set(s.sessionId, s);
    this.sessionsReadAt = this.host.now();
    const now = this.host.now();
    for (const stored of await this.host.repo.openOf(this.deviceId)) {
      this.hadPersistent = true;
      const rpc = stored.rpc;
      if (rpc.expirationTime <= now) {
        await this.store(rpc.id.id, 'EXPIRED');
        continue;
      }
      this.track(stored);
    }
    return this.pending.size > 0;
  }

  /** Holds a stored open RPC in memory, with its expiry. */
  private track(stored: StoredRpc): PendingRpc {
    const rpc = stored.rpc;
    const entry: PendingRpc = {
      rpc: requestOf(rpc),
      requestId: stored.requestId,
      replyTo: null,
      sent: rpc.status !== 'QUEUED',
      delivered: rpc.status === 'DELIVERED',
      attempts: stored.attempts,
      status: rpc.status,
      inFlight: new Set(),
    };
    this.pending.set(entry.requestId, entry);
    this.armExpiry(entry);
    return entry;
  }

  /**
   * The same requestUUID again while nothing here holds its RPC: its creation's reply was lost and
   * ioredis ran the creation again (Redis crashed at that moment), or it was left behind by an
   * actor that failed. Open and unexpired, it is taken up now instead of waiting, unsent, for the
   * next change of owner.
   */
  private async takeUpStored(rpcId: string): Promise<void> {
    if ([...this.pending.values()].some((e) => e.rpc.id === rpcId)) return;
    const stored = await this.host.repo.getOnDevice(this.deviceId, rpcId);
    if (!stored || isFinalStatus(stored.rpc.status, stored.rpc.request.oneway) || stored.rpc.expirationTime <= this.host.now()) return;
    const canSend = this.canSendNew();
    const entry = this.track(stored);
    if (this.strategy !== 'BURST') await this.sendNext(true);
    else if (canSend && !entry.delivered && this.subs.size > 0) await this.sendTo(entry, [...this.subs.values()]);
  }

  /** After load(): sends what can go now, as a subscription would. */
  async resume(): Promise<void> {
    if (this.strategy === 'BURST') {
      for (const s of [...this.subs.values()]) await this.deliverPendingTo(s);
    } else {
      await this.sendNext(false);
    }
  }

  // ---- a new command (§5.2)

  async onRequest(rpc: ToDeviceRpc, replyTo: string): Promise<void> {
    const requestId = await this.host.repo.nextRequestId(this.deviceId);
    const now = this.host.now();
    if (rpc.expirationTime - now <= 0) {
      // ThingsBoard stores it EXPIRED and answers nobody; the caller's fallback timer says TIMEOUT.
      if (rpc.persisted) await this.createStored(rpc, requestId, 'EXPIRED', now);
      return;
    }
    if (rpc.persisted) {
      this.hadPersistent = true;
      if (!(await this.createStored(rpc, requestId, 'QUEUED', now))) {
        // Same requestUUID again: the RPC already exists, answer as for the first call.
        this.host.answer(replyTo, persistentAnswer(rpc.id));
        await this.takeUpStored(rpc.id);
        return;
      }
    }
    await this.refreshSessionsIfStale(now);
    const canSend = this.canSendNew();
    const entry: PendingRpc = {
      rpc,
      requestId,
      replyTo: rpc.persisted ? null : replyTo,
      sent: false,
      delivered: false,
      attempts: 0,
      status: 'QUEUED',
      inFlight: new Set(),
    };
    this.pending.set(requestId, entry);
    if (rpc.persisted) this.host.answer(replyTo, persistentAnswer(rpc.id));
    const sent = canSend && this.subs.size > 0 && (await this.sendTo(entry, [...this.subs.values()]));
    if (!this.pending.has(requestId)) return;
    if (!rpc.persisted && rpc.oneway && sent && this.strategy === 'BURST') {
      this.pending.delete(requestId);
      this.answer(entry, { response: null, error: null });
      return;
    }
    this.armExpiry(entry);
  }

  /** §5.5: may a new command go out at once? */
  private canSendNew(): boolean {
    switch (this.strategy) {
      case 'SEQUENTIAL_ON_ACK_FROM_DEVICE':
        return [...this.pending.values()].every((e) => e.delivered);
      case 'SEQUENTIAL_ON_RESPONSE_FROM_DEVICE':
        return this.pending.size === 0;
      default:
        return true;
    }
  }

  // ---- sessions (§5.3, §5.10)

  async onSubscribe(session: SessionRef): Promise<void> {
    this.subs.set(session.sessionId, session);
    if (this.strategy === 'BURST') {
      await this.deliverPendingTo(session);
      return;
    }
    // A new subscription is usually a reconnect: what was in flight on the old session goes again.
    const next = this.firstEligible(false);
    if (next) {
      this.clearRetry(next);
      await this.sendTo(next, [session]);
    }
  }

  onUnsubscribe(session: SessionRef): void {
    this.subs.delete(session.sessionId);
  }

  async onSessionClosed(session: SessionRef): Promise<void> {
    this.subs.delete(session.sessionId);
    // Its acknowledgements will not come: those commands are no longer in flight.
    for (const e of this.pending.values()) e.inFlight.delete(session.sessionId);
    await this.sendNext(true);
  }

  /** BURST: every command not yet delivered (a SYNC session, HTTP long poll, takes one). */
  private async deliverPendingTo(session: SessionRef): Promise<void> {
    for (const entry of [...this.pending.values()]) {
      if (entry.delivered || entry.inFlight.has(session.sessionId) || !this.subs.has(session.sessionId)) continue;
      this.clearRetry(entry);
      const sent = await this.sendTo(entry, [session]);
      if (sent && !entry.rpc.persisted && entry.rpc.oneway && this.pending.has(entry.requestId)) {
        this.drop(entry);
        this.answer(entry, { response: null, error: null });
      }
    }
  }

  // ---- what the transports report (§5.4, §5.6)

  async onStatus(session: SessionRef, requestId: number, status: 'SENT' | 'DELIVERED' | 'TIMEOUT'): Promise<void> {
    const entry = this.pending.get(requestId);
    if (!entry) return;
    if (status === 'SENT') {
      entry.sent = true;
      if (entry.rpc.persisted && (entry.status === 'QUEUED' || entry.status === 'TIMEOUT')) await this.store(entry.rpc.id, 'SENT', entry);
      return;
    }
    entry.inFlight.delete(session.sessionId);
    if (status === 'DELIVERED') {
      this.clearRetry(entry);
      if (entry.rpc.oneway) {
        this.drop(entry);
        this.answer(entry, { response: null, error: null });
      } else {
        entry.delivered = true;
        if (this.strategy === 'SEQUENTIAL_ON_RESPONSE_FROM_DEVICE') this.armAwait(entry);
      }
      if (entry.rpc.persisted && entry.status !== 'DELIVERED') await this.store(entry.rpc.id, 'DELIVERED', entry);
      if (this.strategy === 'SEQUENTIAL_ON_RESPONSE_FROM_DEVICE' && !entry.rpc.oneway) return;
      await this.sendNext(true);
      return;
    }
    // TIMEOUT: no acknowledgement from the device in time. Ignore the echo of a copy sent to
    // another session, or one that comes while a re-send is already scheduled. A session whose
    // process died never reports: it must not hold the re-send back (the device moved on).
    if (entry.inFlight.size > 0 && !entry.delivered && !entry.retryTimer) await this.forgetGoneSessions();
    if (entry.delivered || entry.retryTimer || entry.inFlight.size > 0) return;
    const max = entry.rpc.retries === null ? this.host.settings.maxRetries : Math.min(entry.rpc.retries, this.host.settings.maxRetries);
    if (max <= entry.attempts) {
      if (this.host.settings.closeSessionOnDeliveryTimeout) {
        // §5.6: back to QUEUED, and the device reconnects to get it again.
        entry.attempts = 0;
        if (entry.rpc.persisted) await this.store(entry.rpc.id, 'QUEUED', entry, { attempts: 0 });
        this.subs.clear();
        await this.host.closeDeviceSessions(this.deviceId, CLOSE_SESSION_REASON);
        return;
      }
      // Stored before it is forgotten: if Redis fails, the entry is still here for the retried operation.
      if (entry.rpc.persisted) await this.store(entry.rpc.id, 'FAILED', entry, { response: { error: RETRIES_EXHAUSTED(max) } });
      this.drop(entry);
      this.answer(entry, { response: null, error: 'TIMEOUT' });
      await this.sendNext(true);
      return;
    }
    const attempts = entry.attempts + 1;
    if (entry.rpc.persisted) await this.store(entry.rpc.id, 'TIMEOUT', entry, { attempts });
    entry.attempts = attempts;
    if (!this.pending.has(requestId)) return;
    this.armResend(entry, retryBackoff(this.host.settings, entry.attempts));
  }

  /** Sends the command again after `delayMs` (a delivery TIMEOUT, or a send that failed). */
  private armResend(entry: PendingRpc, delayMs: number): void {
    if (entry.retryTimer) return;
    entry.retryTimer = this.host.schedule(this, delayMs, async () => {
      entry.retryTimer = undefined;
      if (!this.pending.has(entry.requestId)) return;
      if (this.strategy === 'BURST') {
        if (this.subs.size > 0) await this.sendTo(entry, [...this.subs.values()]);
      } else {
        await this.sendNext(true);
      }
    });
  }

  /**
   * Takes the listening sessions from the registry again: drops those no longer registered (their
   * process died without saying so) and adds those whose subscription did not reach this actor
   * (told while Redis was away). A kept actor otherwise lives on what it was told.
   */
  private async forgetGoneSessions(): Promise<void> {
    const listed = await this.host.subscribedSessions(this.deviceId);
    this.sessionsReadAt = this.host.now();
    const live = new Set(listed.map((s) => s.sessionId));
    for (const id of [...this.subs.keys()]) if (!live.has(id)) this.subs.delete(id);
    for (const s of listed) if (!this.subs.has(s.sessionId)) this.subs.set(s.sessionId, s);
    for (const e of this.pending.values()) for (const id of [...e.inFlight]) if (!live.has(id)) e.inFlight.delete(id);
  }

  /** At most every SESSIONS_REFRESH_MS, before a new command: bounds how long a missed (un)subscription matters. */
  private async refreshSessionsIfStale(now: number): Promise<void> {
    if (now - this.sessionsReadAt >= SESSIONS_REFRESH_MS) await this.forgetGoneSessions();
  }

  /** `stored`: told once the reply is stored (or found stale), before the next command goes out. */
  async onResponse(requestId: number, payload: string, stored?: () => void): Promise<void> {
    const size = Buffer.byteLength(payload, 'utf8');
    if (size > this.host.settings.maxResponseBytes) {
      await this.finish(requestId, JSON.stringify({ error: `RPC reply of ${size} bytes exceeds the limit of ${this.host.settings.maxResponseBytes} bytes` }), true, stored);
      return;
    }
    await this.finish(requestId, payload, false, stored);
  }

  /** A transport could not send or convert the command: ThingsBoard's error reply (§5.4). */
  async onError(requestId: number, error: string): Promise<void> {
    await this.finish(requestId, jsonOrErrorObject(error), true);
  }

  private async finish(requestId: number, text: string, failed: boolean, stored?: () => void): Promise<void> {
    const entry = this.pending.get(requestId);
    if (!entry) {
      stored?.();
      return; // stale: answered, expired, or from before a newer command took the id
    }
    const wasDelivered = entry.delivered;
    // Stored before it is forgotten: if Redis fails, the entry stays and the device's reply, sent
    // again (it was not acknowledged), still finds it.
    if (entry.rpc.persisted) await this.store(entry.rpc.id, failed ? 'FAILED' : 'SUCCESSFUL', entry, { response: storedResponse(text) });
    this.drop(entry);
    this.answer(entry, { response: text, error: null });
    // The device may wait for its reply's acknowledgement before it takes the next command.
    stored?.();
    if (this.strategy === 'SEQUENTIAL_ON_RESPONSE_FROM_DEVICE' || !wasDelivered) await this.sendNext(true);
  }

  // ---- timers (§5.7) and removal (§5.8)

  private armExpiry(entry: PendingRpc): void {
    const delay = Math.max(0, entry.rpc.expirationTime - this.host.now());
    entry.expiryTimer = this.host.schedule(this, delay, () => this.onExpire(entry.requestId));
  }

  async onExpire(requestId: number): Promise<void> {
    const entry = this.pending.get(requestId);
    if (!entry) return;
    if (entry.rpc.persisted) await this.store(entry.rpc.id, 'EXPIRED', entry);
    this.drop(entry);
    this.answer(entry, { response: null, error: entry.sent ? 'TIMEOUT' : 'NO_ACTIVE_CONNECTION' });
    await this.sendNext(true);
  }

  private armAwait(entry: PendingRpc): void {
    if (this.awaitTimer) return;
    const requestId = entry.requestId;
    const timer = this.host.schedule(this, this.host.settings.responseTimeoutMs, async () => {
      if (this.awaitTimer?.timer === timer) this.awaitTimer = undefined;
      const e = this.pending.get(requestId);
      if (!e || !e.delivered) return;
      if (e.rpc.persisted) await this.store(e.rpc.id, 'FAILED', e, { response: { error: RESPONSE_AWAIT_TIMEOUT } });
      this.drop(e);
      this.answer(e, { response: null, error: 'TIMEOUT' });
      await this.sendNext(true);
    });
    this.awaitTimer = { requestId, timer };
  }

  /** DELETE /api/rpc/persistent/{rpcId}: forget it, cancel its timers; nobody is answered. */
  async onRemove(rpcId: string): Promise<void> {
    const entry = [...this.pending.values()].find((e) => e.rpc.id === rpcId);
    if (!entry) return;
    this.drop(entry);
    await this.sendNext(true);
  }

  // ---- sequential strategies

  /**
   * The command that goes next: SEQUENTIAL_ON_ACK the first not delivered; SEQUENTIAL_ON_RESPONSE the
   * first pending, unless it is delivered and awaits its reply. `busy`: also wait while it is in
   * flight or its re-send is scheduled.
   */
  private firstEligible(busy: boolean): PendingRpc | undefined {
    let entry: PendingRpc | undefined;
    if (this.strategy === 'SEQUENTIAL_ON_RESPONSE_FROM_DEVICE') {
      entry = this.pending.values().next().value;
      if (entry?.delivered) {
        this.armAwait(entry);
        return undefined;
      }
    } else {
      entry = [...this.pending.values()].find((e) => !e.delivered);
    }
    if (!entry) return undefined;
    if (busy && (entry.inFlight.size > 0 || entry.retryTimer)) return undefined;
    return entry;
  }

  private async sendNext(busy: boolean): Promise<void> {
    if (this.strategy === 'BURST' || this.subs.size === 0) return;
    const next = this.firstEligible(busy);
    if (next) await this.sendTo(next, [...this.subs.values()]);
  }

  // ---- helpers

  /** Writes the command to `sessions`; whether any took it. A SYNC session (HTTP) takes one command. */
  private async sendTo(entry: PendingRpc, sessions: readonly SessionRef[]): Promise<boolean> {
    let exists = true;
    try {
      if (entry.rpc.persisted) exists = await this.host.repo.exists(this.deviceId, entry.rpc.id);
    } catch (e) {
      this.host.log.warn(`rpc: checking ${entry.rpc.id} before sending failed: ${String(e)}; sending again shortly`);
      this.armResend(entry, this.host.settings.retryBackoffMs);
      return false;
    }
    if (!exists) {
      // Deleted meanwhile (beyond-thingsboard #9): never send it again.
      this.drop(entry);
      return false;
    }
    const request: ToDeviceRpcRequest = {
      requestId: entry.requestId,
      method: entry.rpc.method,
      params: entry.rpc.params ?? 'null',
      oneway: entry.rpc.oneway,
      persistent: entry.rpc.persisted,
      expirationTime: entry.rpc.expirationTime,
    };
    let any = false;
    let failed = false;
    for (const s of sessions) {
      if (s.protocol === 'http') this.subs.delete(s.sessionId);
      entry.inFlight.add(s.sessionId);
      let ok: boolean;
      try {
        ok = await this.host.sendToSession(this.deviceId, s, request);
      } catch (e) {
        // Redis or the bus failed, not the session: it stays subscribed, and the command goes again shortly.
        this.host.log.warn(`rpc: sending ${entry.rpc.id} to session ${s.sessionId} failed: ${String(e)}`);
        entry.inFlight.delete(s.sessionId);
        failed = true;
        continue;
      }
      if (ok) {
        any = true;
      } else {
        // That session's process is gone.
        entry.inFlight.delete(s.sessionId);
        this.subs.delete(s.sessionId);
      }
    }
    if (any) entry.sent = true;
    else if (failed) this.armResend(entry, this.host.settings.retryBackoffMs);
    return any;
  }

  private clearRetry(entry: PendingRpc): void {
    if (entry.retryTimer) clearTimeout(entry.retryTimer);
    entry.retryTimer = undefined;
  }

  /** Takes an entry out of the pending map and stops its timers. */
  private drop(entry: PendingRpc): void {
    this.pending.delete(entry.requestId);
    if (entry.expiryTimer) clearTimeout(entry.expiryTimer);
    this.clearRetry(entry);
    if (this.awaitTimer?.requestId === entry.requestId) {
      clearTimeout(this.awaitTimer.timer);
      this.awaitTimer = undefined;
    }
  }

  private answer(entry: PendingRpc, result: { response: string | null; error: RpcError | null }): void {
    if (entry.replyTo === null) return;
    const replyTo = entry.replyTo;
    entry.replyTo = null;
    this.host.answer(replyTo, { rpcId: entry.rpc.id, ...result });
  }

  private async createStored(rpc: ToDeviceRpc, requestId: number, status: RpcStatus, now: number): Promise<boolean> {
    const stored: StoredRpc = { rpc: rpcEntity(rpc, status, now), requestId, attempts: 0 };
    if (!(await this.host.repo.create(stored))) return false;
    this.host.emit(stored.rpc);
    return true;
  }

  /**
   * Stores a status change and emits its event. When the RPC was deleted meanwhile the change is
   * dropped (as ThingsBoard does) and so is the pending entry; likewise when it already ended
   * (another owner finished it).
   */
  private async store(rpcId: string, status: RpcStatus, entry?: PendingRpc, extra: { response?: JsonValue; attempts?: number } = {}): Promise<void> {
    const saved = await this.host.repo.setStatus(this.deviceId, rpcId, status, extra);
    if (!saved || saved.rpc.status !== status) {
      if (entry) this.drop(entry);
      return;
    }
    if (entry) entry.status = status;
    this.host.emit(saved.rpc);
  }

  /** Stops every timer; the actor is no longer used. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const e of this.pending.values()) {
      if (e.expiryTimer) clearTimeout(e.expiryTimer);
      this.clearRetry(e);
    }
    if (this.awaitTimer) clearTimeout(this.awaitTimer.timer);
    this.awaitTimer = undefined;
  }

  /** Lightweight commands still waiting (lost if the process stops: their callers time out). */
  waitingCallers(): string[] {
    return [...this.pending.values()].flatMap((e) => (e.replyTo === null ? [] : [e.rpc.id]));
  }
}

function persistentAnswer(rpcId: string): RpcOutcome {
  return { rpcId, response: JSON.stringify({ rpcId }), error: null };
}

/** A transport's error text as the caller sees it: JSON as is, anything else as {"error": text}. */
function jsonOrErrorObject(text: string): string {
  try {
    JSON.parse(text);
    return text;
  } catch {
    return JSON.stringify({ error: text });
  }
}
