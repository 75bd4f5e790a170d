// Device input → rule-engine messages, as ThingsBoard's transport service builds them
// (spec/rule-chains.md §4, spec/rpc.md §8.1). Shared by every transport.
import { MsgType } from '../msg/msg-types.js';
import { isPlainObject, newMsg, type TbMsg } from '../msg/tb-msg.js';
import type { DeviceIdentity } from './transport-api.js';
import { jsonTooDeep, MAX_JSON_DEPTH } from '../msg/json-depth.js';

/** A payload that is not what the device API accepts; the transports answer it with their protocol's "bad request". */
export class DevicePayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DevicePayloadError';
  }
}

function base(device: DeviceIdentity, type: string, data: unknown, metaData: Record<string, string>, ts = Date.now()): TbMsg {
  return newMsg({
    type,
    originator: { entityType: 'DEVICE', id: device.deviceId },
    tenantId: device.tenantId,
    customerId: device.customerId,
    ruleChainId: device.ruleChainId,
    queueName: device.queueName ?? undefined,
    data: JSON.stringify(data),
    metaData: { deviceName: device.deviceName, deviceType: device.deviceType, ...metaData },
    ts,
  });
}

export function parseJsonPayload(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (e) {
    throw new DevicePayloadError(`payload is not valid JSON: ${(e as Error).message}`);
  }
  if (jsonTooDeep(value)) throw new DevicePayloadError(`payload is nested deeper than ${MAX_JSON_DEPTH} levels`);
  return value;
}

/**
 * Telemetry in ThingsBoard's three JSON forms: `{"k": v}`, `{"ts": 1, "values": {...}}`, or an
 * array of either. One POST_TELEMETRY_REQUEST per timestamp, with metadata `ts`.
 */
export function telemetryMessages(device: DeviceIdentity, payload: unknown, now = Date.now()): TbMsg[] {
  const items = Array.isArray(payload) ? payload : [payload];
  if (items.length === 0) throw new DevicePayloadError('telemetry payload is an empty array');
  const byTs = new Map<number, Record<string, unknown>>();
  for (const item of items) {
    if (!isPlainObject(item)) throw new DevicePayloadError('telemetry must be a JSON object, {"ts", "values"} or an array of them');
    let ts = now;
    let values: Record<string, unknown> = item;
    if ('ts' in item && 'values' in item) {
      if (typeof item.ts !== 'number' || !Number.isFinite(item.ts)) throw new DevicePayloadError('telemetry "ts" must be a number (epoch ms)');
      if (!isPlainObject(item.values)) throw new DevicePayloadError('telemetry "values" must be a JSON object');
      ts = item.ts;
      values = item.values;
    }
    byTs.set(ts, { ...(byTs.get(ts) ?? {}), ...values });
  }
  return [...byTs].map(([ts, values]) => base(device, MsgType.POST_TELEMETRY_REQUEST, values, { ts: String(ts) }, now));
}

/** Client attributes posted by the device. */
export function attributesMessage(device: DeviceIdentity, payload: unknown): TbMsg {
  if (!isPlainObject(payload)) throw new DevicePayloadError('attributes must be a JSON object');
  return base(device, MsgType.POST_ATTRIBUTES_REQUEST, payload, { notifyDevice: 'false' });
}

/** A client-side RPC request: `{"method": string, "params": any}` (params missing → null). */
export function toServerRpcMessage(
  device: DeviceIdentity,
  payload: unknown,
  ids: { requestId: number; serviceId: string; sessionId: string },
): TbMsg {
  if (!isPlainObject(payload)) throw new DevicePayloadError('an RPC request must be a JSON object {"method", "params"}');
  if (typeof payload.method !== 'string' || payload.method === '') throw new DevicePayloadError('an RPC request needs a "method" string');
  return base(
    device,
    MsgType.TO_SERVER_RPC_REQUEST,
    { method: payload.method, params: payload.params ?? null },
    { requestId: String(ids.requestId), serviceId: ids.serviceId, sessionId: ids.sessionId },
  );
}

export type DeviceEvent = 'CONNECT_EVENT' | 'DISCONNECT_EVENT' | 'ACTIVITY_EVENT' | 'INACTIVITY_EVENT';

/** Connectivity events; data carries what ThingsBoard's device state service reports. */
export function deviceEventMessage(device: DeviceIdentity, event: DeviceEvent, at = Date.now()): TbMsg {
  const field = { CONNECT_EVENT: 'lastConnectTime', DISCONNECT_EVENT: 'lastDisconnectTime', ACTIVITY_EVENT: 'lastActivityTime', INACTIVITY_EVENT: 'lastInactivityAlarmTime' }[event];
  return base(device, event, { active: event === 'CONNECT_EVENT' || event === 'ACTIVITY_EVENT', [field]: at }, {}, at);
}
