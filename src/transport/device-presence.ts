// Connectivity events for devices without a connection (HTTP, CoAP), as MQTT reports them for its
// sessions: a device is present in this process from its first request until it stays silent for
// limits.inactivityTimeoutMs. First request → CONNECT_EVENT; requests → ACTIVITY_EVENT at most
// once per interval; silence → INACTIVITY_EVENT then DISCONNECT_EVENT, and the device is forgotten.
// An open long poll or observation holds the device present: it waits, it is not silent.
import { deviceEventMessage, type DeviceEvent } from './device-messages.js';
import type { DeviceIdentity, TransportContext, TransportLimits } from './transport-api.js';

/**
 * ACTIVITY_EVENT at most once per this per device, on every transport: 10 s, or a quarter of the
 * inactivity timeout when that is shorter, so that a busy device never looks silent.
 */
export function defaultActivityReportIntervalMs(limits: TransportLimits): number {
  return Math.max(1, Math.min(10_000, Math.floor(limits.inactivityTimeoutMs / 4)));
}

/** How often inactivity is looked for: a quarter of the timeout, from 50 ms to 10 s. */
export function inactivitySweepPeriodMs(inactivityTimeoutMs: number): number {
  return Math.min(10_000, Math.max(50, Math.floor(inactivityTimeoutMs / 4)));
}

export interface DevicePresenceOptions {
  /** Log prefix: the transport's name. */
  readonly name: string;
  readonly activityReportIntervalMs?: number;
}

interface Present {
  device: DeviceIdentity;
  lastActivity: number;
  lastActivityEvent: number;
  /** Open long polls / observations. */
  holds: number;
  /** The device's events are queued in order: each one after the previous. */
  tail: Promise<void>;
}

export class DevicePresence {
  private readonly present = new Map<string, Present>();
  /** Events still being queued for devices already forgotten: a new CONNECT_EVENT waits for them. */
  private readonly departing = new Map<string, Promise<void>>();
  private readonly activityIntervalMs: number;
  private sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly ctx: Pick<TransportContext, 'toRuleEngine' | 'limits' | 'logger'>,
    private readonly opts: DevicePresenceOptions,
  ) {
    const interval = opts.activityReportIntervalMs ?? defaultActivityReportIntervalMs(ctx.limits);
    if (!(Number.isFinite(interval) && interval > 0)) throw new RangeError(`${opts.name}: activityReportIntervalMs must be a positive number`);
    this.activityIntervalMs = interval;
  }

  /** Devices present now. */
  get size(): number {
    return this.present.size;
  }

  /**
   * A request of the device. Resolves once its event (if any) is queued, so a CONNECT_EVENT goes
   * to the rule engine before the request's own message; never rejects.
   */
  touch(device: DeviceIdentity, now = Date.now()): Promise<void> {
    if (this.closed) return Promise.resolve();
    const entry = this.present.get(device.deviceId);
    if (!entry) return this.arrive(device, now).tail;
    entry.device = device;
    entry.lastActivity = now;
    if (now - entry.lastActivityEvent < this.activityIntervalMs) return Promise.resolve();
    entry.lastActivityEvent = now;
    return this.emit(entry, 'ACTIVITY_EVENT');
  }

  /** An open long poll / observation: the device stays present until the returned release, which counts as activity. */
  hold(device: DeviceIdentity): () => void {
    if (this.closed) return () => undefined;
    const entry = this.present.get(device.deviceId) ?? this.arrive(device, Date.now());
    entry.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The device may have been forgotten and come back meanwhile: only its current entry counts.
      const current = this.present.get(device.deviceId);
      if (current === entry) entry.holds--;
      void this.touch(device);
    };
  }

  /** Shutdown: DISCONNECT_EVENT for every present device, queued before this resolves (as MQTT's close). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    const queued = [...this.departing.values()];
    for (const entry of this.present.values()) queued.push(this.emit(entry, 'DISCONNECT_EVENT'));
    this.present.clear();
    await Promise.allSettled(queued);
    this.departing.clear();
  }

  private arrive(device: DeviceIdentity, now: number): Present {
    const entry: Present = { device, lastActivity: now, lastActivityEvent: now, holds: 0, tail: this.departing.get(device.deviceId) ?? Promise.resolve() };
    this.present.set(device.deviceId, entry);
    void this.emit(entry, 'CONNECT_EVENT');
    this.startSweep();
    return entry;
  }

  /** Queues the event after the device's previous one; a failure is logged, never thrown. */
  private emit(entry: Present, type: DeviceEvent): Promise<void> {
    const { device } = entry;
    entry.tail = entry.tail.then(() =>
      this.ctx.toRuleEngine(deviceEventMessage(device, type)).catch((e: unknown) => {
        this.ctx.logger.warn(`${this.opts.name}: device ${device.deviceId}: ${type} not queued: ${(e as Error).message}`);
      }),
    );
    return entry.tail;
  }

  /** One timer for every present device (as MQTT's sweep); it stops when none is left. */
  private startSweep(): void {
    if (this.sweepTimer) return;
    this.sweepTimer = setInterval(() => this.sweep(Date.now()), inactivitySweepPeriodMs(this.ctx.limits.inactivityTimeoutMs));
    this.sweepTimer.unref();
  }

  private sweep(now: number): void {
    const timeout = this.ctx.limits.inactivityTimeoutMs;
    for (const [deviceId, entry] of this.present) {
      if (entry.holds > 0) {
        // Waiting on an open poll or observation is being there: reported as activity, so that
        // the device state does not call a device inactive while it listens.
        if (now - entry.lastActivityEvent >= this.activityIntervalMs) {
          entry.lastActivity = entry.lastActivityEvent = now;
          void this.emit(entry, 'ACTIVITY_EVENT');
        }
        continue;
      }
      if (now - entry.lastActivity < timeout) continue;
      this.present.delete(deviceId);
      void this.emit(entry, 'INACTIVITY_EVENT');
      const tail = this.emit(entry, 'DISCONNECT_EVENT');
      this.departing.set(deviceId, tail);
      void tail.then(() => {
        if (this.departing.get(deviceId) === tail) this.departing.delete(deviceId);
      });
    }
    if (this.present.size === 0) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = undefined;
    }
  }
}
