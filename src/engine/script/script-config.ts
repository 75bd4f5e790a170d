// The script part of a script node's configuration (scriptLang, jsScript, tbelScript):
// its schema, which script runs, and compiling it once when the node is created.
import { NodeConfigError, type NodeInit } from '../node-api.js';
import { ScriptCompileError, type RuleScript, type ScriptLang } from './script-api.js';

export interface ScriptConfig {
  /** null or missing means JS: every export older than ThingsBoard 3.5 is JS-only. */
  readonly scriptLang?: ScriptLang | null;
  readonly jsScript?: string | null;
  readonly tbelScript?: string | null;
}

/**
 * Schema properties for ScriptConfig. Deliberately no defaults: a missing scriptLang must
 * read as JS (a TBEL default would switch old exports to TBEL), and a missing script fails
 * at creation as in ThingsBoard rather than silently running the sample script.
 */
export const scriptConfigProperties = {
  scriptLang: { type: 'string', enum: ['JS', 'TBEL'] },
  jsScript: { type: 'string' },
  tbelScript: { type: 'string' },
} as const;

export type ScriptArgNames = readonly [string, string, string];

export const MSG_ARG_NAMES: ScriptArgNames = ['msg', 'metadata', 'msgType'];

export interface SelectedScript {
  readonly lang: ScriptLang;
  readonly body: string;
  /** Where the script is in the configuration, for NodeConfigError. */
  readonly pointer: '/jsScript' | '/tbelScript';
}

/** The script that runs: tbelScript when scriptLang is TBEL, else jsScript. Throws NodeConfigError when blank. */
export function selectedScript(config: ScriptConfig): SelectedScript {
  const lang: ScriptLang = config.scriptLang === 'TBEL' ? 'TBEL' : 'JS';
  const pointer = lang === 'TBEL' ? '/tbelScript' : '/jsScript';
  const body = (lang === 'TBEL' ? config.tbelScript : config.jsScript) ?? '';
  if (body.trim() === '') throw new NodeConfigError(`${lang} script is empty`, pointer);
  return { lang, body, pointer };
}

/** Compiles the node's script with the services' engine; a script that does not compile is a NodeConfigError. */
export function compileConfiguredScript(
  config: ScriptConfig,
  init: NodeInit,
  argNames: ScriptArgNames = MSG_ARG_NAMES,
): RuleScript {
  const { lang, body, pointer } = selectedScript(config);
  try {
    return init.services.scripts.compile({
      lang,
      body,
      argNames,
      owner: `chain "${init.self.chainName}" node "${init.self.name}"`,
    });
  } catch (e) {
    if (e instanceof ScriptCompileError) throw new NodeConfigError(e.message, pointer);
    throw e;
  }
}
