import { defineNode, FAILURE, SUCCESS, tellFailure, tellSuccess } from '../../engine/node-api.js';
import { isPlainObject, parseMsgData, transformMsg } from '../../msg/tb-msg.js';
import { compileKeyPatterns, MSG_SOURCES, NOT_JSON_ERROR, upgradeMsgSourceKey, type MsgSource } from './TbCopyKeysNode.js';

export interface TbDeleteKeysNodeConfig {
  deleteFrom: MsgSource;
  /** Regular expressions; a key is deleted when one of them matches it whole. */
  keys: string[];
}

/**
 * Deletes matching top-level data keys or metadata keys. In DATA mode data that is not
 * a JSON object passes unchanged, data that is not JSON goes to Failure.
 */
export const TbDeleteKeysNode = defineNode<TbDeleteKeysNodeConfig>({
  type: 'org.thingsboard.rule.engine.transform.TbDeleteKeysNode',
  category: 'TRANSFORMATION',
  uiName: 'delete key-value pairs',
  version: 2,
  relations: [SUCCESS, FAILURE],
  configSchema: {
    type: 'object',
    properties: {
      deleteFrom: { type: 'string', enum: MSG_SOURCES, default: 'DATA' },
      keys: { type: 'array', items: { type: 'string' }, default: [] },
    },
  },
  defaultConfig: { deleteFrom: 'DATA', keys: [] },
  // v1 configs saved the source as `dataToFetch`.
  upgrade: (fromVersion, config) => upgradeMsgSourceKey(fromVersion, config, 'deleteFrom', 'dataToFetch'),
  create(config) {
    const patterns = compileKeyPatterns(config.keys);
    const matches = (key: string): boolean => patterns.some((p) => p.test(key));
    /** Deletes matching keys in place; true when one was deleted. */
    const deleteIn = (obj: Record<string, unknown>): boolean => {
      const doomed = Object.keys(obj).filter(matches);
      for (const key of doomed) delete obj[key];
      return doomed.length > 0;
    };
    return {
      onMsg(msg) {
        if (config.deleteFrom === 'METADATA') {
          const metaData: Record<string, string> = { ...msg.metaData };
          return tellSuccess(deleteIn(metaData) ? transformMsg(msg, { metaData }) : msg);
        }
        const data = parseMsgData(msg);
        if (data === undefined) return tellFailure(msg, NOT_JSON_ERROR);
        if (!isPlainObject(data)) return tellSuccess(msg);
        return tellSuccess(deleteIn(data) ? transformMsg(msg, { data: JSON.stringify(data) }) : msg);
      },
    };
  },
});
