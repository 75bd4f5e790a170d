import { defineNode, FAILURE, SUCCESS, tellFailure, tellSuccess } from '../../engine/node-api.js';
import type { RuleScript } from '../../engine/script/script-api.js';
import {
  compileConfiguredScript,
  scriptConfigProperties,
  selectedScript,
  type ScriptConfig,
} from '../../engine/script/script-config.js';
import { jsonTypeName } from '../../engine/script/script-result.js';
import type { TbMsg } from '../../msg/tb-msg.js';

/** The default log script; a node using it is logged without running a script, as ThingsBoard does. */
export const DEFAULT_LOG_SCRIPT =
  "return '\\nIncoming message:\\n' + JSON.stringify(msg) + '\\nIncoming metadata:\\n' + JSON.stringify(metadata);";

/** What the default script prints, built directly (the data text as it is, not re-serialized). */
function standardLogText(msg: TbMsg): string {
  return `\nIncoming message:\n${msg.data}\nIncoming metadata:\n${JSON.stringify(msg.metaData)}`;
}

/** The logged text: a JS script must return a string; a TBEL result is stringified. */
function logTextOf(script: RuleScript, lang: 'JS' | 'TBEL', msg: TbMsg): string {
  const result = script.run(msg.data, msg.metaData, msg.type);
  if (typeof result === 'string') return result;
  if (lang === 'JS') throw new Error(`Wrong result type: ${jsonTypeName(result)}`);
  return JSON.stringify(result) ?? 'null';
}

/** Logs each message (info level) as text made by a script, then Success; a script error → Failure. */
export const TbLogNode = defineNode<ScriptConfig>({
  type: 'org.thingsboard.rule.engine.action.TbLogNode',
  category: 'ACTION',
  uiName: 'log',
  version: 0,
  relations: [SUCCESS, FAILURE],
  configSchema: { type: 'object', properties: scriptConfigProperties },
  defaultConfig: { scriptLang: 'TBEL', jsScript: DEFAULT_LOG_SCRIPT, tbelScript: DEFAULT_LOG_SCRIPT },
  create(config, init) {
    const { lang, body } = selectedScript(config);
    const script = body === DEFAULT_LOG_SCRIPT ? null : compileConfiguredScript(config, init);
    return {
      onMsg(msg, ctx) {
        let text: string;
        try {
          text = script ? logTextOf(script, lang, msg) : standardLogText(msg);
        } catch (e) {
          return tellFailure(msg, e);
        }
        ctx.services.logger.info(text);
        return tellSuccess(msg);
      },
      destroy() {
        script?.dispose?.();
      },
    };
  },
});
