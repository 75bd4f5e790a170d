import { defineNode, FAILURE, SUCCESS, tellFailure, tellSuccess } from '../../engine/node-api.js';
import { copyMsg, parseMsgData, transformMsg } from '../../msg/tb-msg.js';

/**
 * Splits a JSON array in the data into one Success message per element, each with the
 * element as data and the original type and metadata. As in ThingsBoard: one element keeps
 * the message id (a transform); several elements get new ids (ThingsBoard re-enqueues
 * each one); an empty array ends the message here (ThingsBoard acks it) with no output.
 */
export const TbSplitArrayMsgNode = defineNode<{ version?: number }>({
  type: 'org.thingsboard.rule.engine.transform.TbSplitArrayMsgNode',
  category: 'TRANSFORMATION',
  uiName: 'split array msg',
  version: 0,
  relations: [SUCCESS, FAILURE],
  configSchema: { type: 'object', properties: { version: { type: 'integer', default: 0 } } },
  defaultConfig: { version: 0 },
  create: () => ({
    onMsg(msg) {
      const data = parseMsgData(msg);
      if (data === undefined) return tellFailure(msg, 'Msg data is not a valid JSON!');
      if (!Array.isArray(data)) return tellFailure(msg, 'Msg data is not a JSON Array!');
      const elements: unknown[] = data;
      if (elements.length === 0) return [];
      if (elements.length === 1) return tellSuccess(transformMsg(msg, { data: JSON.stringify(elements[0]) }));
      return elements.map((element) => tellSuccess(copyMsg(msg, { data: JSON.stringify(element) })));
    },
  }),
});
