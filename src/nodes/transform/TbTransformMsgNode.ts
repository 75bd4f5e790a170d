import { defineNode, FAILURE, SUCCESS, tellFailure, tellSuccess } from '../../engine/node-api.js';
import { compileConfiguredScript, scriptConfigProperties, type ScriptConfig } from '../../engine/script/script-config.js';
import { msgChangesOf } from '../../engine/script/script-result.js';
import { copyMsg, transformMsg } from '../../msg/tb-msg.js';

const DEFAULT_SCRIPT = 'return {msg: msg, metadata: metadata, msgType: msgType};';

/**
 * Runs a transform script. A result {msg?, metadata?, msgType?} changes the message (same
 * id); a list of them makes one new message (new id) per element, each on Success. An
 * empty list, another result or an error → Failure.
 */
export const TbTransformMsgNode = defineNode<ScriptConfig>({
  type: 'org.thingsboard.rule.engine.transform.TbTransformMsgNode',
  category: 'TRANSFORMATION',
  uiName: 'script',
  version: 0,
  relations: [SUCCESS, FAILURE],
  configSchema: { type: 'object', properties: scriptConfigProperties },
  defaultConfig: { scriptLang: 'TBEL', jsScript: DEFAULT_SCRIPT, tbelScript: DEFAULT_SCRIPT },
  create(config, init) {
    const script = compileConfiguredScript(config, init);
    return {
      onMsg(msg) {
        try {
          const result = script.run(msg.data, msg.metaData, msg.type);
          if (!Array.isArray(result)) return tellSuccess(transformMsg(msg, msgChangesOf(result)));
          const results: unknown[] = result;
          if (results.length === 0) return tellFailure(msg, 'Message or messages list are empty!');
          // Check every element before sending any: a bad one fails the whole message.
          const changes = results.map(msgChangesOf);
          return changes.map((c) => tellSuccess(copyMsg(msg, c)));
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
