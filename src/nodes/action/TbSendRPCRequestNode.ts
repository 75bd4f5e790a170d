import { randomUUID } from 'node:crypto';
import { defineNode, errorText, FAILURE, SUCCESS, tellFailure } from '../../engine/node-api.js';
import { MsgType } from '../../msg/msg-types.js';
import { isPlainObject, transformMsg, type TbMsg } from '../../msg/tb-msg.js';
import { clientRpcRefOf } from '../../rpc/client-rpc-guard.js';
import { rpcServiceOf } from '../../rpc/device-rpc-api.js';
import { parseJavaBoolean, parseJavaInt, parseJavaLong } from '../../rpc/java-parse.js';
import { timeBasedUuid } from '../../rpc/time-uuid.js';
import type { RpcOutcome, ToDeviceRpc } from '../../rpc/rpc-types.js';

export interface SendRpcRequestConfig {
  timeoutInSeconds: number;
}

const UUID = /^[0-9a-fA-F]{1,8}-[0-9a-fA-F]{1,4}-[0-9a-fA-F]{1,4}-[0-9a-fA-F]{1,4}-[0-9a-fA-F]{1,12}$/;

/** Gson's "primitive → its string, anything else → JSON text" (params, additionalInfo). */
function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** The request the message describes, or the Failure text (spec/rpc.md §4, checks in ThingsBoard's order). */
function requestOf(msg: TbMsg, timeoutInSeconds: number, now: number): ToDeviceRpc | string {
  let data: unknown;
  try {
    data = JSON.parse(msg.data) as unknown;
  } catch {
    data = undefined;
  }
  if (!isPlainObject(data)) return `Not a JSON Object: ${msg.data}`;
  if (msg.originator.entityType !== 'DEVICE') return 'Message originator is not a device entity!';
  if (!('method' in data)) return 'Method is not present in the message!';
  if (!('params' in data)) return 'Params are not present in the message!';
  const method = data.method;
  if (typeof method !== 'string' && typeof method !== 'number' && typeof method !== 'boolean') return 'Method is not a JSON primitive!';
  const md = msg.metaData;
  try {
    const uuid = md.requestUUID;
    if (uuid && !UUID.test(uuid)) return `Invalid UUID string: ${uuid}`;
    return {
      id: uuid ? uuid.toLowerCase() : timeBasedUuid(now),
      tenantId: msg.tenantId ?? '',
      deviceId: msg.originator.id,
      oneway: parseJavaBoolean(md.oneway),
      expirationTime: md.expirationTime ? parseJavaLong(md.expirationTime) : now + timeoutInSeconds * 1000,
      method: String(method),
      params: textOf(data.params),
      persisted: parseJavaBoolean(md.persistent),
      retries: md.retries ? parseJavaInt(md.retries) : null,
      additionalInfo: 'additionalInfo' in data ? textOf(data.additionalInfo) : null,
    };
  } catch (e) {
    return errorText(e);
  }
}

/**
 * "rpc call request": sends the message's {method, params} to the originator device as a server-side
 * RPC. The message is acknowledged at once; the outcome comes later as a new message with the same
 * type, originator and metadata: Success with the device's reply (`{}` when there is none,
 * `{"rpcId"}` for a persistent RPC), Failure with `{"error": "<RpcError>"}`. A REST-originated call
 * (RPC_CALL_FROM_SERVER_TO_DEVICE with originServiceId) also gets the outcome sent to the API process
 * waiting for it, whichever process runs this node.
 */
export const TbSendRPCRequestNode = defineNode<SendRpcRequestConfig>({
  type: 'org.thingsboard.rule.engine.rpc.TbSendRPCRequestNode',
  category: 'ACTION',
  uiName: 'rpc call request',
  version: 0,
  relations: [SUCCESS, FAILURE],
  configSchema: {
    type: 'object',
    properties: {
      timeoutInSeconds: { type: 'integer', minimum: 0, default: 60 },
    },
  },
  defaultConfig: { timeoutInSeconds: 60 },
  create(config, init) {
    const log = init.services.logger;
    const name = init.self.name;

    const outcomeMsg = (msg: TbMsg, id: string, outcome: RpcOutcome): { msg: TbMsg; relation: string } =>
      outcome.error === null
        ? { msg: { ...transformMsg(msg, { data: outcome.response || '{}' }), id }, relation: SUCCESS }
        : { msg: { ...transformMsg(msg, { data: JSON.stringify({ error: outcome.error }) }), id }, relation: FAILURE };

    return {
      async onMsg(msg, ctx) {
        const request = requestOf(msg, config.timeoutInSeconds, ctx.services.now());
        if (typeof request === 'string') return tellFailure(msg, request);
        const rpc = rpcServiceOf(ctx.services);
        if (!rpc) return tellFailure(msg, 'The device RPC service is not available in this run');
        const restCall = msg.type === MsgType.RPC_CALL_FROM_SERVER_TO_DEVICE;
        const originServiceId = msg.metaData.originServiceId;
        const nextId = randomUUID();
        // A client-side request this message carries must wait for our outcome message.
        await rpc.expectClientRpcContinuation(msg, nextId).catch((e: unknown) => log.warn(`"${name}": ${errorText(e)}`));
        ctx.ack();
        void rpc
          .sendToDevice(request)
          .then(async (outcome) => {
            if (restCall && originServiceId) {
              await rpc.answerRestCall(originServiceId, request.id, outcome).catch((e: unknown) => {
                log.warn(`"${name}": could not answer the REST call ${request.id} on ${originServiceId}: ${errorText(e)}`);
              });
            }
            const next = outcomeMsg(msg, nextId, outcome);
            // No connection would take the outcome (the shipped root chain): queueing it would only
            // end it there, a BullMQ job per RPC for nothing. A client-side request's outcome is
            // still queued, since its end is what answers the device (beyond-thingsboard #6).
            if (ctx.hasConnection?.(next.relation) === false && clientRpcRefOf(msg) === null) {
              if (next.relation === FAILURE) log.warn(`"${name}": RPC ${request.id} failed (${next.msg.data}) and no Failure connection takes it`);
              return;
            }
            await ctx.enqueueForTellNext(next.msg, next.relation);
          })
          .catch((e: unknown) => log.warn(`"${name}": could not queue the outcome of RPC ${request.id}: ${errorText(e)}`));
        return undefined;
      },
    };
  },
});
