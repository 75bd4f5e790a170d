// What rule nodes use of device RPC (NodeServices.rpc): the two RPC nodes and nothing else.
import type { TbMsg } from '../msg/tb-msg.js';
import type { RpcOutcome, ToDeviceRpc } from './rpc-types.js';

export interface DeviceRpcApi {
  /**
   * Sends a server-side command to a device, wherever its RPC state lives. Resolves with the
   * outcome: the device's reply, `{"rpcId"}` for a persistent RPC, an empty success for a one-way
   * command, or an error (TIMEOUT at expiration + 1 s at the latest). Never rejects.
   */
  sendToDevice(request: ToDeviceRpc): Promise<RpcOutcome>;

  /**
   * Answers a device's own request `requestId` on session `sessionId` of transport `serviceId`
   * (spec/rpc.md §8.2). Silently dropped when that session is gone. Resolves once handed over.
   */
  sendToServerRpcReply(serviceId: string, sessionId: string, requestId: number, payload: string): Promise<void>;

  /** Gives a REST caller (waiting in `originServiceId`) the outcome of RPC `requestUUID`. */
  answerRestCall(originServiceId: string, requestUUID: string, outcome: RpcOutcome): Promise<void>;

  /**
   * The RPC request node took `msg` and queues its outcome later as the message with id
   * `nextMsgId`: a client-side request it belongs to must not be answered "no reply" meanwhile.
   */
  expectClientRpcContinuation(msg: TbMsg, nextMsgId: string): Promise<void>;
}

/** The RPC service of a node's services (NodeServices.rpc). */
export function rpcServiceOf(services: { readonly rpc?: DeviceRpcApi }): DeviceRpcApi | undefined {
  return services.rpc;
}
