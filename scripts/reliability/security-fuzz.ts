// The full REST fuzz run (the test suite runs a ~10 s sample of it): at least 10 000 generated
// malformed requests against the whole system on a throw-away Redis, with the oracles of
// test/security/fuzz.ts, then the process-level checks: no unhandled rejection, no prototype
// pollution, the server still answers, memory back near its level.
//
//   npx tsx scripts/reliability/security-fuzz.ts            (node --expose-gc works too)
//   FUZZ_SEED=123 FUZZ_CASES=20000 FUZZ_SECONDS=1800 FUZZ_CONCURRENCY=8 npx tsx scripts/reliability/security-fuzz.ts
//   FUZZ_SEED=123 FUZZ_CASE=4711 ...   replays one case
//
// Exit code 0 when every oracle holds, 1 otherwise. Findings already reported (router errors not in
// the envelope; 500 for deeply nested bodies; see the `findings` of test/security/rest-fuzz.test.ts)
// are listed but do not fail the run unless FUZZ_STRICT=1.
import { DEEP_NESTING_LOG, gcFunction, knownFinding, memorySample, parseSeed, prototypeSnapshot, runFuzz } from '../../test/security/fuzz.js';
import { startWorld } from '../../test/security/world.js';

const DOCUMENTED_500 = 'Method is not present in the request body';

async function main(): Promise<number> {
  const seed = parseSeed(process.env.FUZZ_SEED, (Date.now() % 0xffffffff) >>> 0);
  const cases = Number(process.env.FUZZ_CASES ?? 12_000);
  const seconds = Number(process.env.FUZZ_SECONDS ?? 3600);
  const concurrency = Number(process.env.FUZZ_CONCURRENCY ?? 8);
  const only = process.env.FUZZ_CASE !== undefined ? Number(process.env.FUZZ_CASE) : undefined;
  const strict = process.env.FUZZ_STRICT === '1';
  const gc = gcFunction();
  console.log(`security fuzz: seed ${seed} (FUZZ_SEED=${seed} replays), ${only !== undefined ? `case ${only}` : `${cases} cases`}, at most ${seconds} s, concurrency ${concurrency}, gc ${gc ? 'on' : 'off (RSS)'}`);

  const rejections: unknown[] = [];
  process.on('unhandledRejection', (r) => rejections.push(r));
  const t0 = performance.now();
  const world = await startWorld();
  console.log(`system up in ${((performance.now() - t0) / 1000).toFixed(1)} s on ${world.base}${world.notes.length ? `; notes: ${world.notes.join('; ')}` : ''}`);
  const problems: string[] = [];
  try {
    const proto = prototypeSnapshot();
    await runFuzz(world, { seed: seed ^ 0x5bd1e995, cases: 500, seconds: 60, concurrency });
    const before = await memorySample(gc);
    world.logs.errors.splice(0);
    const report = await runFuzz(world, { seed, cases, seconds, concurrency, ...(only !== undefined ? { only } : {}), log: (l) => console.log(`  ${l}`) });
    const after = await memorySample(gc);

    console.log(`\n${report.cases} cases in ${report.seconds.toFixed(1)} s (${(report.cases / report.seconds).toFixed(0)}/s)`);
    console.log(`statuses: ${JSON.stringify(report.byStatus)} (0 = no HTTP answer, -1 = refused by node:http itself); held open past the client's patience: ${report.held}`);
    console.log(`mutations: ${JSON.stringify(report.byKind)}`);
    console.log(`slowest answered case: ${report.slowest.ms.toFixed(0)} ms, case ${report.slowest.index}: ${report.slowest.request.slice(0, 200)}`);
    console.log(`memory (${after.what}): ${(before.bytes / 1e6).toFixed(1)} → ${(after.bytes / 1e6).toFixed(1)} MB`);

    const sigs = Object.entries(report.signatures).sort((a, b) => b[1] - a[1]);
    const hard = sigs.filter(([s]) => strict || knownFinding(s) === undefined);
    const known = sigs.filter(([s]) => !strict && knownFinding(s) !== undefined);
    if (known.length > 0) {
      const byFinding: Record<string, number> = {};
      for (const [s, n] of known) {
        const key = knownFinding(s) === 'envelope' ? s.slice(s.indexOf(': ') + 2) : s;
        byFinding[key] = (byFinding[key] ?? 0) + n;
      }
      console.log('\nknown findings (already reported; FUZZ_STRICT=1 makes them fail the run):');
      for (const [s, n] of Object.entries(byFinding).sort((a, b) => b[1] - a[1])) console.log(`  ${n}× ${s}`);
    }
    if (hard.length > 0) {
      problems.push(`${hard.reduce((t, [, n]) => t + n, 0)} failing answers`);
      console.log('\nFAILURES by signature:');
      for (const [s, n] of hard) console.log(`  ${n}× ${s}`);
      console.log('\nexamples (replay with FUZZ_SEED and FUZZ_CASE):');
      for (const f of report.failures.filter((f) => strict || knownFinding(f.signature) === undefined).slice(0, 20)) {
        console.log(`  case ${f.index}: ${f.request.slice(0, 400)}\n    → ${f.answer.slice(0, 300)}`);
      }
    }
    if (only === undefined && report.cases < Math.min(cases, 10_000)) problems.push(`only ${report.cases} cases ran (time budget ${seconds} s)`);
    const logged = [...new Set(world.logs.errors.filter((e) => e.msg !== DOCUMENTED_500 && (strict || e.err?.message !== DEEP_NESTING_LOG)).map((e) => `${e.msg}: ${e.err?.message ?? ''}`.slice(0, 300)))];
    if (logged.length > 0) problems.push(`server logged errors: ${logged.join(' | ')}`);
    if (rejections.length > 0) problems.push(`unhandled rejections: ${rejections.map(String).join(' | ')}`);
    if (prototypeSnapshot() !== proto || ({} as Record<string, unknown>).polluted !== undefined) problems.push('built-in prototypes changed (prototype pollution)');
    const slack = after.what === 'rss' ? 200e6 : 64e6;
    if (after.bytes - before.bytes > slack) problems.push(`${after.what} grew by ${((after.bytes - before.bytes) / 1e6).toFixed(1)} MB (allowed ${slack / 1e6} MB)`);
    const alive = await world.call('GET', '/api/auth/user', { as: 'adminA' });
    if (alive.status !== 200) problems.push(`server no longer answers: GET /api/auth/user → ${alive.status}`);
    const device = await world.call('GET', `/api/v1/${world.ids.deviceBToken}/attributes`);
    if (device.status !== 200) problems.push(`device API no longer answers: ${device.status}`);
  } finally {
    await world.close();
  }
  console.log(problems.length === 0 ? '\nOK: every oracle held' : `\nFAILED:\n  ${problems.join('\n  ')}`);
  return problems.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(2);
  },
);
