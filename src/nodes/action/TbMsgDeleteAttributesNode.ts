import { defineNode, FAILURE, requireStore, SUCCESS, tellFailure, tellSuccess } from '../../engine/node-api.js';
import { processPatterns } from '../../engine/patterns.js';
import { transformMsg } from '../../msg/tb-msg.js';
import { ATTRIBUTE_SCOPES, type AttributeScope } from '../../store/attributes.js';
import { attributeScopeOf, NOTIFY_DEVICE_MD_KEY, parseBoolean } from './TbMsgAttributesNode.js';
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
          // TODO(transport milestone): with sendAttributesDeletedNotification ThingsBoard enqueues an
          // ATTRIBUTES_DELETED message {scope, keys} to the originator's root chain before Success;
          // NodeServices has no such producer yet.
          const notify = scope === 'SHARED_SCOPE' && (config.notifyDevice || parseBoolean(msg.metaData[NOTIFY_DEVICE_MD_KEY]));
          return tellSuccess(transformMsg(msg, { metaData: { ...msg.metaData, [NOTIFY_DEVICE_MD_KEY]: String(notify) } }));
        } catch (e) {
          return tellFailure(msg, e);
        }
      },
    };
  },
});
