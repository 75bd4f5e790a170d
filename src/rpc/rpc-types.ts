// The vocabulary of server-side RPC (spec/rpc.md §1, §5, §6): the request as the platform knows it,
// its outcome for the caller, the persistent statuses and the stored entity's JSON.
import type { IdOf } from '../store/ids.js';
import type { JsonValue } from '../store/json.js';

/** ThingsBoard's RpcStatus (§6.1). */
export const RPC_STATUSES = ['QUEUED', 'SENT', 'DELIVERED', 'SUCCESSFUL', 'TIMEOUT', 'EXPIRED', 'FAILED', 'DELETED'] as const;
export type RpcStatus = (typeof RPC_STATUSES)[number];

export function isRpcStatus(value: unknown): value is RpcStatus {
  return typeof value === 'string' && (RPC_STATUSES as readonly string[]).includes(value);
}

/** ThingsBoard's RpcError: why a caller got no reply. */
export type RpcError = 'TIMEOUT' | 'NO_ACTIVE_CONNECTION' | 'NOT_FOUND' | 'FORBIDDEN' | 'INTERNAL';

/** A server-side RPC as the platform knows it (ThingsBoard's ToDeviceRpcRequest). */
export interface ToDeviceRpc {
  /** rpcId / requestUUID. */
  readonly id: string;
  readonly tenantId: string;
  readonly deviceId: string;
  readonly oneway: boolean;
  /** Epoch ms. */
  readonly expirationTime: number;
  readonly method: string;
  /** The params as JSON text; null when the caller gave none (the device then sees "params": null). */
  readonly params: string | null;
  readonly persisted: boolean;
  /** Delivery retries asked for; null = the maxRetries setting. */
  readonly retries: number | null;
  /** JSON text, stored parsed in the Rpc entity; null when absent. */
  readonly additionalInfo: string | null;
}

/**
 * What the caller of an RPC gets (ThingsBoard's FromDeviceRpcResponse): the device's reply text, or
 * `{"rpcId"}` for a persistent RPC, or nothing (one-way), or an error.
 */
export interface RpcOutcome {
  readonly rpcId: string;
  /** null: no reply text (one-way, or an error). */
  readonly response: string | null;
  readonly error: RpcError | null;
}

/** The request part of the stored entity (§6.3): ToDeviceRpcRequest serialized, additionalInfo left out. */
export interface RpcRequestJson {
  readonly id: string;
  readonly tenantId: IdOf<'TENANT'>;
  readonly deviceId: IdOf<'DEVICE'>;
  readonly oneway: boolean;
  readonly expirationTime: number;
  readonly body: { readonly method: string; readonly params: string | null };
  readonly persisted: boolean;
  readonly retries: number | null;
}

/** The stored RPC as the API returns it and RPC_* events carry it (§6.3). */
export interface Rpc {
  readonly id: IdOf<'RPC'>;
  readonly createdTime: number;
  readonly tenantId: IdOf<'TENANT'>;
  readonly deviceId: IdOf<'DEVICE'>;
  readonly expirationTime: number;
  readonly request: RpcRequestJson;
  readonly response: JsonValue | null;
  readonly status: RpcStatus;
  readonly additionalInfo: JsonValue | null;
}

/** A persistent RPC with what the device actor needs to resume it after a restart. */
export interface StoredRpc {
  readonly rpc: Rpc;
  /** The device-facing id it was (or will be) sent with: kept so that a late reply still matches. */
  readonly requestId: number;
  /** Delivery timeouts so far (ThingsBoard's retries counter). */
  readonly attempts: number;
}

/** A one-way RPC is done once delivered; a two-way one once answered, expired or failed. */
export function isFinalStatus(status: RpcStatus, oneway: boolean): boolean {
  switch (status) {
    case 'SUCCESSFUL':
    case 'EXPIRED':
    case 'FAILED':
    case 'DELETED':
      return true;
    case 'DELIVERED':
      return oneway;
    default:
      return false;
  }
}

export function rpcEntity(request: ToDeviceRpc, status: RpcStatus, createdTime: number): Rpc {
  const tenantId: IdOf<'TENANT'> = { entityType: 'TENANT', id: request.tenantId };
  const deviceId: IdOf<'DEVICE'> = { entityType: 'DEVICE', id: request.deviceId };
  return {
    id: { entityType: 'RPC', id: request.id },
    createdTime,
    tenantId,
    deviceId,
    expirationTime: request.expirationTime,
    request: {
      id: request.id,
      tenantId,
      deviceId,
      oneway: request.oneway,
      expirationTime: request.expirationTime,
      body: { method: request.method, params: request.params },
      persisted: request.persisted,
      retries: request.retries,
    },
    response: null,
    status,
    additionalInfo: parseJsonOrText(request.additionalInfo),
  };
}

/** Back from a stored entity to the request (recovery after a restart). */
export function requestOf(rpc: Rpc, additionalInfo: string | null = rpc.additionalInfo === null ? null : JSON.stringify(rpc.additionalInfo)): ToDeviceRpc {
  return {
    id: rpc.id.id,
    tenantId: rpc.tenantId.id,
    deviceId: rpc.deviceId.id,
    oneway: rpc.request.oneway,
    expirationTime: rpc.expirationTime,
    method: rpc.request.body.method,
    params: rpc.request.body.params,
    persisted: true,
    retries: rpc.request.retries,
    additionalInfo,
  };
}

/** ThingsBoard parses additionalInfo and falls back to a text node when it is not JSON. */
export function parseJsonOrText(text: string | null): JsonValue | null {
  if (text === null) return null;
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return text;
  }
}

/** How a device reply is stored (§5.4): parsed JSON, or {"error": text} when it is not JSON. */
export function storedResponse(payload: string): JsonValue {
  try {
    return JSON.parse(payload) as JsonValue;
  } catch {
    return { error: payload };
  }
}
