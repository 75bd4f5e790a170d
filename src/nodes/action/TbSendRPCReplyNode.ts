import { defineNode, errorText, FAILURE, SUCCESS, tellFailure, tellSuccess } from '../../engine/node-api.js';
import { rpcServiceOf } from '../../rpc/device-rpc-api.js';
import { parseJavaInt } from '../../rpc/java-parse.js';

export interface SendRpcReplyConfig {
  serviceIdMetaDataAttribute: string;
  sessionIdMetaDataAttribute: string;
  requestIdMetaDataAttribute: string;
}

const DEFAULTS: SendRpcReplyConfig = {
  serviceIdMetaDataAttribute: 'serviceId',
  sessionIdMetaDataAttribute: 'sessionId',
  requestIdMetaDataAttribute: 'requestId',
};

/**
 * "rpc call reply": answers a device's client-side request with the message data (spec/rpc.md §8.2).
 * The request is addressed only by three metadata values (transport service, session, request id),
 * read under the configured keys (empty → the default key). Success at once, without waiting for
 * delivery; a reply to a session that is gone is dropped silently. Edge events are not supported:
 * an `edgeId` in the metadata is ignored.
 */
export const TbSendRPCReplyNode = defineNode<SendRpcReplyConfig>({
  type: 'org.thingsboard.rule.engine.rpc.TbSendRPCReplyNode',
  category: 'ACTION',
  uiName: 'rpc call reply',
  version: 0,
  relations: [SUCCESS, FAILURE],
  configSchema: {
    type: 'object',
    properties: {
      serviceIdMetaDataAttribute: { type: 'string', default: DEFAULTS.serviceIdMetaDataAttribute },
      sessionIdMetaDataAttribute: { type: 'string', default: DEFAULTS.sessionIdMetaDataAttribute },
      requestIdMetaDataAttribute: { type: 'string', default: DEFAULTS.requestIdMetaDataAttribute },
    },
  },
  defaultConfig: { ...DEFAULTS },
  create(config) {
    const serviceKey = config.serviceIdMetaDataAttribute || DEFAULTS.serviceIdMetaDataAttribute;
    const sessionKey = config.sessionIdMetaDataAttribute || DEFAULTS.sessionIdMetaDataAttribute;
    const requestKey = config.requestIdMetaDataAttribute || DEFAULTS.requestIdMetaDataAttribute;
    return {
      async onMsg(msg, ctx) {
        if (msg.originator.entityType !== 'DEVICE') return tellFailure(msg, 'Message originator is not a device entity!');
        const requestIdText = msg.metaData[requestKey];
        const serviceId = msg.metaData[serviceKey];
        const sessionId = msg.metaData[sessionKey];
        if (!requestIdText) return tellFailure(msg, 'Request id is not present in the metadata!');
        if (!serviceId) return tellFailure(msg, 'Service id is not present in the metadata!');
        if (!sessionId) return tellFailure(msg, 'Session id is not present in the metadata!');
        if (!msg.data) return tellFailure(msg, 'Request body is empty!');
        const rpc = rpcServiceOf(ctx.services);
        if (!rpc) return tellFailure(msg, 'The device RPC service is not available in this run');
        try {
          await rpc.sendToServerRpcReply(serviceId, sessionId, parseJavaInt(requestIdText), msg.data);
        } catch (e) {
          return tellFailure(msg, errorText(e));
        }
        return tellSuccess(msg);
      },
    };
  },
});
