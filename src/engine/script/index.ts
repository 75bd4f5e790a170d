// The script sandbox as the rest of the engine sees it.
import { IsolatedScriptEngine, DEFAULT_SCRIPT_ENGINE_OPTIONS, type ScriptEngineOptions } from './isolated-engine.js';
import type { ScriptEngine } from './script-api.js';

export * from './script-api.js';
export { DEFAULT_SCRIPT_ENGINE_OPTIONS, type ScriptEngineOptions } from './isolated-engine.js';
export { translateTbel } from './tbel.js';

/** A sandboxed engine for JS and TBEL rule-node scripts; defaults: 500 ms per call, 64 MB heap. */
export function createScriptEngine(options: Partial<ScriptEngineOptions> = {}): ScriptEngine {
  return new IsolatedScriptEngine({ ...DEFAULT_SCRIPT_ENGINE_OPTIONS, ...options });
}
