// Every Redis key of device RPC, hash-tagged like src/store/keys.ts (same prefix, escaped parts).
//
//   {rpc:<deviceId>}    one device's RPC state: stored RPCs, their index, the open ones, the
//                       request-id counter and the owner lease. Each status change is one slot.
//   {rpcid:<rpcId>}     rpcId → device (GET /api/rpc/persistent/{rpcId} knows only the id)
//   {rpct:<tenantId>}   a tenant's RPCs by created time (TTL clean-up)
//   {rpcg}              devices that have open RPCs (recovery), the TTL job's lock
//   {crpc:<s>/<s>/<r>}  one client-side request's marks (beyond-thingsboard #6)
import { keyPart } from '../store/keys.js';

export class RpcKeys {
  constructor(readonly prefix: string) {}

  private dev(deviceId: string): string {
    return `${this.prefix}:{rpc:${keyPart(deviceId)}}`;
  }

  /** STRING StoredRpc JSON */
  doc(deviceId: string, rpcId: string): string {
    return `${this.dev(deviceId)}:doc:${keyPart(rpcId)}`;
  }
  /** ZSET createdTime → rpcId */
  all(deviceId: string): string {
    return `${this.dev(deviceId)}:all`;
  }
  /** SET of rpcIds not in a final status */
  open(deviceId: string): string {
    return `${this.dev(deviceId)}:open`;
  }
  /** Counter: the device-facing request ids (INCR, never reset). */
  seq(deviceId: string): string {
    return `${this.dev(deviceId)}:seq`;
  }
  /** STRING service id of the process that owns the device's RPC state. */
  owner(deviceId: string): string {
    return `${this.dev(deviceId)}:owner`;
  }
  /** STRING JSON {tenantId, deviceId} */
  byId(rpcId: string): string {
    return `${this.prefix}:{rpcid:${keyPart(rpcId)}}`;
  }
  /** ZSET createdTime → `deviceId/rpcId` */
  tenantAll(tenantId: string): string {
    return `${this.prefix}:{rpct:${keyPart(tenantId)}}:all`;
  }
  /** SET of device ids with open RPCs */
  openDevices(): string {
    return `${this.prefix}:{rpcg}:open-devices`;
  }
  /** STRING lock of the TTL job (one process per interval). */
  ttlLock(): string {
    return `${this.prefix}:{rpcg}:ttl-lock`;
  }

  private client(serviceId: string, sessionId: string, requestId: string): string {
    return `${this.prefix}:{crpc:${keyPart(serviceId)}/${keyPart(sessionId)}/${keyPart(requestId)}}`;
  }
  /** STRING set once the request got its answer (reply node, or the "no reply" error). */
  clientReplied(serviceId: string, sessionId: string, requestId: string): string {
    return `${this.client(serviceId, sessionId, requestId)}:replied`;
  }
  /** Counter: continuations announced minus messages ended (see client-rpc-guard.ts). */
  clientLive(serviceId: string, sessionId: string, requestId: string): string {
    return `${this.client(serviceId, sessionId, requestId)}:live`;
  }
  /** SET of continuation message ids already counted by the RPC request node. */
  clientCounted(serviceId: string, sessionId: string, requestId: string): string {
    return `${this.client(serviceId, sessionId, requestId)}:counted`;
  }
}
