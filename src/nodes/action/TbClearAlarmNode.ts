import { defineNode, FAILURE, FALSE, requireStore, tell, tellFailure, tellSuccess } from '../../engine/node-api.js';
import { processPattern } from '../../engine/patterns.js';
import {
  ALARM_DETAILS_BUILD_JS_TEMPLATE,
  ALARM_DETAILS_BUILD_TBEL_TEMPLATE,
  alarmMsg,
  alarmScriptProperties,
  buildAlarmDetails,
  compileDetailsScript,
  type AlarmNodeConfig,
} from './TbCreateAlarmNode.js';
import { tenantOf } from './TbMsgTimeseriesNode.js';
import { MsgType } from '../../msg/msg-types.js';
import { enqueueAlarmAction } from './entity-action-msg.js';

export type TbClearAlarmNodeConfig = AlarmNodeConfig;

const CLEARED = 'Cleared';

/**
 * Clears the originator's active alarm of alarmType (or, when the originator is an ALARM, that
 * alarm). The details script runs with the old details in metadata.prevAlarmDetails; its result
 * replaces them (null keeps them). Output: an ALARM message with the alarm JSON and metadata
 * isClearedAlarm via "Cleared"; the original message via "False" when there is no uncleared
 * alarm. When the alarm was cleared by someone else meanwhile, the original message goes to
 * "Success", as in ThingsBoard (which has no such connection in its UI).
 */
export const TbClearAlarmNode = defineNode<TbClearAlarmNodeConfig>({
  type: 'org.thingsboard.rule.engine.action.TbClearAlarmNode',
  category: 'ACTION',
  uiName: 'clear alarm',
  version: 0,
  relations: [CLEARED, FALSE, FAILURE],
  configSchema: { type: 'object', properties: alarmScriptProperties },
  defaultConfig: {
    scriptLang: 'TBEL',
    alarmDetailsBuildJs: ALARM_DETAILS_BUILD_JS_TEMPLATE,
    alarmDetailsBuildTbel: ALARM_DETAILS_BUILD_TBEL_TEMPLATE,
    alarmType: 'General Alarm',
  },
  create(config, init) {
    const store = requireStore(init);
    const script = compileDetailsScript(config, init);
    return {
      async onMsg(msg) {
        try {
          const tenantId = tenantOf(msg);
          const alarm =
            msg.originator.entityType === 'ALARM'
              ? await store.alarms.get(tenantId, msg.originator.id)
              : await store.alarms.findActive(tenantId, msg.originator, processPattern(config.alarmType, msg));
          if (alarm === null || alarm.cleared) return tell(msg, FALSE);
          const details = buildAlarmDetails(script, msg, alarm.details);
          const result = await store.alarms.clear(tenantId, alarm.id.id, { ts: init.services.now(), details: details ?? undefined });
          if (!result.modified) return tellSuccess(msg);
          await enqueueAlarmAction(init, MsgType.ALARM_CLEAR, result.alarm);
          return tell(alarmMsg(msg, result.alarm, 'isClearedAlarm'), CLEARED);
        } catch (e) {
          return tellFailure(msg, e);
        }
      },
      destroy() {
        script.dispose?.();
      },
    };
  },
});
