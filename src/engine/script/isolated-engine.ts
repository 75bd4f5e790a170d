// The script sandbox: one V8 isolate (isolated-vm) with a CPU timeout per call and a heap
// limit, and one context per script, so that scripts share no globals or prototypes.
// The isolate holds no host objects: a script reaches nothing but its own context.
// When a script exhausts the heap, isolated-vm disposes the whole isolate; the next run of
// any script builds a new isolate and recompiles itself there (generation counter).
import ivm from 'isolated-vm';
import { ScriptCompileError, ScriptError, type RuleScript, type ScriptEngine, type ScriptSource } from './script-api.js';
import { SANDBOX_PRELUDE } from './sandbox-prelude.js';
import { TBEL_RUNTIME } from './tbel-runtime.js';
import { translateTbel } from './tbel.js';

export interface ScriptEngineOptions {
  /** CPU time one call may take (ThingsBoard's TBEL max_requests_timeout is 500 ms). */
  readonly timeoutMs: number;
  /** Heap of the isolate shared by all scripts; exceeding it restarts the sandbox. */
  readonly memoryLimitMb: number;
  /** Longest result JSON (ThingsBoard's max_result_size). */
  readonly maxResultChars?: number;
  /** Longest script body (ThingsBoard's max_script_body_size). */
  readonly maxScriptChars?: number;
}

export const DEFAULT_SCRIPT_ENGINE_OPTIONS: Required<ScriptEngineOptions> = {
  timeoutMs: 500,
  memoryLimitMb: 64,
  maxResultChars: 300_000,
  maxScriptChars: 50_000,
};

/** Context setup (prelude, runtime, Function constructor) is not held to the per-message limit. */
const SETUP_TIMEOUT_MS = 5_000;

type Runner = (data: string, metadataJson: string, msgType: string) => string | number | undefined;
type MakeRunner = (arg0: string, arg1: string, arg2: string, body: string, maxChars: number) => Runner;

interface Sandbox {
  readonly isolate: ivm.Isolate;
  readonly generation: number;
  readonly prelude: ivm.Script;
  readonly tbelRuntime: ivm.Script;
}

export class IsolatedScriptEngine implements ScriptEngine {
  readonly options: Required<ScriptEngineOptions>;
  private current: Sandbox | null = null;
  private generation = 0;
  private disposed = false;

  constructor(options: Partial<ScriptEngineOptions> = {}) {
    this.options = { ...DEFAULT_SCRIPT_ENGINE_OPTIONS, ...options };
  }

  compile(source: ScriptSource): RuleScript {
    const prefix = `${source.lang} script of ${source.owner}`;
    if (source.body.length > this.options.maxScriptChars) {
      throw new ScriptCompileError(`${prefix}: the script is longer than ${this.options.maxScriptChars} characters`, null);
    }
    let code = source.body;
    if (source.lang === 'TBEL') {
      try {
        code = translateTbel(source.body);
      } catch (e) {
        if (e instanceof ScriptCompileError) throw new ScriptCompileError(`${prefix}: ${e.message}`, e.line);
        throw e;
      }
    }
    const script = new IsolatedRuleScript(this, source, code, prefix);
    try {
      script.instantiate();
    } catch (e) {
      // The heap may have been full of other scripts' garbage: one more try in a fresh isolate.
      if (!(e instanceof ScriptError && e.reason === 'memory')) throw e;
      script.instantiate();
    }
    return script;
  }

  /** The live isolate; a new one (next generation) when there is none or the last one died. */
  sandbox(): Sandbox {
    if (this.disposed) throw new ScriptError('the script engine is disposed', 'exception');
    if (this.current && !this.current.isolate.isDisposed) return this.current;
    const isolate = new ivm.Isolate({ memoryLimit: this.options.memoryLimitMb });
    this.current = {
      isolate,
      generation: ++this.generation,
      prelude: isolate.compileScriptSync(SANDBOX_PRELUDE, { filename: 'rpc-chains:prelude' }),
      tbelRuntime: isolate.compileScriptSync(TBEL_RUNTIME, { filename: 'rpc-chains:tbel-runtime' }),
    };
    return this.current;
  }

  /** Turns what applySync threw into the reason a script failed. */
  failureOf(e: unknown, sandbox: Sandbox): ScriptError {
    if (e instanceof ScriptError) return e;
    if (sandbox.isolate.isDisposed && !this.disposed) {
      return new ScriptError(
        `Script exceeded the memory limit of ${this.options.memoryLimitMb} MB; the sandbox was restarted`,
        'memory',
      );
    }
    const message = e instanceof Error ? e.message : String(e);
    if (/timed out/i.test(message)) return new ScriptError(`Script timed out after ${this.options.timeoutMs} ms`, 'timeout');
    return new ScriptError(message, 'exception');
  }

  dispose(): void {
    this.disposed = true;
    if (this.current && !this.current.isolate.isDisposed) this.current.isolate.dispose();
    this.current = null;
  }
}

class IsolatedRuleScript implements RuleScript {
  private context: ivm.Context | null = null;
  private runner: ivm.Reference<Runner> | null = null;
  private generation = -1;
  private disposed = false;

  constructor(
    private readonly engine: IsolatedScriptEngine,
    private readonly source: ScriptSource,
    /** The body as JavaScript (TBEL already translated). */
    private readonly code: string,
    private readonly prefix: string,
  ) {}

  /** Compiles the script into a fresh context of the current isolate. */
  instantiate(): void {
    this.release();
    const sandbox = this.engine.sandbox();
    this.checkSyntax(sandbox);
    let context: ivm.Context | null = null;
    try {
      context = sandbox.isolate.createContextSync();
      if (this.source.lang === 'TBEL') sandbox.tbelRuntime.runSync(context, { timeout: SETUP_TIMEOUT_MS });
      const make = sandbox.prelude.runSync(context, { reference: true, timeout: SETUP_TIMEOUT_MS }) as ivm.Reference<MakeRunner>;
      const [a0, a1, a2] = this.source.argNames;
      const runner = make.applySync(undefined, [a0, a1, a2, this.code, this.engine.options.maxResultChars], {
        result: { reference: true },
        timeout: SETUP_TIMEOUT_MS,
      }) as ivm.Reference<Runner>;
      make.release();
      this.context = context;
      this.runner = runner;
      this.generation = sandbox.generation;
    } catch (e) {
      if (context && !sandbox.isolate.isDisposed) context.release();
      if (e instanceof Error && e.name === 'SyntaxError') throw new ScriptCompileError(`${this.prefix}: ${e.message}`, null);
      throw this.engine.failureOf(e, sandbox);
    }
  }

  /** Parses the body alone first, for V8's syntax error with a line number relative to the body. */
  private checkSyntax(sandbox: Sandbox): void {
    const [a0, a1, a2] = this.source.argNames;
    let script: ivm.Script;
    try {
      script = sandbox.isolate.compileScriptSync(`(function (${a0}, ${a1}, ${a2}) {\n${this.code}\n})`, {
        filename: 'script',
        lineOffset: -1,
      });
    } catch (e) {
      if (!(e instanceof Error) || e.name !== 'SyntaxError') throw this.engine.failureOf(e, sandbox);
      const message = e.message;
      const where = /\s*\[script:(\d+):\d+\]$/.exec(message);
      const lines = this.code.split('\n').length;
      const line = where ? Math.min(Math.max(Number(where[1]), 1), lines) : null;
      const reason = where ? message.slice(0, where.index) : message;
      throw new ScriptCompileError(`${this.prefix}: ${line === null ? '' : `line ${line}: `}${reason}`, line);
    }
    script.release();
  }

  run(data: string, metaData: Readonly<Record<string, string>>, msgType: string): unknown {
    if (this.disposed) throw new ScriptError('the script was disposed', 'exception');
    const sandbox = this.engine.sandbox();
    if (this.generation !== sandbox.generation || !this.runner) {
      try {
        this.instantiate();
      } catch (e) {
        throw e instanceof ScriptError ? e : new ScriptError(e instanceof Error ? e.message : String(e), 'exception');
      }
    }
    const runner = this.runner;
    if (!runner) throw new ScriptError('the script is not compiled', 'exception');
    let out: string | number | undefined;
    try {
      out = runner.applySync(undefined, [data, JSON.stringify(metaData), msgType], {
        timeout: this.engine.options.timeoutMs,
      }) as string | number | undefined;
    } catch (e) {
      throw this.engine.failureOf(e, sandbox);
    }
    if (typeof out === 'number') {
      throw new ScriptError(`Script result is too large: ${out} characters (max ${this.engine.options.maxResultChars})`, 'result');
    }
    if (typeof out !== 'string') return undefined;
    if (out.startsWith('E')) throw new ScriptError(out.slice(1), 'exception');
    return JSON.parse(out.slice(1)) as unknown;
  }

  dispose(): void {
    this.disposed = true;
    this.release();
  }

  private release(): void {
    try {
      this.runner?.release();
      this.context?.release();
    } catch {
      // The isolate is already gone, and its handles with it.
    }
    this.runner = null;
    this.context = null;
  }
}
