import { defineNode, FAILURE, FALSE, requireStore, tell, tellFailure, TRUE } from '../../engine/node-api.js';
import type { AlarmStatus } from '../../store/alarms.js';
import { tenantOf } from '../action/TbMsgTimeseriesNode.js';

const ALARM_STATUSES: readonly AlarmStatus[] = ['ACTIVE_UNACK', 'ACTIVE_ACK', 'CLEARED_UNACK', 'CLEARED_ACK'];

export interface TbCheckAlarmStatusNodeConfig {
  alarmStatusList: AlarmStatus[];
}

/**
 * ThingsBoard's "alarm status filter": the message data is an alarm (as the alarm nodes emit
 * it); True when the alarm's CURRENT status, read from the store, is in the list, else False.
 * The stored status counts, not the one in the message: the alarm may have been acknowledged or
 * cleared since the message was made.
 */
export const TbCheckAlarmStatusNode = defineNode<TbCheckAlarmStatusNodeConfig>({
  type: 'org.thingsboard.rule.engine.filter.TbCheckAlarmStatusNode',
  category: 'FILTER',
  uiName: 'alarm status filter',
  version: 0,
  relations: [TRUE, FALSE, FAILURE],
  configSchema: {
    type: 'object',
    properties: {
      alarmStatusList: { type: 'array', items: { type: 'string', enum: ALARM_STATUSES }, default: ['ACTIVE_ACK', 'ACTIVE_UNACK'] },
    },
  },
  defaultConfig: { alarmStatusList: ['ACTIVE_ACK', 'ACTIVE_UNACK'] },
  create(config, init) {
    const store = requireStore(init);
    const wanted = new Set<string>(config.alarmStatusList);
    return {
      async onMsg(msg) {
        const alarmId = alarmIdOf(msg.data);
        if (alarmId === null) return tellFailure(msg, 'the message data is not an alarm: expected a JSON object with an alarm id');
        try {
          const alarm = await store.alarms.get(tenantOf(msg), alarmId);
          if (alarm === null) return tellFailure(msg, `No alarm found with id: ${alarmId}`);
          return tell(msg, wanted.has(alarm.status) ? TRUE : FALSE);
        } catch (e) {
          return tellFailure(msg, e);
        }
      },
    };
  },
});

/** The id of an alarm JSON: `{"id": {"entityType": "ALARM", "id": "…"}}` as ThingsBoard writes it, or a plain string id. */
function alarmIdOf(data: string): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  const id: unknown = (parsed as { id?: unknown }).id;
  if (typeof id === 'string' && id !== '') return id;
  if (typeof id === 'object' && id !== null) {
    const inner: unknown = (id as { id?: unknown }).id;
    if (typeof inner === 'string' && inner !== '') return inner;
  }
  return null;
}
