/** The languages ThingsBoard's script nodes name in `scriptLang` (missing or null means JS). */
export type ScriptLang = 'JS' | 'TBEL';

export interface ScriptSource {
  readonly lang: ScriptLang;
  /** The function body, as written in the node's jsScript / tbelScript. */
  readonly body: string;
  /** The parameter names: (msg, metadata, msgType) or the generator's (prevMsg, prevMetadata, prevMsgType). */
  readonly argNames: readonly [string, string, string];
  /** Who owns the script, for error messages: e.g. 'chain "Root" node "Filter"'. */
  readonly owner: string;
}

/** A script compiled once, run for each message. */
export interface RuleScript {
  /**
   * Runs the function with msg = the parsed `data` (JSON text; plain text stays a string),
   * metadata = a copy of `metaData`, msgType. Returns the function's result as plain JSON
   * data (undefined when it returned nothing). Throws ScriptError on any failure.
   */
  run(data: string, metaData: Readonly<Record<string, string>>, msgType: string): unknown;
  /** Frees the script's sandbox resources (its node was destroyed); run() fails afterwards. */
  dispose?(): void;
}

export interface ScriptEngine {
  /** Compiles a script; throws ScriptCompileError naming the line when it cannot run. */
  compile(source: ScriptSource): RuleScript;
  /** Frees the sandbox(es). */
  dispose(): void;
}

/** A script that cannot be compiled: a syntax error or a TBEL construct we do not run. */
export class ScriptCompileError extends Error {
  constructor(
    message: string,
    readonly line: number | null,
  ) {
    super(message);
    this.name = 'ScriptCompileError';
  }
}

/** A script that failed while running: threw, timed out, ran out of memory, or returned something unusable. */
export class ScriptError extends Error {
  constructor(
    message: string,
    readonly reason: 'exception' | 'timeout' | 'memory' | 'result',
  ) {
    super(message);
    this.name = 'ScriptError';
  }
}
