import {
  defineNode,
  FAILURE,
  FALSE,
  type NodeInit,
  NodeConfigError,
  requireStore,
  tell,
  tellFailure,
} from '../../engine/node-api.js';
import { processPattern } from '../../engine/patterns.js';
import type { RuleScript, ScriptLang } from '../../engine/script/script-api.js';
import { compileConfiguredScript } from '../../engine/script/script-config.js';
import { isEntityType, type EntityId } from '../../msg/entity.js';
import { isPlainObject, transformMsg, type TbMsg } from '../../msg/tb-msg.js';
import { ALARM_SEVERITIES, type Alarm, type AlarmInput, type AlarmSeverity } from '../../store/alarms.js';
import { isNullUuid } from '../../store/ids.js';
import type { JsonValue } from '../../store/json.js';
import type { Store } from '../../store/store.js';
import { metaDataTs, parseJsonData, tenantOf } from './TbMsgTimeseriesNode.js';
import { MsgType } from '../../msg/msg-types.js';
import { enqueueAlarmAction } from './entity-action-msg.js';

// ---------------------------------------------------------------------------------------------
// Shared with the clear alarm node (ThingsBoard's TbAbstractAlarmNode).

/** ThingsBoard's default details scripts (TbAbstractAlarmNodeConfiguration). */
export const ALARM_DETAILS_BUILD_JS_TEMPLATE =
  'var details = {};\n' +
  'if (metadata.prevAlarmDetails) {\n' +
  '    details = JSON.parse(metadata.prevAlarmDetails);\n' +
  '    //remove prevAlarmDetails from metadata\n' +
  '    delete metadata.prevAlarmDetails;\n' +
  '    //now metadata is the same as it comes IN this rule node\n' +
  '}\n' +
  '\n' +
  '\n' +
  'return details;';

export const ALARM_DETAILS_BUILD_TBEL_TEMPLATE =
  'var details = {};\n' +
  'if (metadata.prevAlarmDetails != null) {\n' +
  '    details = JSON.parse(metadata.prevAlarmDetails);\n' +
  '    //remove prevAlarmDetails from metadata\n' +
  "    metadata.remove('prevAlarmDetails');\n" +
  '    //now metadata is the same as it comes IN this rule node\n' +
  '}\n' +
  '\n' +
  '\n' +
  'return details;';

export const PREV_ALARM_DETAILS = 'prevAlarmDetails';
export const ALARM_MSG_TYPE = 'ALARM';

export interface AlarmNodeConfig {
  /** null or missing means JS (exports older than 3.5). */
  scriptLang?: ScriptLang | null;
  alarmDetailsBuildJs?: string;
  alarmDetailsBuildTbel?: string;
  /** Patterns allowed. */
  alarmType: string;
}

export const alarmScriptProperties = {
  scriptLang: { type: 'string', enum: ['JS', 'TBEL'] },
  alarmDetailsBuildJs: { type: 'string' },
  alarmDetailsBuildTbel: { type: 'string' },
  alarmType: { type: 'string', default: 'General Alarm' },
} as const;

/** The details script (msg, metadata, msgType), compiled once; config errors point at the alarm keys. */
export function compileDetailsScript(config: AlarmNodeConfig, init: NodeInit): RuleScript {
  try {
    return compileConfiguredScript(
      { scriptLang: config.scriptLang, jsScript: config.alarmDetailsBuildJs, tbelScript: config.alarmDetailsBuildTbel },
      init,
    );
  } catch (e) {
    if (!(e instanceof NodeConfigError)) throw e;
    throw new NodeConfigError(e.message, e.pointer === '/tbelScript' ? '/alarmDetailsBuildTbel' : '/alarmDetailsBuildJs');
  }
}

/**
 * Runs the details script; with an alarm already there, its details are in
 * metadata.prevAlarmDetails (JSON text), as ThingsBoard does. Any JSON result is the details.
 */
export function buildAlarmDetails(script: RuleScript, msg: TbMsg, previous: JsonValue | null | undefined): JsonValue | null {
  const metaData = previous === null || previous === undefined ? msg.metaData : { ...msg.metaData, [PREV_ALARM_DETAILS]: JSON.stringify(previous) };
  const result = script.run(msg.data, metaData, msg.type);
  return result === undefined ? null : (result as JsonValue);
}

/** ThingsBoard's toAlarmMsg: type ALARM, data = the alarm JSON, metadata + one flag ("true"); same id. */
export function alarmMsg(msg: TbMsg, alarm: Alarm, flag: 'isNewAlarm' | 'isExistingAlarm' | 'isClearedAlarm'): TbMsg {
  return transformMsg(msg, { type: ALARM_MSG_TYPE, data: JSON.stringify(alarm), metaData: { ...msg.metaData, [flag]: 'true' } });
}

// ---------------------------------------------------------------------------------------------

export interface TbCreateAlarmNodeConfig extends AlarmNodeConfig {
  /** A severity name; with dynamicSeverity a pattern giving one. */
  severity: string;
  propagate: boolean;
  propagateToOwner: boolean;
  propagateToTenant: boolean;
  /** Take type, severity, propagation (and details) from the message data, an Alarm JSON. */
  useMessageAlarmData: boolean;
  /** With useMessageAlarmData: build the details with the script anyway. */
  overwriteAlarmDetails: boolean;
  /** Relation types to propagate along (stored only: rpc-chains does not propagate alarms). */
  relationTypes: string[];
  dynamicSeverity: boolean;
}

const CREATED = 'Created';
const UPDATED = 'Updated';

/** A severity name, or null. */
function severityOf(text: unknown): AlarmSeverity | null {
  return typeof text === 'string' && (ALARM_SEVERITIES as readonly string[]).includes(text) ? (text as AlarmSeverity) : null;
}

/** The alarm ThingsBoard reads from msg.data with useMessageAlarmData (Jackson into Alarm; originator defaults to the message's). */
interface MsgAlarm {
  readonly type: string;
  readonly severity: AlarmSeverity;
  readonly originator: EntityId;
  readonly details: JsonValue | null;
  readonly startTs: number;
  readonly propagate: boolean;
  readonly propagateToOwner: boolean;
  readonly propagateToTenant: boolean;
  readonly propagateRelationTypes: string[];
}

function alarmFromMessage(msg: TbMsg): MsgAlarm {
  const data = parseJsonData(msg);
  if (!isPlainObject(data)) throw new Error('Msg data is not an alarm JSON object');
  if (typeof data.type !== 'string' || data.type === '') throw new Error('Alarm type should be specified!');
  const severity = severityOf(data.severity);
  if (severity === null) throw new Error(`Alarm severity should be one of ${ALARM_SEVERITIES.join(', ')}, got ${JSON.stringify(data.severity) ?? 'nothing'}`);
  const o = data.originator;
  const originator = isPlainObject(o) && isEntityType(o.entityType) && typeof o.id === 'string' ? { entityType: o.entityType, id: o.id } : msg.originator;
  const types = Array.isArray(data.propagateRelationTypes) ? data.propagateRelationTypes.filter((t): t is string => typeof t === 'string') : [];
  return {
    type: data.type,
    severity,
    originator,
    details: data.details === undefined ? null : (data.details as JsonValue),
    startTs: typeof data.startTs === 'number' && data.startTs > 0 ? data.startTs : 0,
    propagate: data.propagate === true,
    propagateToOwner: data.propagateToOwner === true,
    propagateToTenant: data.propagateToTenant === true,
    propagateRelationTypes: types,
  };
}

/** ThingsBoard's fetchEntityCustomerId for the originators rpc-chains keeps; else the message's customer. */
async function customerOf(store: Store, tenantId: string, originator: EntityId, msg: TbMsg): Promise<string | undefined> {
  if (originator.entityType === 'CUSTOMER') return originator.id;
  if (originator.entityType === 'DEVICE') {
    const device = await store.devices.findById(tenantId, originator.id);
    return device && !isNullUuid(device.customerId.id) ? device.customerId.id : undefined;
  }
  return msg.customerId && !isNullUuid(msg.customerId) ? msg.customerId : undefined;
}

/**
 * Creates an alarm of alarmType for the originator, or updates its active (uncleared) one:
 * severity, details (script result; metadata.prevAlarmDetails holds the old details),
 * propagation flags, endTs = now. A new alarm starts at metadata.ts. The output is an ALARM
 * message whose data is the alarm JSON, with metadata isNewAlarm ("Created") or
 * isExistingAlarm ("Updated"). "False" (no alarm) cannot happen here: ThingsBoard uses it when
 * alarm creation is disabled by API limits, which rpc-chains does not have.
 */
export const TbCreateAlarmNode = defineNode<TbCreateAlarmNodeConfig>({
  type: 'org.thingsboard.rule.engine.action.TbCreateAlarmNode',
  category: 'ACTION',
  uiName: 'create alarm',
  version: 0,
  relations: [CREATED, UPDATED, FALSE, FAILURE],
  configSchema: {
    type: 'object',
    properties: {
      ...alarmScriptProperties,
      severity: { type: 'string', default: 'CRITICAL' },
      propagate: { type: 'boolean', default: false },
      propagateToOwner: { type: 'boolean', default: false },
      propagateToTenant: { type: 'boolean', default: false },
      useMessageAlarmData: { type: 'boolean', default: false },
      // A missing key reads true in ThingsBoard (the field's initializer), so it is typed as a
      // one-element list to stay out of the importer's "missing boolean → false" rule.
      overwriteAlarmDetails: { type: ['boolean'], default: true },
      relationTypes: { type: 'array', items: { type: 'string' }, default: [] },
      dynamicSeverity: { type: 'boolean', default: false },
    },
  },
  defaultConfig: {
    scriptLang: 'TBEL',
    alarmDetailsBuildJs: ALARM_DETAILS_BUILD_JS_TEMPLATE,
    alarmDetailsBuildTbel: ALARM_DETAILS_BUILD_TBEL_TEMPLATE,
    alarmType: 'General Alarm',
    severity: 'CRITICAL',
    propagate: false,
    propagateToOwner: false,
    propagateToTenant: false,
    useMessageAlarmData: false,
    overwriteAlarmDetails: false,
    relationTypes: [],
    dynamicSeverity: false,
  },
  create(config, init) {
    const store = requireStore(init);
    const fixedSeverity = severityOf(config.severity);
    if (!config.dynamicSeverity && fixedSeverity === null) {
      throw new NodeConfigError(`Incorrect Alarm Severity value: ${config.severity}`, '/severity');
    }
    const script = compileDetailsScript(config, init);
    const buildDetails = !config.useMessageAlarmData || config.overwriteAlarmDetails;
    const severityFor = (msg: TbMsg): AlarmSeverity => {
      const severity = severityOf(processPattern(config.severity, msg));
      if (severity === null) throw new Error('Used incorrect pattern or Alarm Severity not included in message');
      return severity;
    };
    return {
      async onMsg(msg) {
        try {
          const tenantId = tenantOf(msg);
          const fromMsg = config.useMessageAlarmData ? alarmFromMessage(msg) : null;
          const alarmType = fromMsg ? fromMsg.type : processPattern(config.alarmType, msg);
          const existing = await store.alarms.findActive(tenantId, msg.originator, alarmType);
          const details = buildDetails ? buildAlarmDetails(script, msg, existing?.details) : (fromMsg?.details ?? null);
          const propagation = fromMsg
            ? {
                propagate: fromMsg.propagate,
                propagateToOwner: fromMsg.propagateToOwner,
                propagateToTenant: fromMsg.propagateToTenant,
                propagateRelationTypes: fromMsg.propagateRelationTypes,
              }
            : {
                propagate: config.propagate,
                propagateToOwner: config.propagateToOwner,
                propagateToTenant: config.propagateToTenant,
                propagateRelationTypes: config.relationTypes,
              };
          let input: AlarmInput;
          if (existing) {
            // Update: the severity pattern is always resolved here, as in ThingsBoard.
            const severity = fromMsg ? fromMsg.severity : severityFor(msg);
            input = { type: alarmType, originator: existing.originator, severity, details, ts: init.services.now(), ...propagation };
          } else {
            const originator = fromMsg ? fromMsg.originator : msg.originator;
            const severity = fromMsg ? fromMsg.severity : config.dynamicSeverity ? severityFor(msg) : (fixedSeverity as AlarmSeverity);
            const ts = fromMsg ? fromMsg.startTs || init.services.now() : metaDataTs(msg);
            const customerId = await customerOf(store, tenantId, originator, msg);
            input = { type: alarmType, originator, severity, details, ts, customerId, ...propagation };
          }
          const result = await store.alarms.createOrUpdateActive(tenantId, input);
          await enqueueAlarmAction(init, result.created ? MsgType.ENTITY_CREATED : MsgType.ENTITY_UPDATED, result.alarm);
          return result.created ? tell(alarmMsg(msg, result.alarm, 'isNewAlarm'), CREATED) : tell(alarmMsg(msg, result.alarm, 'isExistingAlarm'), UPDATED);
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
