// ThingsBoard's device state service: whether each device is active, kept as the SERVER_SCOPE
// attributes ThingsBoard users read (active, lastConnectTime, lastActivityTime,
// lastDisconnectTime, lastInactivityAlarmTime), and the connectivity events the
// rule engine gets, with ThingsBoard's rules:
//   CONNECT / DISCONNECT   always go on, with the device's whole state as data;
//   ACTIVITY               updates lastActivityTime; the event goes on only when the device was
//                          inactive (a busy device does not flood the root chain);
//   INACTIVITY             when the device was silent for the inactivity timeout on every session
//                          of every process, once.
// Transports report their sessions' events here; the "device state" node reports events for
// devices that talk through other means. A sweep catches devices whose transport died.
//
// "Active" is membership of one sorted set scored by the inactivity deadline: a scripted ZADD
// finding the member new is the inactive → active transition, and a scripted ZREM of an expired
// member the active → inactive one, so each transition is seen by exactly one caller, whichever
// process it runs in. The timeout is one setting for every device (ThingsBoard also reads a
// per-device `inactivityTimeout` attribute; rpc-chains does not).
import type { EntityId } from '../msg/entity.js';
import { MsgType } from '../msg/msg-types.js';
import { newMsg, type TbMsg } from '../msg/tb-msg.js';
import { isNullUuid } from '../store/ids.js';
import { LuaScript } from '../store/lua-script.js';
import type { RedisClient } from '../store/redis-client.js';
import type { Store } from '../store/store.js';
import { inactivitySweepPeriodMs } from '../transport/device-presence.js';

export const DEVICE_EVENT_TYPES = [MsgType.CONNECT_EVENT, MsgType.DISCONNECT_EVENT, MsgType.ACTIVITY_EVENT, MsgType.INACTIVITY_EVENT] as const;
export type DeviceEventType = (typeof DEVICE_EVENT_TYPES)[number];

export function isDeviceEventType(type: string): type is DeviceEventType {
  return (DEVICE_EVENT_TYPES as readonly string[]).includes(type);
}

/** The state as ThingsBoard's DeviceState serializes it: the data of every connectivity event. */
export interface DeviceState {
  readonly active: boolean;
  readonly lastConnectTime: number;
  readonly lastActivityTime: number;
  readonly lastDisconnectTime: number;
  readonly lastInactivityAlarmTime: number;
  readonly inactivityTimeout: number;
}

const SWEEP_BATCH = 500;

const STATE_KEYS = ['active', 'lastConnectTime', 'lastActivityTime', 'lastDisconnectTime', 'lastInactivityAlarmTime'] as const;

/**
 * Moves the member's deadline forward (never back): 2 when the member is new (the device became
 * active), 1 when the deadline moved, 0 when the report was older than what is known.
 */
const ACTIVATE = new LuaScript(`
local deadline = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not deadline then redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1]) return 2 end
if tonumber(ARGV[2]) > tonumber(deadline) then redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1]) return 1 end
return 0`);

/** Removes the member only when its deadline has passed: the one caller that gets 1 reports the inactivity. */
const CLAIM_EXPIRED = new LuaScript(`
local deadline = redis.call('ZSCORE', KEYS[1], ARGV[1])
if deadline and tonumber(deadline) <= tonumber(ARGV[2]) then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0`);

/** What the rule nodes may use. */
export interface DeviceStateApi {
  /**
   * Reports a connectivity event of the device that originated `msg` (a message of the node's
   * chain: its metadata deviceName/deviceType go on the event). INACTIVITY from a node is taken
   * as stated: the device becomes inactive now if it was active.
   */
  report(msg: TbMsg, event: DeviceEventType, ts: number): Promise<void>;
}

export interface DeviceStateServiceOptions {
  readonly redis: RedisClient;
  readonly store: Store;
  readonly toRuleEngine: (msg: TbMsg) => Promise<void>;
  /** A device silent this long becomes inactive (ThingsBoard's default 600 s). */
  readonly inactivityTimeoutMs: number;
  readonly keyPrefix?: string;
  readonly logger: { warn(text: string): void };
  /** How often the sweep looks for expired devices (default: a quarter of the timeout, 50 ms to 10 s). */
  readonly sweepIntervalMs?: number;
}

export class DeviceStateService implements DeviceStateApi {
  private readonly activeKey: string;
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(private readonly opts: DeviceStateServiceOptions) {
    this.activeKey = `${opts.keyPrefix ?? 'rc'}:{devstate}:active`;
  }

  /**
   * A transport's message for the rule engine: a connectivity event changes the state and goes
   * on as ThingsBoard would send it; any other message goes on as is.
   */
  record(msg: TbMsg): Promise<void> {
    if (!isDeviceEventType(msg.type)) return this.opts.toRuleEngine(msg);
    return this.apply(msg, msg.type, msg.ts, false);
  }

  async report(msg: TbMsg, event: DeviceEventType, ts: number): Promise<void> {
    if (msg.originator.entityType !== 'DEVICE' || !msg.tenantId) throw new Error('device state events need a device of a tenant as originator');
    const template = await this.templateOf(msg.tenantId, msg.originator.id);
    if (!template) throw new Error(`Device with id [${msg.originator.id}] was not found`);
    return this.apply(template, event, ts, true);
  }

  /**
   * What a state event of this device looks like before type and data: the device's names as
   * metadata, routed as the transports route its messages (its profile's chain and queue).
   */
  private async templateOf(tenantId: string, deviceId: string): Promise<TbMsg | null> {
    const store = this.opts.store;
    const device = await store.devices.findById(tenantId, deviceId);
    if (device === null) return null;
    const profile = device.deviceProfileId ? await store.deviceProfiles.get(tenantId, device.deviceProfileId.id) : null;
    return newMsg({
      type: MsgType.ACTIVITY_EVENT,
      originator: device.id,
      tenantId,
      customerId: isNullUuid(device.customerId.id) ? null : device.customerId.id,
      ruleChainId: profile?.defaultRuleChainId?.id ?? null,
      queueName: profile?.defaultQueueName ?? undefined,
      metaData: { deviceName: device.name, deviceType: device.type, ...(device.label ? { deviceLabel: device.label } : {}) },
    });
  }

  start(): void {
    const period = this.opts.sweepIntervalMs ?? inactivitySweepPeriodMs(this.opts.inactivityTimeoutMs);
    this.timer = setInterval(() => {
      this.sweeping ??= this.sweep()
        .catch((e: Error) => this.opts.logger.warn(`device state: inactivity sweep: ${e.message}`))
        .finally(() => (this.sweeping = undefined));
    }, period);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }

  /** Devices whose deadline passed, wherever their sessions were: each becomes inactive once. */
  async sweep(now = Date.now()): Promise<void> {
    for (;;) {
      const expired = await this.opts.redis.zrangebyscore(this.activeKey, '-inf', now, 'LIMIT', 0, SWEEP_BATCH);
      for (const member of expired) {
        const { tenantId, deviceId } = parseMember(member);
        const template = await this.templateOf(tenantId, deviceId);
        if (!(await this.claimExpired(member, now))) continue;
        // A device deleted meanwhile has nothing left to report.
        if (template) await this.becameInactive(template, member, now);
      }
      // A dead transport leaves many devices at once: go on until the backlog is done.
      if (expired.length < SWEEP_BATCH) return;
    }
  }

  private async apply(msg: TbMsg, event: DeviceEventType, ts: number, stated: boolean): Promise<void> {
    const device = msg.originator;
    switch (event) {
      case MsgType.CONNECT_EVENT:
        await this.save(device, { lastConnectTime: ts }, ts);
        await this.emit(msg, event, ts);
        // A connection is activity too: ThingsBoard's transports report it right after.
        return this.activity(msg, ts);
      case MsgType.ACTIVITY_EVENT:
        return this.activity(msg, ts);
      case MsgType.DISCONNECT_EVENT:
        await this.save(device, { lastDisconnectTime: ts }, ts);
        return this.emit(msg, event, ts);
      case MsgType.INACTIVITY_EVENT: {
        // A transport's session went silent; the device may still be active on another session.
        const member = memberOf(msg);
        const claimed = stated ? (await this.opts.redis.zrem(this.activeKey, member)) === 1 : await this.claimExpired(member, ts);
        if (claimed) await this.becameInactive(msg, member, ts);
        return;
      }
    }
  }

  private async activity(msg: TbMsg, ts: number): Promise<void> {
    const moved = Number(await ACTIVATE.run(this.opts.redis, [this.activeKey], [memberOf(msg), ts + this.opts.inactivityTimeoutMs]));
    if (moved === 2) {
      await this.save(msg.originator, { active: true, lastActivityTime: ts }, ts);
      await this.emit(msg, MsgType.ACTIVITY_EVENT, ts);
    } else if (moved === 1) {
      await this.save(msg.originator, { lastActivityTime: ts }, ts);
    }
    // 0: a report older than one already recorded changes nothing.
  }

  /** After the claim: this caller alone reports the inactivity. */
  private async becameInactive(msg: TbMsg, member: string, ts: number): Promise<void> {
    try {
      await this.save(msg.originator, { active: false, lastInactivityAlarmTime: ts }, ts);
    } catch (e) {
      // Claimed but not recorded: give the claim back, so that a later sweep tries again.
      await this.opts.redis.zadd(this.activeKey, 'NX', ts, member).catch(() => undefined);
      throw e;
    }
    // Active again in between (its ZADD came after the claim): its `active: true` may have been
    // written before ours, so write it again.
    if ((await this.opts.redis.zscore(this.activeKey, member)) !== null) await this.save(msg.originator, { active: true }, ts);
    await this.emit(msg, MsgType.INACTIVITY_EVENT, ts);
  }

  private async claimExpired(member: string, now: number): Promise<boolean> {
    return Number(await CLAIM_EXPIRED.run(this.opts.redis, [this.activeKey], [member, now])) === 1;
  }

  private save(device: EntityId, values: Partial<DeviceState>, ts: number): Promise<void> {
    return this.opts.store.attributes.save(device, 'SERVER_SCOPE', values as Record<string, number | boolean>, ts);
  }

  /** The event with the device's whole state as data, as ThingsBoard pushes it. */
  private async emit(msg: TbMsg, event: DeviceEventType, ts: number): Promise<void> {
    const stored = new Map((await this.opts.store.attributes.get(msg.originator, 'SERVER_SCOPE', STATE_KEYS)).map((kv) => [kv.key, kv.value]));
    const time = (key: string) => (typeof stored.get(key) === 'number' ? (stored.get(key) as number) : 0);
    const state: DeviceState = {
      active: stored.get('active') === true,
      lastConnectTime: time('lastConnectTime'),
      lastActivityTime: time('lastActivityTime'),
      lastDisconnectTime: time('lastDisconnectTime'),
      lastInactivityAlarmTime: time('lastInactivityAlarmTime'),
      inactivityTimeout: this.opts.inactivityTimeoutMs,
    };
    await this.opts.toRuleEngine(
      newMsg({
        type: event,
        originator: msg.originator,
        tenantId: msg.tenantId,
        customerId: msg.customerId,
        ruleChainId: msg.ruleChainId,
        queueName: msg.queueName,
        data: JSON.stringify(state),
        metaData: { ...msg.metaData, scope: 'SERVER_SCOPE' },
        ts,
      }),
    );
  }
}

/** Members name the tenant too: the sweep needs it to find the device. */
function memberOf(msg: TbMsg): string {
  return `${msg.tenantId ?? ''}|${msg.originator.id}`;
}

function parseMember(member: string): { tenantId: string; deviceId: string } {
  const bar = member.indexOf('|');
  return { tenantId: member.slice(0, bar), deviceId: member.slice(bar + 1) };
}
