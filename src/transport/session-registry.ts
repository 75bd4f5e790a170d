// Which process holds each device's sessions. Local sessions live in memory; Redis keeps one hash
// per device (sessionId → owner), so the RPC service can route a command to the process holding a
// subscribed session, and a new exclusive session can close older ones, also on other processes.
import type { Redis } from 'ioredis';
import type { ServiceBus } from '../queue/service-bus.js';
import type { AttributeUpdate, DeviceSession, TransportProtocol } from './transport-api.js';

/** The Redis entry of one session. */
export interface SessionLocation {
  readonly sessionId: string;
  readonly serviceId: string;
  readonly protocol: TransportProtocol;
  readonly rpcSubscribed: boolean;
  readonly since: number;
}

/** A failed registry write is tried again after this, doubling up to RETRY_MAX_MS. */
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 2000;

/** A session's entry being written until Redis takes it. */
interface PendingWrite {
  /** The session changed while a write was on its way: write once more. */
  again: boolean;
  stored: Promise<boolean>;
}

export const SESSION_CLOSE_TOPIC = 'transport.session.close';
export const ATTRIBUTE_UPDATE_TOPIC = 'transport.attributes.update';

interface AttributeUpdateRequest {
  readonly deviceId: string;
  readonly update: AttributeUpdate;
}

interface CloseRequest {
  readonly deviceId: string;
  readonly sessionId: string;
  readonly reason: string;
}

export interface SessionRegistryOptions {
  readonly redis: Redis;
  readonly bus: ServiceBus;
  readonly keyPrefix?: string;
  readonly logger: { warn(text: string): void; info?(text: string): void };
}

export class SessionRegistry {
  private readonly byId = new Map<string, DeviceSession>();
  private readonly byDevice = new Map<string, Set<DeviceSession>>();
  private readonly pendingWrites = new Map<string, PendingWrite>();
  /** Waits before a write is tried again: dispose() ends them. */
  private readonly retryWaits = new Map<NodeJS.Timeout, () => void>();
  private disposed = false;
  private readonly prefix: string;
  private readonly unsubscribe: () => void;
  private readonly unsubscribeUpdates: () => void;

  constructor(private readonly opts: SessionRegistryOptions) {
    this.prefix = opts.keyPrefix ?? 'rc';
    this.unsubscribe = opts.bus.on<CloseRequest>(SESSION_CLOSE_TOPIC, (req) => this.byId.get(req.sessionId)?.close(req.reason));
    this.unsubscribeUpdates = opts.bus.on<AttributeUpdateRequest>(ATTRIBUTE_UPDATE_TOPIC, (req) => this.updateLocal(req.deviceId, req.update));
  }

  get serviceId(): string {
    return this.opts.bus.serviceId;
  }

  /** One hash per device, tagged by device so a cluster spreads them. */
  private key(deviceId: string): string {
    return `${this.prefix}:{sess:${deviceId}}:sessions`;
  }

  /**
   * Records a new session. `exclusive`: every other session of the device, here or on another
   * process, is closed first (one live session per device, as ThingsBoard's MQTT transport).
   */
  async register(session: DeviceSession, opts: { exclusive: boolean }): Promise<void> {
    const deviceId = session.device.deviceId;
    if (opts.exclusive) {
      for (const old of [...(this.byDevice.get(deviceId) ?? [])]) old.close('a newer session of this device took over');
      const entries = await this.locateAll(deviceId);
      for (const e of entries) {
        if (e.serviceId === this.serviceId) continue;
        await this.opts.bus.send(e.serviceId, SESSION_CLOSE_TOPIC, { deviceId, sessionId: e.sessionId, reason: 'a newer session of this device took over' } satisfies CloseRequest);
        await this.opts.redis.hdel(this.key(deviceId), e.sessionId);
      }
    }
    this.byId.set(session.sessionId, session);
    let set = this.byDevice.get(deviceId);
    if (!set) this.byDevice.set(deviceId, (set = new Set()));
    set.add(session);
    await this.write(session);
  }

  /**
   * Records a change of the session's RPC subscription. A write that fails (Redis away) is tried
   * again until Redis takes it: what the device was granted stays granted, and the entry catches
   * up once Redis is back. Changes made meanwhile are coalesced; the last state is what is written.
   * Resolves true once the session's current state is stored, false if the session left the
   * registry (or the registry was disposed) first. Never rejects.
   */
  update(session: DeviceSession): Promise<boolean> {
    const pending = this.pendingWrites.get(session.sessionId);
    if (pending) {
      pending.again = true;
      return pending.stored;
    }
    const write: PendingWrite = { again: false, stored: Promise.resolve(false) };
    this.pendingWrites.set(session.sessionId, write);
    write.stored = this.writeUntilStored(session, write);
    return write.stored;
  }

  private async writeUntilStored(session: DeviceSession, write: PendingWrite): Promise<boolean> {
    let delay = RETRY_FIRST_MS;
    let failures = 0;
    try {
      while (!this.disposed && this.byId.get(session.sessionId) === session) {
        write.again = false;
        try {
          await this.write(session);
          if (failures > 0) this.info(`session registry: session ${session.sessionId} of device ${session.device.deviceId} recorded after ${failures} failed attempt(s)`);
          if (!write.again) return true;
        } catch (e) {
          if (failures++ === 0) this.opts.logger.warn(`session registry: session ${session.sessionId} of device ${session.device.deviceId} not recorded (${(e as Error).message}); trying again until Redis takes it`);
          await this.pause(delay);
          delay = Math.min(delay * 2, RETRY_MAX_MS);
        }
      }
      return false;
    } finally {
      // In the same step as the last check of `again`: a later update() starts a new write.
      if (this.pendingWrites.get(session.sessionId) === write) this.pendingWrites.delete(session.sessionId);
    }
  }

  private info(text: string): void {
    const { logger } = this.opts;
    if (logger.info) logger.info(text);
    else logger.warn(text);
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.retryWaits.delete(timer);
        resolve();
      }, ms);
      timer.unref();
      this.retryWaits.set(timer, resolve);
    });
  }

  async unregister(session: DeviceSession): Promise<void> {
    if (this.byId.get(session.sessionId) !== session) return;
    this.byId.delete(session.sessionId);
    const set = this.byDevice.get(session.device.deviceId);
    set?.delete(session);
    if (set?.size === 0) this.byDevice.delete(session.device.deviceId);
    await this.opts.redis.hdel(this.key(session.device.deviceId), session.sessionId).catch((e: Error) => this.opts.logger.warn(`session registry: ${e.message}`));
  }

  local(sessionId: string): DeviceSession | undefined {
    return this.byId.get(sessionId);
  }

  localOfDevice(deviceId: string): DeviceSession[] {
    return [...(this.byDevice.get(deviceId) ?? [])];
  }

  get size(): number {
    return this.byId.size;
  }

  /** Local sessions per protocol (a metrics gauge). */
  countByProtocol(): Record<TransportProtocol, number> {
    const counts: Record<TransportProtocol, number> = { mqtt: 0, http: 0, coap: 0 };
    for (const session of this.byId.values()) counts[session.protocol]++;
    return counts;
  }

  /** Every live session of a device, on any process; entries of dead processes are dropped. */
  async locateAll(deviceId: string): Promise<SessionLocation[]> {
    const raw = await this.opts.redis.hgetall(this.key(deviceId));
    const out: SessionLocation[] = [];
    for (const [sessionId, text] of Object.entries(raw)) {
      const loc = JSON.parse(text) as SessionLocation;
      if (loc.serviceId === this.serviceId ? this.byId.has(sessionId) : await this.opts.bus.isAlive(loc.serviceId)) out.push(loc);
      else {
        this.info(`session registry: session ${sessionId} of device ${deviceId} dropped: ${loc.serviceId === this.serviceId ? 'closed here' : `its process ${loc.serviceId} is gone`}`);
        await this.opts.redis.hdel(this.key(deviceId), sessionId);
      }
    }
    return out.sort((a, b) => b.since - a.since);
  }

  /**
   * Pushes a shared-attribute change to every session of the device, wherever it is (a
   * session that did not subscribe to attribute updates ignores it).
   */
  async pushAttributeUpdate(deviceId: string, update: AttributeUpdate): Promise<void> {
    const services = new Set((await this.locateAll(deviceId)).map((l) => l.serviceId));
    for (const serviceId of services) {
      if (serviceId === this.serviceId) this.updateLocal(deviceId, update);
      else await this.opts.bus.send(serviceId, ATTRIBUTE_UPDATE_TOPIC, { deviceId, update } satisfies AttributeUpdateRequest);
    }
  }

  private updateLocal(deviceId: string, update: AttributeUpdate): void {
    for (const session of this.byDevice.get(deviceId) ?? []) session.sendAttributeUpdate(update);
  }

  /** Closes every local session (shutdown). */
  closeAll(reason: string): void {
    for (const session of [...this.byId.values()]) session.close(reason);
  }

  dispose(): void {
    this.disposed = true;
    // Writes waiting to be tried again end now (they resolve false).
    for (const [timer, wake] of this.retryWaits) {
      clearTimeout(timer);
      wake();
    }
    this.retryWaits.clear();
    this.unsubscribe();
    this.unsubscribeUpdates();
  }

  private async write(session: DeviceSession): Promise<void> {
    const loc: SessionLocation = {
      sessionId: session.sessionId,
      serviceId: this.serviceId,
      protocol: session.protocol,
      rpcSubscribed: session.rpcSubscribed,
      since: Date.now(),
    };
    await this.opts.redis.hset(this.key(session.device.deviceId), session.sessionId, JSON.stringify(loc));
  }
}
