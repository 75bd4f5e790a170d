// Fuzzing the device-facing protocols and the rule-chain importer of a whole system (every role, in
// this process, on a throw-away redis-server):
//   mqtt-bytes   raw bytes and mutated valid MQTT packets over TCP;
//   mqtt-topics  authenticated devices publishing and subscribing with random topics and payloads;
//   coap         random CoAP requests (paths, codes, options, payloads) and mutated datagrams over UDP;
//   rule-chains  mutated real exports (../shared/examples/rule-chains and rule-chains/) through the
//                importer and POST /api/ruleChain/import, some made root and run.
// Oracles: no crash (uncaught exception), no unhandled rejection, no error logged, no 5xx (CoAP
// 5.xx, REST 5xx) except where documented, every QoS 1 publish and SUBSCRIBE answered or refused,
// the importer never throws and never refuses what the REST import accepts, the server still
// answers on every protocol afterwards, the heap back near its level after a full GC.
//
//   npx tsx scripts/reliability/fuzz.ts                       ≥ 10 000 inputs per target
//   FUZZ_SEED=1234 npx tsx scripts/reliability/fuzz.ts        another seed (default 20251125; "random" = fresh; always printed)
//   --only mqtt-bytes,coap   --inputs 20000   --json <file>
// test/reliability/fuzz.test.ts runs a few hundred inputs per target.
import { pathToFileURL } from 'node:url';
import { request as coapRequest } from 'coap';
import {
  coapErrorGoesToSender,
  finishRuleChains,
  fuzzCoap,
  fuzzMqttBytes,
  fuzzMqttTopics,
  fuzzRuleChains,
  type ChainFuzzState,
  type Finding,
  type TargetReport,
} from './lib/fuzz-targets.js';
import { startFuzzSystem, type FuzzSystem } from './lib/fuzz-system.js';
import { RawMqttDevice } from './lib/mqtt-device.js';
import { Rng } from './lib/rng.js';
import { argNumber, argValue, heapAfterGc, mb, printResult, seedFrom, writeJsonResults, type ScenarioResult } from './lib/util.js';

export const TARGETS = ['mqtt-bytes', 'mqtt-topics', 'coap', 'rule-chains'] as const;
export type TargetName = (typeof TARGETS)[number];

export interface FuzzOptions {
  readonly seed: number;
  /** Inputs per target. */
  readonly inputs: Readonly<Record<TargetName, number>>;
  readonly targets?: readonly TargetName[];
  /** Heap growth allowed per target (after a full GC), bytes. */
  readonly heapSlackBytes?: number;
  readonly log?: (line: string) => void;
}

export const FUZZ_FULL_INPUTS: Record<TargetName, number> = { 'mqtt-bytes': 10_000, 'mqtt-topics': 10_000, coap: 10_000, 'rule-chains': 10_000 };
export const FUZZ_TEST_INPUTS: Record<TargetName, number> = { 'mqtt-bytes': 600, 'mqtt-topics': 800, coap: 1500, 'rule-chains': 150 };

const SALT: Record<TargetName, number> = { 'mqtt-bytes': 0x1b873593, 'mqtt-topics': 0x2c1b3c6d, coap: 0x297a2d39, 'rule-chains': 0x165667b1 };

/** Unhandled rejections and uncaught exceptions while a target runs. */
class Crashes {
  readonly seen: string[] = [];
  private readonly onRejection = (r: unknown) => void this.seen.push(`unhandled rejection: ${r instanceof Error ? (r.stack ?? r.message) : String(r)}`.slice(0, 400));
  private readonly onException = (e: Error) => void this.seen.push(`uncaught exception: ${e.stack ?? e.message}`.slice(0, 400));
  start(): void {
    process.on('unhandledRejection', this.onRejection);
    // Under mocha an uncaught exception fails the test anyway; a script keeps going and reports it.
    if (process.listenerCount('uncaughtException') === 0) process.on('uncaughtException', this.onException);
  }
  stop(): void {
    process.off('unhandledRejection', this.onRejection);
    process.off('uncaughtException', this.onException);
  }
}

export async function fuzz(o: FuzzOptions): Promise<ScenarioResult[]> {
  const log = o.log ?? (() => undefined);
  const targets = o.targets ?? TARGETS;
  const slack = o.heapSlackBytes ?? 48e6;
  const fx = await startFuzzSystem();
  const results: ScenarioResult[] = [];
  const crashes = new Crashes();
  crashes.start();
  let chainState: ChainFuzzState | undefined;
  try {
    for (const name of targets) {
      const started = performance.now();
      const rng = new Rng((o.seed ^ SALT[name]) >>> 0);
      const n = o.inputs[name];
      const warm = Math.min(200, Math.ceil(n / 10));
      const run = async (from: number, to: number): Promise<TargetReport> => {
        switch (name) {
          case 'mqtt-bytes':
            return fuzzMqttBytes(fx, rng, from, to);
          case 'mqtt-topics':
            return fuzzMqttTopics(fx, rng, from, to);
          case 'coap':
            return fuzzCoap(fx, rng, from, to);
          case 'rule-chains': {
            const r = await fuzzRuleChains(fx, rng, from, to, 4, chainState);
            chainState = r.state;
            return r.report;
          }
        }
      };
      // Warm-up (its inputs count too), then the heap level to come back to.
      const crashesBefore = crashes.seen.length;
      const errorsBefore = fx.errors.length;
      const first = await run(0, warm);
      const heapBefore = await heapAfterGc();
      const rest = await run(warm, n);
      const finishProblems: string[] = [];
      if (name === 'rule-chains' && chainState) {
        const fin = await finishRuleChains(fx, chainState);
        finishProblems.push(...fin.problems);
        if (fin.leftLoaded > 0) finishProblems.push(`${fin.leftLoaded} rule chain(s) of ${fin.deletedTenants} deleted tenant(s) still loaded in the runtime after DELETE /api/tenant`);
        else rest.notes.push(`${fin.deletedTenants} fuzz tenant(s) deleted through the API, none of their chains left loaded`);
      }
      const heapAfter = await heapAfterGc();
      const report = merge(first, rest);
      const entries = Object.entries(report.findings).sort((a, b) => b[1].count - a[1].count);
      // CoAP's 5.00 answers to what does not parse are one finding, whatever the parser's message.
      const coap500 = entries.filter(([what]) => what.startsWith('CoAP 5.'));
      const problems = entries.filter(([what]) => !what.startsWith('CoAP 5.')).map(([what, f]) => `${f.count}× ${what} (e.g. ${f.example})`);
      if (coap500.length > 0) {
        const total = coap500.reduce((s, [, f]) => s + f.count, 0);
        problems.unshift(
          `${total} malformed datagrams answered 5.00 Internal Server Error (not documented: the transport answers 5.00 only when the queue fails; RFC 7252 §4.2 wants a malformed CON rejected with RST, a bad option with 4.02), with node-coap's parser messages: ` +
            coap500.map(([what, f]) => `${f.count}× ${what.replace(/^CoAP 5\.00 answer /, '').replace(/ \(not documented.*$/, '')} (e.g. ${f.example})`).join('; '),
        );
      }
      problems.push(...finishProblems);
      if (name === 'coap') {
        const misdirected = await coapErrorGoesToSender(fx.coapPort);
        if (misdirected) problems.push(misdirected);
      }
      const alive = await liveness(fx);
      problems.push(...alive);
      const newCrashes = crashes.seen.slice(crashesBefore);
      if (newCrashes.length > 0) problems.push(`${newCrashes.length} crash(es): ${newCrashes.slice(0, 3).join(' || ')}`);
      const newErrors = fx.errors.slice(errorsBefore);
      if (newErrors.length > 0) problems.push(`${newErrors.length} error(s) logged: ${[...new Set(newErrors.map((e) => `${e.msg}: ${e.err?.message ?? ''}`.slice(0, 200)))].slice(0, 3).join(' || ')}`);
      if (heapAfter - heapBefore > slack) problems.push(`heap grew ${mb(heapAfter - heapBefore)} (${mb(heapBefore)} → ${mb(heapAfter)}, allowed ${mb(slack)})`);
      const top = (m: Record<string, number>, k = 8) =>
        Object.entries(m)
          .sort((a, b) => b[1] - a[1])
          .slice(0, k)
          .map(([x, c]) => `${x} ${c}`)
          .join(', ');
      const result: ScenarioResult = {
        name: `fuzz: ${name}`,
        load: `${report.inputs} generated inputs (seed ${o.seed})`,
        faults: 'none (malformed input only)',
        inputs: top(report.kinds, 6),
        lost:
          problems.length === 0
            ? 'nothing: no crash, no unhandled rejection, no unexpected 5xx, server answers afterwards'
            : `${problems.length} oracle(s) failed: ${problems.map((p) => (p.length > 110 ? `${p.slice(0, 107)}…` : p)).join('; ')}`,
        ok: problems.length === 0,
        problems,
        notes: [`outcomes: ${top(report.outcomes, 12)}`, `heap after GC: ${mb(heapBefore)} → ${mb(heapAfter)}`, ...report.notes],
        durationMs: performance.now() - started,
        seed: o.seed,
      };
      log(`fuzz ${name}: ${report.inputs} inputs in ${(result.durationMs / 1000).toFixed(1)} s, ${problems.length} problem(s)`);
      results.push(result);
    }
  } finally {
    crashes.stop();
    await fx.close();
  }
  return results;
}

function merge(a: TargetReport, b: TargetReport): TargetReport {
  const add = (x: Record<string, number>, y: Record<string, number>) => {
    const out = { ...x };
    for (const [k, v] of Object.entries(y)) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  const findings: Record<string, Finding> = {};
  for (const [k, f] of [...Object.entries(a.findings), ...Object.entries(b.findings)]) {
    const have = findings[k];
    if (have) have.count += f.count;
    else findings[k] = { ...f };
  }
  return { inputs: a.inputs + b.inputs, outcomes: add(a.outcomes, b.outcomes), kinds: add(a.kinds, b.kinds), findings, notes: [...a.notes, ...b.notes] };
}

/** The server still answers: REST, MQTT (connect, publish, PUBACK), CoAP (POST telemetry → 2.01). */
async function liveness(fx: FuzzSystem): Promise<string[]> {
  const problems: string[] = [];
  const user = await fx.api.call('GET', '/api/auth/user');
  if (user.status !== 200) problems.push(`REST no longer answers: GET /api/auth/user → ${user.status}`);
  const token = fx.world.devices[0]?.token as string;
  try {
    const d = await RawMqttDevice.connect({ port: fx.mqttPort, token });
    const code = await d.publish('v1/devices/me/telemetry', JSON.stringify({ alive: 1 }), 1, 5000);
    await d.end();
    if (code !== 0) problems.push(`MQTT telemetry after fuzzing: PUBACK ${code}`);
  } catch (e) {
    problems.push(`MQTT no longer answers: ${(e as Error).message}`);
  }
  const code = await new Promise<string>((resolve) => {
    const req = coapRequest({ hostname: '127.0.0.1', port: fx.coapPort, method: 'POST', pathname: `/api/v1/${token}/telemetry`, confirmable: true });
    const timer = setTimeout(() => resolve('no answer in 10 s'), 10_000);
    req.on('response', (res: { code: string }) => {
      clearTimeout(timer);
      resolve(res.code);
    });
    req.on('error', (e: Error) => {
      clearTimeout(timer);
      resolve(`error ${e.message}`);
    });
    req.write(JSON.stringify({ alive: 1 }));
    req.end();
  });
  if (code !== '2.01') problems.push(`CoAP telemetry after fuzzing: ${code}`);
  return problems;
}

async function main(): Promise<number> {
  const seed = seedFrom(process.env.FUZZ_SEED);
  const only = argValue('only');
  const targets = only === undefined ? TARGETS : (only.split(',').map((t) => t.trim()) as TargetName[]);
  for (const t of targets) if (!(TARGETS as readonly string[]).includes(t)) throw new Error(`unknown target ${t}; one of ${TARGETS.join(', ')}`);
  const n = argNumber('inputs', 10_000);
  console.log(`fuzz: seed ${seed} (replay with FUZZ_SEED=${seed}), ${n} inputs per target: ${targets.join(', ')}`);
  const inputs = Object.fromEntries(TARGETS.map((t) => [t, n])) as Record<TargetName, number>;
  const results = await fuzz({ seed, inputs, targets, log: (l) => console.log(l) });
  for (const r of results) printResult(r);
  await writeJsonResults(results);
  return results.every((r) => r.ok) ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e);
      process.exit(2);
    },
  );
}
