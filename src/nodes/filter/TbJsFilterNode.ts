import { defineNode, FAILURE, FALSE, tell, tellFailure, TRUE } from '../../engine/node-api.js';
import { compileConfiguredScript, scriptConfigProperties, type ScriptConfig } from '../../engine/script/script-config.js';
import { WrongResultError } from '../../engine/script/script-result.js';

const DEFAULT_SCRIPT = 'return msg.temperature > 20;';

/** Runs a filter script (msg, metadata, msgType) → boolean: True or False; any other result or an error → Failure. */
export const TbJsFilterNode = defineNode<ScriptConfig>({
  type: 'org.thingsboard.rule.engine.filter.TbJsFilterNode',
  category: 'FILTER',
  uiName: 'script',
  version: 0,
  relations: [TRUE, FALSE, FAILURE],
  configSchema: { type: 'object', properties: scriptConfigProperties },
  defaultConfig: { scriptLang: 'TBEL', jsScript: DEFAULT_SCRIPT, tbelScript: DEFAULT_SCRIPT },
  create(config, init) {
    const script = compileConfiguredScript(config, init);
    return {
      onMsg(msg) {
        let result: unknown;
        try {
          result = script.run(msg.data, msg.metaData, msg.type);
        } catch (e) {
          return tellFailure(msg, e);
        }
        if (typeof result !== 'boolean') return tellFailure(msg, new WrongResultError('result', result));
        return tell(msg, result ? TRUE : FALSE);
      },
      destroy() {
        script.dispose?.();
      },
    };
  },
});
