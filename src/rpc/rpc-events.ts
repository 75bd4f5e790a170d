// The RPC_<STATUS> rule-engine messages (spec/rpc.md §6.4): originator the device, empty metadata,
// data the stored RPC, routed like the device's own messages (its profile's chain and queue).
import { newMsg, type TbMsg } from '../msg/tb-msg.js';
import type { Store } from '../store/store.js';
import type { Rpc, RpcStatus } from './rpc-types.js';

/** The chain and queue of a device's messages (null = tenant root / default queue). */
export interface DeviceRoute {
  readonly ruleChainId: string | null;
  readonly queueName: string | null;
}

export type DeviceRouteResolver = (tenantId: string, deviceId: string) => Promise<DeviceRoute>;

const NO_ROUTE: DeviceRoute = { ruleChainId: null, queueName: null };
const CACHE_MS = 5000;

/** Device → profile → default chain and queue, cached briefly (profiles change rarely). */
export function storeRouteResolver(store: Store): DeviceRouteResolver {
  const cache = new Map<string, { route: DeviceRoute; until: number }>();
  return async (tenantId, deviceId) => {
    const now = Date.now();
    const hit = cache.get(deviceId);
    if (hit && hit.until > now) return hit.route;
    const device = await store.devices.findById(tenantId, deviceId);
    const profileId = device?.deviceProfileId?.id;
    const profile = profileId ? await store.deviceProfiles.get(tenantId, profileId) : null;
    const route: DeviceRoute = profile ? { ruleChainId: profile.defaultRuleChainId?.id ?? null, queueName: profile.defaultQueueName ?? null } : NO_ROUTE;
    if (cache.size > 10_000) cache.clear();
    cache.set(deviceId, { route, until: now + CACHE_MS });
    return route;
  };
}

export function rpcEventMsg(rpc: Rpc, status: RpcStatus, route: DeviceRoute): TbMsg {
  return newMsg({
    type: `RPC_${status}`,
    originator: { entityType: 'DEVICE', id: rpc.deviceId.id },
    tenantId: rpc.tenantId.id,
    ruleChainId: route.ruleChainId,
    queueName: route.queueName ?? undefined,
    metaData: {},
    data: JSON.stringify(status === rpc.status ? rpc : { ...rpc, status }),
  });
}
