import { defineNode, FAILURE, type JsonObject, type NodeInit, requireStore, SUCCESS, tellFailure, tellSuccess } from '../../engine/node-api.js';
import { MsgType } from '../../msg/msg-types.js';
import { isPlainObject, transformMsg, type TbMsg } from '../../msg/tb-msg.js';
import { ATTRIBUTE_SCOPES, type AttributeKv, type AttributeScope } from '../../store/attributes.js';
import type { KvValue } from '../../store/kv.js';
import type { AttributeUpdate } from '../../transport/transport-api.js';
import { enqueueEntityAction } from './entity-action-msg.js';
import {
  convertToKvEntries,
  metaDataTs,
  notAnObject,
  parseJsonData,
  processingDecider,
  processingSettingsSchema,
  tenantOf,
  type ProcessingSettings,
} from './TbMsgTimeseriesNode.js';

/** Metadata keys ThingsBoard's attribute nodes read. */
export const SCOPE_MD_KEY = 'scope';
export const NOTIFY_DEVICE_MD_KEY = 'notifyDevice';

/** metadata.scope when not empty, else the configured scope; an unknown scope is an error. */
export function attributeScopeOf(msg: TbMsg, configScope: AttributeScope): AttributeScope {
  const md = msg.metaData[SCOPE_MD_KEY];
  if (md === undefined || md === '') return configScope;
  if (!(ATTRIBUTE_SCOPES as readonly string[]).includes(md)) {
    throw new Error(`Unknown attribute scope "${md}" in metadata.${SCOPE_MD_KEY}: expected one of ${ATTRIBUTE_SCOPES.join(', ')}`);
  }
  return md as AttributeScope;
}

/** Java's Boolean.parseBoolean. */
export function parseBoolean(text: string | undefined): boolean {
  return text !== undefined && text.toLowerCase() === 'true';
}

/**
 * ThingsBoard's fixEscapedBooleanConfigParameter (v1→v2): a string "true"/"false" becomes a
 * boolean, any other string and a missing or null value become `ifMissing`.
 */
function fixEscapedBoolean(config: JsonObject, key: string, ifMissing: boolean): void {
  const value = config[key];
  if (value === undefined || value === null) config[key] = ifMissing;
  else if (typeof value === 'string') {
    const text = value.trim();
    config[key] = text === 'true' ? true : text === 'false' ? false : ifMissing;
  }
}

const ATTR_ACTIONS = ['attributes', 'webSockets', 'calculatedFields'] as const;
type AttrAction = (typeof ATTR_ACTIONS)[number];

export interface TbMsgAttributesNodeConfig {
  processingSettings: ProcessingSettings<AttrAction>;
  scope: AttributeScope;
  notifyDevice: boolean;
  sendAttributesUpdatedNotification: boolean;
  updateAttributesOnlyOnValueChange: boolean;
}

/** Same JSON type and same JSON text (ThingsBoard compares value and data type). */
function sameValue(a: KvValue, b: KvValue): boolean {
  return typeof a === typeof b && Array.isArray(a) === Array.isArray(b) && JSON.stringify(a) === JSON.stringify(b);
}

function changedOnly(current: readonly AttributeKv[], next: readonly { key: string; value: KvValue }[]): { key: string; value: KvValue }[] {
  const byKey = new Map(current.map((kv) => [kv.key, kv.value]));
  return next.filter((kv) => {
    const old = byKey.get(kv.key);
    return old === undefined || !sameValue(old, kv.value);
  });
}

/**
 * Saves the attributes of a POST_ATTRIBUTES_REQUEST (a JSON object of key → value) for the
 * originator in metadata.scope or the configured scope, lastUpdateTs = now, then Success.
 * With updateAttributesOnlyOnValueChange only new or changed values are written. The message
 * goes on unchanged except for metadata.notifyDevice, the device-notification decision
 * (config.notifyDevice, or metadata.notifyDevice "true" or absent), which the transports act on
 * later. Processing settings as in the save time series node (action "attributes").
 */
export const TbMsgAttributesNode = defineNode<TbMsgAttributesNodeConfig>({
  type: 'org.thingsboard.rule.engine.telemetry.TbMsgAttributesNode',
  category: 'ACTION',
  uiName: 'save attributes',
  version: 3,
  relations: [SUCCESS, FAILURE],
  configSchema: {
    type: 'object',
    properties: {
      processingSettings: processingSettingsSchema(ATTR_ACTIONS),
      scope: { type: 'string', enum: ATTRIBUTE_SCOPES, default: 'SERVER_SCOPE' },
      notifyDevice: { type: 'boolean', default: false },
      sendAttributesUpdatedNotification: { type: 'boolean', default: false },
      updateAttributesOnlyOnValueChange: { type: 'boolean', default: true },
    },
  },
  defaultConfig: {
    processingSettings: { type: 'ON_EVERY_MESSAGE' },
    scope: 'SERVER_SCOPE',
    notifyDevice: false,
    sendAttributesUpdatedNotification: false,
    updateAttributesOnlyOnValueChange: true,
  },
  upgrade(fromVersion, config) {
    const out: JsonObject = { ...config };
    switch (fromVersion) {
      case 0:
        // Nodes saved before the option existed always wrote every value.
        if (!Object.hasOwn(out, 'updateAttributesOnlyOnValueChange')) out.updateAttributesOnlyOnValueChange = false;
        break;
      case 1:
        // Old UIs saved booleans as strings; a missing notifyDevice meant "notify" back then.
        fixEscapedBoolean(out, 'notifyDevice', true);
        fixEscapedBoolean(out, 'sendAttributesUpdatedNotification', false);
        fixEscapedBoolean(out, 'updateAttributesOnlyOnValueChange', true);
        break;
      case 2:
        out.processingSettings = { type: 'ON_EVERY_MESSAGE' };
        break;
    }
    return out;
  },
  create(config, init) {
    const store = requireStore(init);
    const decide = processingDecider(config.processingSettings, ATTR_ACTIONS);
    return {
      async onMsg(msg) {
        if (msg.type !== MsgType.POST_ATTRIBUTES_REQUEST) return tellFailure(msg, `Unsupported msg type: ${msg.type}`);
        try {
          tenantOf(msg);
          const data = parseJsonData(msg);
          if (!isPlainObject(data)) throw notAnObject(data);
          const attributes = convertToKvEntries(data);
          if (attributes.length === 0) return tellSuccess(msg);
          const todo = decide(metaDataTs(msg), msg.originator.id);
          if (!todo.attributes && !todo.webSockets && !todo.calculatedFields) return tellSuccess(msg);
          const scope = attributeScopeOf(msg, config.scope);
          const toSave = config.updateAttributesOnlyOnValueChange
            ? changedOnly(await store.attributes.get(msg.originator, scope, attributes.map((kv) => kv.key)), attributes)
            : attributes;
          if (toSave.length === 0 || !todo.attributes) return tellSuccess(msg);
          await store.attributes.save(msg.originator, scope, toSave, init.services.now());
          const saved = Object.fromEntries(toSave.map((kv) => [kv.key, kv.value]));
          if (config.sendAttributesUpdatedNotification && scope !== 'CLIENT_SCOPE') {
            await enqueueEntityAction(init, { type: MsgType.ATTRIBUTES_UPDATED, originator: msg.originator, tenantId: tenantOf(msg), customerId: msg.customerId, data: saved, metaData: { scope } });
          }
          const notify = config.notifyDevice || notifyDeviceByMetadata(msg);
          if (notify && scope === 'SHARED_SCOPE' && msg.originator.entityType === 'DEVICE') await notifyDevice(init, msg.originator.id, { shared: saved });
          return tellSuccess(transformMsg(msg, { metaData: { ...msg.metaData, [NOTIFY_DEVICE_MD_KEY]: String(notify) } }));
        } catch (e) {
          return tellFailure(msg, e);
        }
      },
    };
  },
});

/**
 * Pushes saved (or deleted) shared attributes to the device's sessions (ThingsBoard's
 * saveAndNotify). The change is stored already: a device that misses the push reads it on its
 * next attribute request, so a failed push is logged, not a Failure that would save again.
 */
export async function notifyDevice(init: NodeInit, deviceId: string, update: AttributeUpdate): Promise<void> {
  try {
    await init.services.devices?.pushAttributeUpdate(deviceId, update);
  } catch (e) {
    init.services.logger.warn(`could not push shared attributes to device ${deviceId}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** An absent or empty metadata.notifyDevice means "notify": long ago the node always notified. */
function notifyDeviceByMetadata(msg: TbMsg): boolean {
  const md = msg.metaData[NOTIFY_DEVICE_MD_KEY];
  return md === undefined || md === '' || parseBoolean(md);
}
