// Device RPC: what the rest of rpc-chains uses.
export { DeviceRpcService, type DeviceRpcServiceOptions, type RpcLogger } from './device-rpc-service.js';
export type { DeviceRpcApi } from './device-rpc-api.js';
export { RpcRepository, RPC_SORT_PROPERTIES } from './rpc-repository.js';
export { RpcCleanupService, tenantTtlDays, type RpcCleanupOptions, type TtlDaysOf } from './rpc-cleanup.js';
export { RestRpcCalls, RpcBodyError, parseRpcBody, restReply, rpcCallMsg, type RpcCallBody, type RpcTarget } from './rest-rpc.js';
export { NO_REPLY_FROM_RULE_CHAIN, clientRpcRefOf, type ClientRpcRef } from './client-rpc-guard.js';
export { storeRouteResolver, type DeviceRoute, type DeviceRouteResolver } from './rpc-events.js';
export {
  DEFAULT_RPC_SETTINGS,
  RPC_FLAG_ENV,
  RPC_NUMBER_ENV,
  RPC_SUBMIT_STRATEGY_ENV,
  SUBMIT_STRATEGIES,
  parseSubmitStrategy,
  rpcSettingsFromEnv,
  withRpcDefaults,
  type RpcSettings,
  type RpcSubmitStrategy,
} from './rpc-settings.js';
export {
  RPC_STATUSES,
  isRpcStatus,
  type Rpc,
  type RpcError,
  type RpcOutcome,
  type RpcStatus,
  type StoredRpc,
  type ToDeviceRpc,
} from './rpc-types.js';
