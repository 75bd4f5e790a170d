import { defineNode, FAILURE, tell, tellFailure } from '../../engine/node-api.js';
import { compileConfiguredScript, scriptConfigProperties, type ScriptConfig } from '../../engine/script/script-config.js';
import { WrongResultError } from '../../engine/script/script-result.js';

const DEFAULT_JS_SCRIPT =
  "function nextRelation(metadata, msg) {\n    return ['one','nine'];\n}\nif(msgType === 'POST_TELEMETRY_REQUEST') {\n    return ['two'];\n}\nreturn nextRelation(metadata, msg);";
const DEFAULT_TBEL_SCRIPT =
  "function nextRelation(metadata, msg) {\n    return ['one','nine'];\n}\nif(msgType == 'POST_TELEMETRY_REQUEST') {\n    return ['two'];\n}\nreturn nextRelation(metadata, msg);";

/** The relation names a switch script returned: one string or a list of strings. */
function relationsOf(result: unknown): string[] {
  if (typeof result === 'string') return [result];
  if (!Array.isArray(result)) throw new WrongResultError('result', result);
  const items: unknown[] = result;
  for (const item of items) if (typeof item !== 'string') throw new WrongResultError('result', item);
  return [...new Set(items as string[])];
}

/**
 * Runs a switch script and sends the message on every relation it names. An empty list
 * routes nowhere (ThingsBoard acks the message); other results and errors → Failure.
 */
export const TbJsSwitchNode = defineNode<ScriptConfig>({
  type: 'org.thingsboard.rule.engine.filter.TbJsSwitchNode',
  category: 'FILTER',
  uiName: 'switch',
  version: 0,
  relations: [FAILURE],
  customRelations: true,
  configSchema: { type: 'object', properties: scriptConfigProperties },
  defaultConfig: { scriptLang: 'TBEL', jsScript: DEFAULT_JS_SCRIPT, tbelScript: DEFAULT_TBEL_SCRIPT },
  create(config, init) {
    const script = compileConfiguredScript(config, init);
    return {
      onMsg(msg) {
        let relations: string[];
        try {
          relations = relationsOf(script.run(msg.data, msg.metaData, msg.type));
        } catch (e) {
          return tellFailure(msg, e);
        }
        return relations.length === 0 ? undefined : tell(msg, ...relations);
      },
      destroy() {
        script.dispose?.();
      },
    };
  },
});
