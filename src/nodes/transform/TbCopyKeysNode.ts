import {
  defineNode,
  FAILURE,
  type JsonObject,
  NodeConfigError,
  SUCCESS,
  tellFailure,
  tellSuccess,
} from '../../engine/node-api.js';
import { isPlainObject, parseMsgData, transformMsg } from '../../msg/tb-msg.js';

/** ThingsBoard's TbMsgSource: which part of the message a transformation reads. */
export type MsgSource = 'DATA' | 'METADATA';
export const MSG_SOURCES: readonly MsgSource[] = ['DATA', 'METADATA'];

export const NOT_JSON_ERROR = 'Msg data is not a valid JSON!';

/**
 * ThingsBoard's TbAbstractTransformNodeWithTbMsgSource.upgrade, shared by the copy,
 * rename and delete keys nodes. 0→1: boolean `fromMetadata` → `newKey` METADATA/DATA.
 * 1→2: a UI bug saved `v1Key` ("METADATA"/"DATA") instead of `newKey`; move it over.
 * ThingsBoard keeps a config whose upgrade fails when the config still parses, so a
 * config without the old key is returned unchanged (missing keys then get defaults).
 * A bad old value makes ThingsBoard silently reset the node to its defaults; here it is
 * an error instead.
 */
export function upgradeMsgSourceKey(fromVersion: number, config: JsonObject, newKey: string, v1Key: string): JsonObject {
  const out: JsonObject = { ...config };
  if (fromVersion === 0) {
    if (!('fromMetadata' in out)) return out;
    const value = out.fromMetadata;
    delete out.fromMetadata;
    if (value === true || value === 'true') out[newKey] = 'METADATA';
    else if (value === false || value === 'false') out[newKey] = 'DATA';
    else throw new Error(`property 'fromMetadata' has unexpected value: ${JSON.stringify(value)}. Allowed values: true or false`);
    return out;
  }
  if (fromVersion === 1) {
    if (newKey in out || !(v1Key in out)) return out;
    const value = out[v1Key];
    if (value !== 'METADATA' && value !== 'DATA') {
      throw new Error(`property '${v1Key}' has unexpected value: ${JSON.stringify(value)}. Allowed values: METADATA or DATA`);
    }
    delete out[v1Key];
    out[newKey] = value;
  }
  return out;
}

/** Sets an own property, even "__proto__" (a plain assignment would change the prototype instead). */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Compiles the key patterns like Java's Pattern.matcher(key).matches(): the whole key must match. */
export function compileKeyPatterns(keys: readonly string[]): RegExp[] {
  return keys.map((key, i) => {
    try {
      return new RegExp(`^(?:${key})$`);
    } catch (e) {
      throw new NodeConfigError(`keys[${i}] "${key}" is not a valid regular expression: ${(e as Error).message}`, `/keys/${i}`);
    }
  });
}

export interface TbCopyKeysNodeConfig {
  copyFrom: MsgSource;
  /** Regular expressions; a key is copied when one of them matches it whole. */
  keys: string[];
}

/**
 * Copies matching keys from data to metadata (non-string values as JSON text) or from
 * metadata to data (values stay strings). Works only when the data is a JSON object;
 * other JSON data passes unchanged, data that is not JSON goes to Failure.
 */
export const TbCopyKeysNode = defineNode<TbCopyKeysNodeConfig>({
  type: 'org.thingsboard.rule.engine.transform.TbCopyKeysNode',
  category: 'TRANSFORMATION',
  uiName: 'copy key-value pairs',
  version: 2,
  relations: [SUCCESS, FAILURE],
  configSchema: {
    type: 'object',
    properties: {
      copyFrom: { type: 'string', enum: MSG_SOURCES, default: 'DATA' },
      keys: { type: 'array', items: { type: 'string' }, default: [] },
    },
  },
  defaultConfig: { copyFrom: 'DATA', keys: [] },
  upgrade: (fromVersion, config) => upgradeMsgSourceKey(fromVersion, config, 'copyFrom', 'fromMetadata'),
  create(config) {
    const patterns = compileKeyPatterns(config.keys);
    const matches = (key: string): boolean => patterns.some((p) => p.test(key));
    return {
      onMsg(msg) {
        const data = parseMsgData(msg);
        if (data === undefined) return tellFailure(msg, NOT_JSON_ERROR);
        if (!isPlainObject(data)) return tellSuccess(msg);
        let changed = false;
        if (config.copyFrom === 'METADATA') {
          for (const [key, value] of Object.entries(msg.metaData)) {
            if (!matches(key)) continue;
            setOwn(data, key, value);
            changed = true;
          }
          return tellSuccess(changed ? transformMsg(msg, { data: JSON.stringify(data) }) : msg);
        }
        const metaData: Record<string, string> = { ...msg.metaData };
        for (const [key, value] of Object.entries(data)) {
          if (!matches(key)) continue;
          setOwn(metaData, key, typeof value === 'string' ? value : JSON.stringify(value));
          changed = true;
        }
        return tellSuccess(changed ? transformMsg(msg, { metaData }) : msg);
      },
    };
  },
});
