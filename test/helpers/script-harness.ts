// Helpers for tests that run real scripts in the isolated-vm sandbox.
import { expect } from 'chai';
import {
  createScriptEngine,
  ScriptCompileError,
  ScriptError,
  type ScriptEngine,
  type ScriptEngineOptions,
  type ScriptLang,
} from '../../src/engine/script/index.js';

/** Small limits keep the denial-of-service tests fast. */
export const TEST_SCRIPT_LIMITS = { timeoutMs: 250, memoryLimitMb: 32 };

export function testScriptEngine(options: Partial<ScriptEngineOptions> = {}): ScriptEngine {
  return createScriptEngine({ ...TEST_SCRIPT_LIMITS, ...options });
}

export interface ScriptInput {
  readonly data?: string | object;
  readonly metadata?: Record<string, string>;
  readonly msgType?: string;
}

/** Compiles and runs a (msg, metadata, msgType) script once. */
export function runScript(engine: ScriptEngine, lang: ScriptLang, body: string, input: ScriptInput = {}): unknown {
  const script = engine.compile({ lang, body, argNames: ['msg', 'metadata', 'msgType'], owner: 'test' });
  try {
    const data = input.data === undefined ? '{"temperature":25}' : typeof input.data === 'string' ? input.data : JSON.stringify(input.data);
    return script.run(data, input.metadata ?? { deviceName: 'Thermostat', ts: '1700000000000' }, input.msgType ?? 'POST_TELEMETRY_REQUEST');
  } finally {
    script.dispose?.();
  }
}

/** Asserts that fn throws a ScriptError for `reason` and returns it. */
export function scriptErrorOf(fn: () => unknown, reason: ScriptError['reason']): ScriptError {
  try {
    fn();
  } catch (e) {
    expect(e, String(e)).to.be.instanceOf(ScriptError);
    expect((e as ScriptError).reason, (e as Error).message).to.equal(reason);
    return e as ScriptError;
  }
  return expect.fail(`expected a ScriptError (${reason})`);
}

/** Asserts that fn throws a ScriptCompileError and returns it. */
export function compileErrorOf(fn: () => unknown): ScriptCompileError {
  try {
    fn();
  } catch (e) {
    expect(e, String(e)).to.be.instanceOf(ScriptCompileError);
    return e as ScriptCompileError;
  }
  return expect.fail('expected a ScriptCompileError');
}

/** Runs fn and returns its value with the time it took in ms. */
export function timed<T>(fn: () => T): { value: T; ms: number } {
  const start = process.hrtime.bigint();
  const value = fn();
  return { value, ms: Number(process.hrtime.bigint() - start) / 1e6 };
}
