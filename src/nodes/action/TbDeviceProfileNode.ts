import { defineNode, FAILURE, requireStore, SUCCESS, tellFailure, tellSuccess } from '../../engine/node-api.js';
import { tenantOf } from './TbMsgTimeseriesNode.js';

export interface TbDeviceProfileNodeConfig {
  persistAlarmRulesState: boolean;
  fetchAlarmRulesStateOnStart: boolean;
}

/** Message types after which ThingsBoard only refreshes its caches and goes on. */
const CACHE_EVENTS = new Set(['ENTITY_UPDATED', 'ENTITY_DELETED']);

/**
 * ThingsBoard's deprecated device profile node, which evaluates the alarm rules of the device's
 * profile. rpc-chains does not evaluate device-profile alarm rules: every message goes to
 * Success, as in ThingsBoard when no alarm changed. Like ThingsBoard, a message from a device
 * that no longer exists ends here (its branch is done, nothing follows).
 */
export const TbDeviceProfileNode = defineNode<TbDeviceProfileNodeConfig>({
  type: 'org.thingsboard.rule.engine.profile.TbDeviceProfileNode',
  category: 'ACTION',
  uiName: 'device profile (deprecated)',
  version: 1,
  relations: ['Alarm Created', 'Alarm Updated', 'Alarm Severity Updated', 'Alarm Cleared', SUCCESS, FAILURE],
  customRelations: true,
  configSchema: {
    type: 'object',
    properties: {
      persistAlarmRulesState: { type: 'boolean', default: false },
      fetchAlarmRulesStateOnStart: { type: 'boolean', default: false },
    },
  },
  defaultConfig: { persistAlarmRulesState: false, fetchAlarmRulesStateOnStart: false },
  upgrade(fromVersion, config) {
    if (fromVersion !== 0 || !Object.hasOwn(config, 'persistAlarmRulesState')) return config;
    // Jackson's asBoolean(): true only for true or the text "true".
    const value = config.persistAlarmRulesState;
    const persist = value === true || (typeof value === 'string' && value.trim() === 'true');
    return persist ? config : { ...config, fetchAlarmRulesStateOnStart: false };
  },
  create(_config, init) {
    const store = requireStore(init);
    return {
      async onMsg(msg) {
        if (msg.originator.entityType !== 'DEVICE' || CACHE_EVENTS.has(msg.type)) return tellSuccess(msg);
        try {
          const device = await store.devices.findById(tenantOf(msg), msg.originator.id);
          if (device === null) {
            init.services.logger.info(`Device was not found! Most probably device [${msg.originator.id}] has been removed from the database. Acknowledging msg.`);
            return undefined;
          }
          return tellSuccess(msg);
        } catch (e) {
          return tellFailure(msg, e);
        }
      },
    };
  },
});
