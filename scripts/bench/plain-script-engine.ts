import type { RuleScript, ScriptEngine, ScriptSource } from '../../src/engine/script/script-api.js';

/**
 * NOT A SANDBOX: runs script bodies as plain host functions. It exists only so that the
 * chain benchmark can show, side by side, what the real sandbox costs per message.
 */
export class PlainFunctionScriptEngine implements ScriptEngine {
  compile(source: ScriptSource): RuleScript {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    const fn = new Function(...source.argNames, source.body) as (msg: unknown, metadata: Record<string, string>, msgType: string) => unknown;
    return {
      run(data, metaData, msgType) {
        let msg: unknown;
        try {
          msg = JSON.parse(data);
        } catch {
          msg = data;
        }
        return fn(msg, { ...metaData }, msgType);
      },
    };
  }

  dispose(): void {}
}
