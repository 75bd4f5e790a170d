// What device RPC sends between processes over the service bus (beyond-thingsboard #5): topics and
// payloads, all JSON.
import type { RpcDeliveryStatus, ToDeviceRpcRequest, TransportProtocol } from '../transport/transport-api.js';
import type { RpcOutcome, ToDeviceRpc } from './rpc-types.js';

/** To a device's owner: an operation on its RPC state (forwarded when it arrived elsewhere). */
export const TOPIC_DEVICE_OP = 'rpc.device.op';
/** Owner → the process holding a session: send this command to it. */
export const TOPIC_SESSION_SEND = 'rpc.session.send';
/** Rule engine → the transport holding a session: the chain's answer to a client-side request. */
export const TOPIC_SESSION_REPLY = 'rpc.session.reply';
/** Owner → the process whose caller (a rule node) waits for the outcome. */
export const TOPIC_OUTCOME = 'rpc.outcome';
/** Rule engine → the API process whose REST caller waits (metadata originServiceId). */
export const TOPIC_REST_OUTCOME = 'rpc.rest.outcome';

/** A session as the owner knows it: where it lives and whether one command ends its subscription. */
export interface SessionRef {
  readonly sessionId: string;
  readonly serviceId: string;
  readonly protocol: TransportProtocol;
}

/** Operations on one device's RPC state; every one is handled by the device's owner. */
export type DeviceOp =
  | { readonly kind: 'request'; readonly rpc: ToDeviceRpc; readonly replyTo: string }
  | { readonly kind: 'remove'; readonly rpcId: string }
  | { readonly kind: 'subscribe'; readonly session: SessionRef }
  | { readonly kind: 'unsubscribe'; readonly session: SessionRef }
  | { readonly kind: 'sessionClosed'; readonly session: SessionRef }
  | { readonly kind: 'status'; readonly session: SessionRef; readonly requestId: number; readonly status: RpcDeliveryStatus }
  | { readonly kind: 'response'; readonly session: SessionRef; readonly requestId: number; readonly payload: string }
  | { readonly kind: 'error'; readonly session: SessionRef; readonly requestId: number; readonly error: string }
  /** Take the device over if its owner is gone, and resume its open RPCs. */
  | { readonly kind: 'recover' };

export interface DeviceOpMsg {
  readonly deviceId: string;
  readonly op: DeviceOp;
  /** Forwards so far: a guard against ping-pong while ownership moves. */
  readonly hops: number;
}

export interface SessionSendMsg {
  readonly deviceId: string;
  readonly sessionId: string;
  readonly request: ToDeviceRpcRequest;
  /** Where to report that the session is gone. */
  readonly owner: string;
}

export interface SessionReplyMsg {
  readonly sessionId: string;
  readonly requestId: number;
  readonly payload: string;
}

export interface OutcomeMsg {
  readonly id: string;
  readonly outcome: RpcOutcome;
}
