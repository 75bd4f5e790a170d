import { defineNode, FAILURE, SUCCESS, tell, tellFailure, tellSuccess } from '../../engine/node-api.js';
import { DEVICE_EVENT_TYPES, type DeviceEventType } from '../../device-state/device-state-service.js';
import { metaDataTs } from './TbMsgTimeseriesNode.js';

export const RATE_LIMITED = 'Rate limited';

/** ThingsBoard's default DEVICE_STATE_NODE_RATE_LIMIT_CONFIGURATION: per device, 1 per second, 30 per minute, 60 per hour. */
const RATE_LIMITS: readonly { readonly capacity: number; readonly periodMs: number }[] = [
  { capacity: 1, periodMs: 1_000 },
  { capacity: 30, periodMs: 60_000 },
  { capacity: 60, periodMs: 3_600_000 },
];

export interface TbDeviceStateNodeConfig {
  event: DeviceEventType;
}

/**
 * ThingsBoard's "device state" node: reports a connectivity event (connect, activity,
 * disconnect, inactivity) for the originating device, as if its transport had, for devices whose
 * data comes through other means (an integration, a REST call, a computation). The device state
 * service updates `active` and the last*Time attributes and sends the rule engine the event
 * ThingsBoard would. Success once that is done; more than the rate limits allow per device goes
 * to "Rate limited".
 */
export const TbDeviceStateNode = defineNode<TbDeviceStateNodeConfig>({
  type: 'org.thingsboard.rule.engine.action.TbDeviceStateNode',
  category: 'ACTION',
  uiName: 'device state',
  version: 0,
  relations: [SUCCESS, FAILURE, RATE_LIMITED],
  configSchema: {
    type: 'object',
    properties: { event: { type: 'string', enum: DEVICE_EVENT_TYPES, default: 'ACTIVITY_EVENT' } },
  },
  defaultConfig: { event: 'ACTIVITY_EVENT' },
  create(config, init) {
    const limiter = new PerDeviceRateLimiter(() => init.services.now());
    return {
      async onMsg(msg) {
        const type = msg.originator.entityType;
        if (type !== 'DEVICE') return tellFailure(msg, `Unsupported originator entity type: [${type}]. Only DEVICE entity type is supported.`);
        const deviceState = init.services.deviceState;
        if (!deviceState) return tellFailure(msg, `"${init.self.name}" needs the device state service, which this run does not have (start rpc-chains with Redis to run it)`);
        if (!limiter.tryConsume(msg.originator.id)) return tell(msg, RATE_LIMITED);
        try {
          await deviceState.report(msg, config.event, metaDataTs(msg));
          return tellSuccess(msg);
        } catch (e) {
          return tellFailure(msg, e);
        }
      },
    };
  },
});

/** Token buckets per device, one per limit; a device's buckets are forgotten once full again. */
class PerDeviceRateLimiter {
  private readonly buckets = new Map<string, { tokens: number[]; at: number }>();
  private lastForget = 0;

  constructor(private readonly now: () => number) {}

  tryConsume(deviceId: string): boolean {
    const now = this.now();
    const entry = this.buckets.get(deviceId) ?? { tokens: RATE_LIMITS.map((l) => l.capacity), at: now };
    const elapsed = Math.max(0, now - entry.at);
    const tokens = entry.tokens.map((t, i) => {
      const limit = RATE_LIMITS[i] as (typeof RATE_LIMITS)[number];
      return Math.min(limit.capacity, t + (elapsed * limit.capacity) / limit.periodMs);
    });
    const allowed = tokens.every((t) => t >= 1);
    this.buckets.set(deviceId, { tokens: allowed ? tokens.map((t) => t - 1) : tokens, at: now });
    if (this.buckets.size > 10_000 && now - this.lastForget >= 60_000) this.forgetFull(now);
    return allowed;
  }

  /** Keeps memory bounded by the devices seen within the longest period. */
  private forgetFull(now: number): void {
    this.lastForget = now;
    const longest = Math.max(...RATE_LIMITS.map((l) => l.periodMs));
    for (const [id, entry] of this.buckets) if (now - entry.at >= longest) this.buckets.delete(id);
  }
}
