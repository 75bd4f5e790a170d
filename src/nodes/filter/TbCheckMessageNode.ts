import { defineNode, FAILURE, FALSE, tell, TRUE } from '../../engine/node-api.js';
import { isPlainObject, parseMsgData, type TbMsg } from '../../msg/tb-msg.js';

export interface TbCheckMessageNodeConfig {
  /** Top-level keys of the message data. */
  messageNames: string[];
  metadataNames: string[];
  /** true: every listed key must be present; false: one present key is enough. */
  checkAllKeys: boolean;
}

/**
 * The top-level keys of the data. Data that is not a JSON object (array, text, invalid
 * JSON) has no keys here, so it only fails the data part of the check. ThingsBoard parses
 * it with Gson into a Map and goes to Failure instead (only when messageNames is not empty).
 */
function dataKeys(msg: TbMsg): Set<string> {
  const data = parseMsgData(msg);
  return new Set(isPlainObject(data) ? Object.keys(data) : []);
}

/** Routes True/False on the presence of data and metadata keys. */
export const TbCheckMessageNode = defineNode<TbCheckMessageNodeConfig>({
  type: 'org.thingsboard.rule.engine.filter.TbCheckMessageNode',
  category: 'FILTER',
  uiName: 'check fields presence',
  version: 0,
  relations: [TRUE, FALSE, FAILURE],
  configSchema: {
    type: 'object',
    properties: {
      messageNames: { type: 'array', items: { type: 'string' }, default: [] },
      metadataNames: { type: 'array', items: { type: 'string' }, default: [] },
      checkAllKeys: { type: 'boolean', default: true },
    },
  },
  defaultConfig: { messageNames: [], metadataNames: [], checkAllKeys: true },
  create(config) {
    const { messageNames, metadataNames, checkAllKeys } = config;
    return {
      onMsg(msg) {
        const inMd = (key: string): boolean => Object.prototype.hasOwnProperty.call(msg.metaData, key);
        // Data is parsed only when data keys are asked for, as in ThingsBoard.
        const keys = messageNames.length > 0 ? dataKeys(msg) : new Set<string>();
        const inData = (key: string): boolean => keys.has(key);
        const ok = checkAllKeys
          ? messageNames.every(inData) && metadataNames.every(inMd)
          : messageNames.some(inData) || metadataNames.some(inMd);
        return tell(msg, ok ? TRUE : FALSE);
      },
    };
  },
});
