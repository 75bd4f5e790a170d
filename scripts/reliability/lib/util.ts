// Small helpers shared by the reliability scripts and tests: waiting, a seeded PRNG, statistics,
// memory readings, and the result record every scenario returns (report.ts turns them into a table).
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` until it holds or `timeoutMs` passes; returns whether it held. */
export async function eventually(cond: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await cond()) return true;
    } catch {
      // a probe that fails (Redis restarting) counts as "not yet"
    }
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}


/** The fuzzers' seed when FUZZ_SEED is not set: runs are repeatable by default. */
export const DEFAULT_FUZZ_SEED = 20251125;

/**
 * FUZZ_SEED (decimal or 0x hex; "random" for a fresh one), else DEFAULT_FUZZ_SEED. The caller
 * prints it, so any run can be replayed.
 */
export function seedFrom(text: string | undefined): number {
  const t = text?.trim() ?? '';
  if (t === '') return DEFAULT_FUZZ_SEED;
  if (t === 'random') return (Date.now() ^ (process.pid << 16)) >>> 0;
  const n = Number(t);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`FUZZ_SEED must be an integer 0..2^32-1 or "random", got "${text}"`);
  return n;
}

/** Least-squares slope and intercept of y over x. */
export function linearFit(xs: readonly number[], ys: readonly number[]): { slope: number; intercept: number } {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return { slope: 0, intercept: ys[0] ?? 0 };
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i] as number;
    sy += ys[i] as number;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] as number) - mx;
    num += dx * ((ys[i] as number) - my);
    den += dx * dx;
  }
  const slope = den === 0 ? 0 : num / den;
  return { slope, intercept: my - slope * mx };
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export const mean = (xs: readonly number[]): number => (xs.length === 0 ? NaN : xs.reduce((s, x) => s + x, 0) / xs.length);

export const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

/** Resident memory of a process, from /proc (Linux). */
export function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

let gcFn: (() => void) | null | undefined;
/** A full GC of this process (node --expose-gc not needed), or null when V8 refuses. */
export function gc(): (() => void) | null {
  if (gcFn !== undefined) return gcFn;
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return (gcFn = g);
  try {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  } catch {
    gcFn = null;
  }
  return gcFn;
}

/** Heap used after full GCs (settles weak refs and finalizers), in bytes. */
export async function heapAfterGc(): Promise<number> {
  const g = gc();
  for (let i = 0; i < 3; i++) {
    g?.();
    await sleep(50);
  }
  return process.memoryUsage().heapUsed;
}

/** What a scenario did and what it found; report.ts makes the table of docs/reliability.md from these. */
export interface ScenarioResult {
  /** e.g. "fault: Redis restart". */
  readonly name: string;
  /** The load, in words and numbers. */
  readonly load: string;
  /** Faults injected ("none" for fuzzing and soak). */
  readonly faults: string;
  /** Inputs tried (fuzzing), operations made (others). */
  readonly inputs: string;
  /** What was lost or went wrong; "nothing" is the target. */
  readonly lost: string;
  readonly ok: boolean;
  /** Each failed oracle, in words. */
  readonly problems: string[];
  /** Findings that are not failures (documented behaviour, notes). */
  readonly notes: string[];
  readonly durationMs: number;
  /** Seed of a fuzz run. */
  readonly seed?: number;
}

/** Prints a result in a few lines. */
export function printResult(r: ScenarioResult): void {
  console.log(`\n== ${r.name}: ${r.ok ? 'OK' : 'FAILED'} (${(r.durationMs / 1000).toFixed(1)} s)`);
  console.log(`   load:   ${r.load}`);
  console.log(`   faults: ${r.faults}`);
  console.log(`   inputs: ${r.inputs}`);
  console.log(`   lost:   ${r.lost}`);
  for (const n of r.notes) console.log(`   note:   ${n}`);
  for (const p of r.problems) console.log(`   PROBLEM: ${p}`);
}

/** Named numeric argument `--name=value` or `--name value` of a script, else the fallback. */
export function argNumber(name: string, fallback: number, argv: readonly string[] = process.argv.slice(2)): number {
  const text = argValue(name, argv);
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got "${text}"`);
  return n;
}

export function argValue(name: string, argv: readonly string[] = process.argv.slice(2)): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === `--${name}`) return argv[i + 1];
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return undefined;
}

/** Writes the results as JSON where `--json <file>` says (report.ts reads them). */
export async function writeJsonResults(results: readonly ScenarioResult[]): Promise<void> {
  const file = argValue('json');
  if (file === undefined) return;
  const { writeFile } = await import('node:fs/promises');
  await writeFile(file, JSON.stringify(results, null, 2));
}
