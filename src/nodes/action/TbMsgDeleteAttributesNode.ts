import { defineNode, FAILURE, requireStore, SUCCESS, tellFailure, tellSuccess } from '../../engine/node-api.js';
import { processPatterns } from '../../engine/patterns.js';
import { transformMsg } from '../../msg/tb-msg.js';
import { ATTRIBUTE_SCOPES, type AttributeScope } from '../../store/attributes.js';
import { MsgType } from '../../msg/msg-types.js';
import { attributeScopeOf, notifyDevice, NOTIFY_DEVICE_MD_KEY, parseBoolean } from './TbMsgAttributesNode.js';
import { enqueueEntityAction } from './entity-action-msg.js';
import { tenantOf } from './TbMsgTimeseriesNode.js';

export interface TbMsgDeleteAttributesNodeConfig {
  scope: AttributeScope;
  /** Key names; `${metadataKey}` and `$[data.path]` patterns are replaced from the message. */
  keys: string[];
  sendAttributesDeletedNotification: boolean;
  notifyDevice: boolean;
}

/**
 * Deletes the listed attribute keys (after pattern substitution; blank and repeated keys
 * dropped) of the originator in metadata.scope or the configured scope, then Success. Keys
 * the originator does not have are ignored. The message goes on unchanged except for
 * metadata.notifyDevice when something was deleted: ThingsBoard notifies the device only for
 * SHARED_SCOPE, when config.notifyDevice or metadata.notifyDevice is "true".
 */
export const TbMsgDeleteAttributesNode = defineNode<TbMsgDeleteAttributesNodeConfig>({
  type: 'org.thingsboard.rule.engine.telemetry.TbMsgDeleteAttributesNode',
  category: 'ACTION',
  uiName: 'delete attributes',
  version: 0,
  relations: [SUCCESS, FAILURE],
  configSchema: {
    type: 'object',
    properties: {
      scope: { type: 'string', enum: ATTRIBUTE_SCOPES, default: 'SERVER_SCOPE' },
      keys: { type: 'array', items: { type: 'string' }, default: [] },
      sendAttributesDeletedNotification: { type: 'boolean', default: false },
      notifyDevice: { type: 'boolean', default: false },
    },
  },
  defaultConfig: { scope: 'SERVER_SCOPE', keys: [], sendAttributesDeletedNotification: false, notifyDevice: false },
  create(config, init) {
    const store = requireStore(init);
    return {
      async onMsg(msg) {
        try {
          tenantOf(msg);
          const keys = [...new Set(processPatterns(config.keys, msg))].filter((k) => k.trim() !== '');
          if (keys.length === 0) return tellSuccess(msg);
          const scope = attributeScopeOf(msg, config.scope);
          await store.attributes.delete(msg.originator, scope, keys);
          if (config.sendAttributesDeletedNotification) {
            await enqueueEntityAction(init, { type: MsgType.ATTRIBUTES_DELETED, originator: msg.originator, tenantId: tenantOf(msg), customerId: msg.customerId, data: { attributes: keys }, metaData: { scope } });
          }
          const notify = scope === 'SHARED_SCOPE' && (config.notifyDevice || parseBoolean(msg.metaData[NOTIFY_DEVICE_MD_KEY]));
          if (notify && msg.originator.entityType === 'DEVICE') await notifyDevice(init, msg.originator.id, { deleted: keys });
          return tellSuccess(transformMsg(msg, { metaData: { ...msg.metaData, [NOTIFY_DEVICE_MD_KEY]: String(notify) } }));
        } catch (e) {
          return tellFailure(msg, e);
        }
      },
    };
  },
});
