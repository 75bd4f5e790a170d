import { defineNode, FAILURE, NodeConfigError, SUCCESS, tellFailure, tellSuccess } from '../../engine/node-api.js';
import { isPlainObject, parseMsgData, transformMsg } from '../../msg/tb-msg.js';
import { MSG_SOURCES, NOT_JSON_ERROR, setOwn, upgradeMsgSourceKey, type MsgSource } from './TbCopyKeysNode.js';

export interface TbRenameKeysNodeConfig {
  renameIn: MsgSource;
  /** Exact current key → new key. */
  renameKeysMapping: Record<string, string>;
}

/** Moves `obj[from]` to `obj[to]` for each mapping entry present; true when something moved. */
function renameIn(obj: Record<string, unknown>, mapping: Record<string, string>): boolean {
  let changed = false;
  for (const [from, to] of Object.entries(mapping)) {
    // ThingsBoard would put then remove, losing a key mapped to itself; keep it instead.
    if (!Object.prototype.hasOwnProperty.call(obj, from) || from === to) continue;
    setOwn(obj, to, obj[from]);
    delete obj[from];
    changed = true;
  }
  return changed;
}

/**
 * Renames top-level data keys or metadata keys. In DATA mode data that is not a JSON
 * object passes unchanged, data that is not JSON goes to Failure.
 */
export const TbRenameKeysNode = defineNode<TbRenameKeysNodeConfig>({
  type: 'org.thingsboard.rule.engine.transform.TbRenameKeysNode',
  category: 'TRANSFORMATION',
  uiName: 'rename keys',
  version: 2,
  relations: [SUCCESS, FAILURE],
  configSchema: {
    type: 'object',
    properties: {
      renameIn: { type: 'string', enum: MSG_SOURCES, default: 'DATA' },
      renameKeysMapping: {
        type: 'object',
        additionalProperties: { type: 'string' },
        default: { temperatureCelsius: 'temperature' },
      },
    },
  },
  defaultConfig: { renameIn: 'DATA', renameKeysMapping: { temperatureCelsius: 'temperature' } },
  upgrade: (fromVersion, config) => upgradeMsgSourceKey(fromVersion, config, 'renameIn', 'fromMetadata'),
  create(config) {
    const mapping = config.renameKeysMapping;
    if (Object.keys(mapping).length === 0) {
      throw new NodeConfigError('renameKeysMapping: at least one mapping entry should be specified', '/renameKeysMapping');
    }
    return {
      onMsg(msg) {
        if (config.renameIn === 'METADATA') {
          const metaData: Record<string, string> = { ...msg.metaData };
          return tellSuccess(renameIn(metaData, mapping) ? transformMsg(msg, { metaData }) : msg);
        }
        const data = parseMsgData(msg);
        if (data === undefined) return tellFailure(msg, NOT_JSON_ERROR);
        if (!isPlainObject(data)) return tellSuccess(msg);
        return tellSuccess(renameIn(data, mapping) ? transformMsg(msg, { data: JSON.stringify(data) }) : msg);
      },
    };
  },
});
