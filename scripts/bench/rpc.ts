// Benchmark: two-way server-side RPC end to end, REST → rule-engine queue → root chain (RPC call
// request node) → MQTT device → reply → REST answer, against the floor: a bare MQTT
// request/response through an aedes broker (no queue, no chain).
//
//   ours   this process: the REST caller, node:http with a keep-alive Agent (TCP_NODELAY), issuing
//          POST /api/rpc/twoway/{deviceId} at a fixed open-loop rate, round robin over the devices;
//          child 1: the whole system (startSystem, every role) on its own embedded redis-server
//          (AOF on, fsync every second, as `npm start` runs it), one tenant with the shipped root
//          chain, N devices (default 100);
//          child 2: scripts/bench/rpc-devices.ts, N MQTT.js clients (TCP_NODELAY, QoS 1
//          subscriptions) answering every command at once at QoS 1.
//   floor  this process: one MQTT.js requester (TCP_NODELAY) publishing a QoS 1 request to
//          bench/<i>/request/<id> and waiting for bench/<i>/response/<id> (QoS 1 subscription);
//          child 1: an aedes broker; child 2: the same device process, in floor mode.
//
// Open loop: request k is due at t0 + k/rate and its latency counts from that due time, so a
// generator that falls behind, or a server that queues, shows up in the latency instead of
// slowing the offered load down. Per contender: a warm-up, then each --rates for --seconds, then the
// rate goes up by --step-factor for --step-seconds each until p99 > --p99-limit ms or any error,
// then --refine bisection steps between the last good and first bad rate; the last good one is
// "sustained". Each fixed rate runs --lead-in seconds before it is measured (printed on its own
// line, not counted): the first few hundred ms after the machine was idle or at a lower rate cost
// more CPU in every process (up to ~50 ms answers for ~0.3 s here), and the fixed rates measure the
// latency at that rate, not the switch to it. CPU of each process (from /proc) and of the whole
// machine is shown per phase: other people's work on a shared machine shows up as "others".
//
//   node --import tsx scripts/bench/rpc.ts [--devices=100] [--seconds=10] [--warmup=4] [--lead-in=1]
//        [--rates=100,1000] [--step-seconds=5] [--step-factor=1.5] [--refine=2] [--max-rate=20000]
//        [--p99-limit=100] [--only=ours,floor] [--sockets=256] [--floor-requesters=1]
//        [--cpu-prof=<dir>] [--no-steps] [--strace-writes] [--slow-ms=<ms>]
// Default run: about 1.5 minutes. Quick look: --seconds=3 --warmup=2 --step-seconds=2 --refine=0.
// --cpu-prof=<dir> profiles the system child (ours) during the measured phases (not the warm-up),
// writes the V8 CPU profile there (TypeScript lines) and prints where its time went: self time by
// area and function, inclusive time by src/ function.
// --slow-ms=<ms> prints, per phase, when the answers slower than that were due (per 100 ms):
// whether a p99 comes from a steady tail or from one stall.
// --strace-writes attaches strace to the system child during the measured phases and prints its
// socket writes per answered RPC by peer (Redis, MQTT devices, HTTP callers): where the write
// syscalls go. strace slows the process down, so that run's other figures are not comparable.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import type { MqttClient } from 'mqtt';
import { connectNoDelay, deviceToken, floorRequestTopic, FLOOR_RESPONSE_FILTER, REPLY, type DevicesToParent, type ParentToDevices } from './rpc-devices.js';

const { values: opts } = parseArgs({
  options: {
    devices: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '4' },
    'lead-in': { type: 'string', default: '1' },
    rates: { type: 'string', default: '100,1000' },
    'step-seconds': { type: 'string', default: '5' },
    'step-factor': { type: 'string', default: '1.5' },
    refine: { type: 'string', default: '2' },
    'max-rate': { type: 'string', default: '20000' },
    'p99-limit': { type: 'string', default: '100' },
    only: { type: 'string', default: 'ours,floor' },
    sockets: { type: 'string', default: '256' },
    'floor-requesters': { type: 'string', default: '1' },
    'cpu-prof': { type: 'string' },
    'no-steps': { type: 'boolean', default: false },
    'strace-writes': { type: 'boolean', default: false },
    'slow-ms': { type: 'string' },
    // internal: run a child role in this process
    child: { type: 'string' },
    redis: { type: 'string' },
  },
});
const DEVICES = Number(opts.devices);
const SECONDS = Number(opts.seconds);
const WARMUP = Number(opts.warmup);
const LEAD_IN = Number(opts['lead-in']);
const RATES = opts.rates.split(',').map(Number).filter((r) => r > 0);
const STEP_SECONDS = Number(opts['step-seconds']);
const STEP_FACTOR = Number(opts['step-factor']);
const REFINE = Number(opts.refine);
const MAX_RATE = Number(opts['max-rate']);
const P99_LIMIT = Number(opts['p99-limit']);
const SLOW_MS = opts['slow-ms'] === undefined ? undefined : Number(opts['slow-ms']);
const SOCKETS = Number(opts.sockets);
const FLOOR_REQUESTERS = Number(opts['floor-requesters']);
/** The RPC's own timeout (ms; the REST minimum): an unanswered call gets 504 at timeout + 1 s. */
const RPC_TIMEOUT_MS = 5000;
/** The caller gives up on its side after this (both contenders). */
const CLIENT_TIMEOUT_MS = 8000;
/** More in flight than this: the request is not sent and counts as an error ("overload"). */
const MAX_IN_FLIGHT = 20_000;
const BODY = JSON.stringify({ method: 'setValue', params: { pin: 7, value: 1 }, timeout: RPC_TIMEOUT_MS });
const THIS_FILE = fileURLToPath(import.meta.url);
const DEVICES_FILE = fileURLToPath(new URL('./rpc-devices.ts', import.meta.url));

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- children ---------------------------------------------------------------------------------

type SystemToParent =
  | { readonly t: 'ready'; readonly httpPort: number; readonly mqttPort: number; readonly deviceIds: string[]; readonly email: string; readonly password: string }
  | { readonly t: 'ready-broker'; readonly port: number }
  | { readonly t: 'prof-started' }
  | { readonly t: 'prof-stopped'; readonly file: string };
type ParentToSystem = { readonly t: 'exit' } | { readonly t: 'prof-start' } | { readonly t: 'prof-stop'; readonly file: string };

/** Sends a message to a child and waits for its reply of type `reply`. */
function ask<T extends { t: string }>(child: ChildProcess, msg: ParentToSystem, reply: T['t']): Promise<T> {
  return new Promise((res) => {
    const on = (m: { t: string }) => {
      if (m.t !== reply) return;
      child.off('message', on);
      res(m as T);
    };
    child.on('message', on);
    child.send(msg);
  });
}

// ---- CPU profile with TypeScript lines ----------------------------------------------------------
// tsx compiles each file to one line (minifyWhitespace) with an inline source map, so the
// profile's positions are mapped back through that map before the profile is written.

interface CallFrame {
  readonly functionName: string;
  readonly scriptId: string;
  readonly url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly hitCount?: number;
  readonly children?: number[];
}
interface CpuProfile {
  readonly nodes: ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: number[];
}

async function stopProfiler(session: Session, file: string): Promise<void> {
  const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: CpuProfile };
  await session.post('Debugger.enable');
  const maps = new Map<string, ((line: number, col: number) => number | undefined) | undefined>();
  for (const node of profile.nodes) {
    const f = node.callFrame;
    if (!f.url.startsWith('file://') || !/\.[cm]?ts$/.test(f.url)) continue;
    if (!maps.has(f.scriptId)) {
      const { scriptSource } = (await session.post('Debugger.getScriptSource', { scriptId: f.scriptId })) as { scriptSource: string };
      maps.set(f.scriptId, sourceMapLookup(scriptSource));
    }
    const line = maps.get(f.scriptId)?.(f.lineNumber, f.columnNumber);
    if (line !== undefined) f.lineNumber = line;
  }
  await session.post('Debugger.disable');
  await session.post('Profiler.disable');
  session.disconnect();
  writeFileSync(file, JSON.stringify(profile));
}

/** (generated line, column) → original line, from the inline source map at the end of `code`. */
function sourceMapLookup(code: string): ((line: number, col: number) => number | undefined) | undefined {
  const m = /\/\/# sourceMappingURL=data:application\/json;(?:charset=utf-8;)?base64,([A-Za-z0-9+/=]+)\s*$/.exec(code);
  if (!m) return undefined;
  const map = JSON.parse(Buffer.from(m[1] as string, 'base64').toString('utf8')) as { mappings: string };
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  // Per generated line: [generated column, original line] pairs in column order.
  const lines: [number, number][][] = [];
  let srcLine = 0;
  for (const lineText of map.mappings.split(';')) {
    const segs: [number, number][] = [];
    let genCol = 0;
    for (const seg of lineText.split(',')) {
      if (seg === '') continue;
      const values: number[] = [];
      let value = 0;
      let shift = 0;
      for (const ch of seg) {
        const digit = B64.indexOf(ch);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          values.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      genCol += values[0] ?? 0;
      if (values.length >= 4) {
        srcLine += values[2] ?? 0;
        segs.push([genCol, srcLine]);
      }
    }
    lines.push(segs);
  }
  return (line, col) => {
    const segs = lines[line];
    if (segs === undefined || segs.length === 0) return undefined;
    let lo = 0;
    let hi = segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((segs[mid] as [number, number])[0] <= col) lo = mid;
      else hi = mid - 1;
    }
    return (segs[lo] as [number, number])[1];
  };
}

async function childSystem(redisUrl: string): Promise<void> {
  const pino = (await import('pino')).default;
  const { startSystem } = await import('../../src/app/system.js');
  const { DEFAULT_SETTINGS } = await import('../../src/config/settings.js');
  const { SHIPPED_ROOT_CHAIN } = await import('../../src/app/demo.js');
  const logger = pino({ level: 'warn' }, pino.destination(2));
  const system = await startSystem(
    { ...DEFAULT_SETTINGS, httpPort: 0, mqttPort: 0, coapPort: 0, host: '127.0.0.1', logLevel: 'warn', demo: false },
    redisUrl,
    logger,
  );
  const { store, chains } = system;
  const tenant = await store.tenants.create({ title: 'RPC benchmark' });
  const tenantId = tenant.id.id;
  await store.deviceProfiles.create(tenantId, { name: 'default', default: true, defaultRuleChainId: null, defaultQueueName: null });
  await chains.importChain(tenantId, JSON.parse(await readFile(SHIPPED_ROOT_CHAIN, 'utf8')) as unknown, { source: SHIPPED_ROOT_CHAIN, root: true });
  const email = 'bench@rpc.example';
  const password = 'bench-Pa55word';
  await store.users.create({ email, authority: 'TENANT_ADMIN', tenantId, password });
  const deviceIds: string[] = [];
  for (let i = 0; i < DEVICES; i++) {
    const device = await store.devices.create(tenantId, { name: `bench-${i}`, type: 'default' });
    await store.credentials.save(tenantId, device.id.id, deviceToken(i));
    deviceIds.push(device.id.id);
  }
  const stop = async () => {
    await system.stop();
    process.exit(0);
  };
  let profiler: Session | undefined;
  process.on('message', (m: ParentToSystem) => {
    if (m.t === 'exit') void stop();
    else if (m.t === 'prof-start') {
      profiler = new Session();
      profiler.connect();
      void profiler
        .post('Profiler.enable')
        .then(() => profiler?.post('Profiler.start'))
        .then(() => process.send?.({ t: 'prof-started' } satisfies SystemToParent));
    } else if (m.t === 'prof-stop' && profiler !== undefined) {
      void stopProfiler(profiler, m.file).then(() => process.send?.({ t: 'prof-stopped', file: m.file } satisfies SystemToParent));
    }
  });
  process.on('disconnect', () => void stop());
  process.send?.({ t: 'ready', httpPort: system.httpPort ?? 0, mqttPort: system.mqttPort ?? 0, deviceIds, email, password } satisfies SystemToParent);
}

async function childBroker(): Promise<void> {
  const { Aedes } = await import('aedes');
  const broker = await Aedes.createBroker();
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    broker.handle(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  process.on('message', (m: { t: string }) => void (m.t === 'exit' ? process.exit(0) : undefined));
  process.on('disconnect', () => process.exit(0));
  process.send?.({ t: 'ready-broker', port: typeof addr === 'object' && addr ? addr.port : 0 } satisfies SystemToParent);
}

/** Spawns a TypeScript child with IPC; resolves with it and its first message. */
async function spawnChild<T>(file: string, args: string[], nodeFlags: string[] = []): Promise<{ child: ChildProcess; first: T }> {
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', file, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const first = await new Promise<T>((res, rej) => {
    child.once('message', (m) => {
      const msg = m as { t: string; message?: string };
      if (msg.t === 'error') rej(new Error(msg.message));
      else res(m as T);
    });
    child.once('exit', (code, signal) => rej(new Error(`${file} ${args.join(' ')} exited (${code ?? signal}) before it was ready`)));
  });
  return { child, first };
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  if (child.connected) child.send({ t: 'exit' });
  else child.kill('SIGTERM');
  if (!(await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]))) {
    child.kill('SIGKILL');
    await exited;
  }
}

/** Asks the device process how many commands it answered. */
function deviceStats(child: ChildProcess): Promise<{ answered: number }> {
  return new Promise((res) => {
    const on = (m: DevicesToParent) => {
      if (m.t !== 'stats') return;
      child.off('message', on);
      res(m);
    };
    child.on('message', on);
    child.send({ t: 'stats' } satisfies ParentToDevices);
  });
}

// ---- CPU from /proc -----------------------------------------------------------------------------

const CLK_TCK = 100;

/** CPU seconds (user + system) a process used so far; 0 when it is gone. */
function processCpu(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime (fields 14, 15)
  } catch {
    return 0;
  }
}

/** Busy and total CPU seconds of the machine (all cores). */
function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK };
}

type Pids = Record<string, number | undefined>;
interface CpuSnapshot {
  readonly at: number;
  readonly procs: Record<string, number>;
  readonly machine: { busy: number; total: number };
}
function cpuSnapshot(pids: Pids): CpuSnapshot {
  const procs: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) procs[name] = processCpu(pid);
  return { at: performance.now(), procs, machine: machineCpu() };
}
/** "system 95% redis 30% ... others 40% (of 200%)": % of one core over the interval. */
function cpuText(a: CpuSnapshot, b: CpuSnapshot): { text: string; perProc: Record<string, number>; others: number } {
  const secs = (b.at - a.at) / 1000;
  const perProc: Record<string, number> = {};
  let ours = 0;
  for (const name of Object.keys(b.procs)) {
    const used = (b.procs[name] ?? 0) - (a.procs[name] ?? 0);
    perProc[name] = (100 * used) / secs;
    ours += used;
  }
  const busy = b.machine.busy - a.machine.busy;
  const others = Math.max(0, (100 * (busy - ours)) / secs);
  const parts = Object.entries(perProc).map(([n, p]) => `${n} ${p.toFixed(0)}%`);
  parts.push(`others ${others.toFixed(0)}%`);
  return { text: `${parts.join(', ')} (of ${cpus().length * 100}%)`, perProc, others };
}

// ---- open-loop load and latency -----------------------------------------------------------------

/** Sends request `i`; calls done(undefined) on a correct answer, done(reason) otherwise. Exactly once. */
type Fire = (i: number, done: (error?: string) => void) => void;

interface PhaseResult {
  readonly label: string;
  readonly rate: number;
  readonly seconds: number;
  readonly sent: number;
  readonly ok: number;
  readonly errors: number;
  readonly errorKinds: Record<string, number>;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  /** Answers per second over the phase (first due time → last answer). */
  readonly achieved: number;
  /** How late the generator fired at worst (ms): its own lag is part of every latency. */
  readonly maxFireLag: number;
  readonly cpu: string;
  readonly cpuPerRpcUs: Record<string, number>;
  /** CPU other processes of the machine used meanwhile, % of one core. */
  readonly others: number;
  readonly good: boolean;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** A cumulative count read before and after a phase (e.g. Redis commands), shown per RPC. */
interface Counter {
  readonly name: string;
  read(): Promise<number>;
}

async function runPhase(label: string, rate: number, seconds: number, fire: Fire, pids: Pids, counters: readonly Counter[] = []): Promise<PhaseResult> {
  const n = Math.max(1, Math.round(rate * seconds));
  const latencies = new Float64Array(n);
  /** Per 100 ms of the phase (by due time): answers slower than --slow-ms. */
  const slowWindows = new Map<number, number>();
  let answered = 0;
  let ok = 0;
  let lastAnswer = 0;
  let inFlight = 0;
  let maxFireLag = 0;
  const errorKinds: Record<string, number> = {};
  const fail = (why: string) => void (errorKinds[why] = (errorKinds[why] ?? 0) + 1);
  const interval = 1000 / rate;
  const count0 = await Promise.all(counters.map((c) => c.read()));
  const cpu0 = cpuSnapshot(pids);
  const t0 = performance.now() + 2;
  let next = 0;
  let allAnswered: () => void = () => undefined;
  const finished = new Promise<void>((r) => (allAnswered = r));

  const sendDue = () => {
    const now = performance.now();
    while (next < n) {
      const due = t0 + next * interval;
      if (due > now) break;
      maxFireLag = Math.max(maxFireLag, now - due);
      const i = next++;
      if (inFlight >= MAX_IN_FLIGHT) {
        fail('overload (not sent)');
        if (++answered === n) allAnswered();
        continue;
      }
      inFlight++;
      let settled = false;
      fire(i, (error) => {
        if (settled) return;
        settled = true;
        inFlight--;
        const end = performance.now();
        if (error === undefined) latencies[ok++] = end - due;
        else fail(error);
        if (SLOW_MS !== undefined && (error !== undefined || end - due > SLOW_MS)) {
          const w = Math.floor((due - t0) / 100);
          slowWindows.set(w, (slowWindows.get(w) ?? 0) + 1);
        }
        lastAnswer = end;
        if (++answered === n) allAnswered();
      });
    }
    if (next < n) setTimeout(sendDue, Math.max(0, t0 + next * interval - performance.now() - 0.5));
  };
  setTimeout(sendDue, 1);
  await finished;
  const cpu1 = cpuSnapshot(pids);
  if (slowWindows.size > 0) {
    const windows = [...slowWindows].sort((a, b) => a[0] - b[0]).map(([w, c]) => `${(w / 10).toFixed(1)}s:${c}`);
    console.log(`  ${label} ${rate}/s (started ${new Date(Date.now() - (performance.now() - t0)).toISOString()}): answers slower than ${SLOW_MS} ms, by due time in the phase (s:count): ${windows.join(' ')}`);
  }
  const count1 = await Promise.all(counters.map((c) => c.read()));
  const sorted = latencies.subarray(0, ok).sort();
  const errors = n - ok;
  const p99 = percentile(sorted, 99);
  const { text, perProc, others } = cpuText(cpu0, cpu1);
  const wall = (cpu1.at - cpu0.at) / 1000;
  const cpuPerRpcUs: Record<string, number> = {};
  for (const [name, pct] of Object.entries(perProc)) cpuPerRpcUs[name] = ((pct / 100) * wall * 1e6) / n;
  const perRpc = counters.map((c, i) => `; ${(((count1[i] ?? 0) - (count0[i] ?? 0)) / n).toFixed(1)} ${c.name}/RPC`).join('');
  return {
    label,
    rate,
    seconds,
    sent: n,
    ok,
    errors,
    errorKinds,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99,
    max: sorted.length > 0 ? (sorted[sorted.length - 1] ?? Number.NaN) : Number.NaN,
    achieved: ok / ((lastAnswer - t0) / 1000),
    maxFireLag,
    cpu: text + perRpc,
    cpuPerRpcUs,
    others,
    good: errors === 0 && p99 <= P99_LIMIT,
  };
}

const ms = (v: number) => (Number.isNaN(v) ? '-' : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0));

function phaseLine(r: PhaseResult): string {
  const errs = r.errors === 0 ? '0 errors' : `${r.errors} errors (${Object.entries(r.errorKinds).map(([k, v]) => `${k}: ${v}`).join(', ')})`;
  // CPU per RPC barely depends on other load; all of ours together bound the rate this machine allows.
  const totalUs = Object.values(r.cpuPerRpcUs).reduce((a, b) => a + b, 0);
  return (
    `  ${r.label.padEnd(8)} ${String(r.rate).padStart(6)}/s × ${r.seconds}s: p50 ${ms(r.p50)}  p90 ${ms(r.p90)}  p99 ${ms(r.p99)}  max ${ms(r.max)} ms; ` +
    `${errs}; ${r.achieved.toFixed(0)} answers/s; fire lag ≤ ${ms(r.maxFireLag)} ms; ${r.good ? 'good' : 'NOT good'}\n` +
    `           cpu: ${r.cpu}\n` +
    `           cpu µs/RPC: ${Object.entries(r.cpuPerRpcUs).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}; all ${totalUs.toFixed(0)} ` +
    `(at this cost, ${cpus().length} idle cores would allow ~${Math.round((cpus().length * 1e6) / totalUs)}/s)`
  );
}

interface ContenderResult {
  readonly name: 'ours' | 'floor';
  readonly fixed: PhaseResult[];
  readonly steps: PhaseResult[];
  /** Highest rate with p99 ≤ limit and no errors (0: none). */
  readonly sustained: number;
  readonly load: string;
}

/** Warm-up, the fixed rates, then the search for the highest sustained rate. */
async function measure(
  name: 'ours' | 'floor',
  fire: Fire,
  pids: Pids,
  extra: { profiling?: (phase: 'start' | 'stop') => Promise<void>; counters?: readonly Counter[] } = {},
): Promise<ContenderResult> {
  const { profiling, counters } = extra;
  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`\n${name}: load average ${load}`);
  if (WARMUP > 0) {
    const w1 = await runPhase('warm-up', 100, WARMUP / 2, fire, pids);
    const w2 = await runPhase('warm-up', 500, WARMUP / 2, fire, pids);
    console.log(`  warm-up  done (p50 ${ms(w1.p50)} ms at 100/s, ${ms(w2.p50)} ms at 500/s, ${w1.errors + w2.errors} errors)`);
  }
  // Idle: what the process costs with nothing to do (pollers, heartbeats, timers).
  const idle0 = cpuSnapshot(pids);
  await sleep(2000);
  console.log(`  idle     cpu: ${cpuText(idle0, cpuSnapshot(pids)).text}`);
  await profiling?.('start');
  const fixed: PhaseResult[] = [];
  for (const rate of RATES) {
    await sleep(500);
    if (LEAD_IN > 0) {
      const lead = await runPhase('lead-in', rate, LEAD_IN, fire, pids);
      console.log(`  lead-in  ${String(rate).padStart(6)}/s × ${LEAD_IN}s, not counted: p50 ${ms(lead.p50)}  p99 ${ms(lead.p99)}  max ${ms(lead.max)} ms; ${lead.errors} errors`);
    }
    const r = await runPhase('rate', rate, SECONDS, fire, pids, counters);
    console.log(phaseLine(r));
    fixed.push(r);
  }
  const steps: PhaseResult[] = [];
  let good = Math.max(0, ...fixed.filter((r) => r.good).map((r) => r.rate));
  let bad = Math.min(Infinity, ...fixed.filter((r) => !r.good && r.rate > good).map((r) => r.rate));
  const step = async (rate: number) => {
    // After a bad step, let the backlog (queued jobs, expiring calls) clear before the next one.
    await sleep(steps.length > 0 && !(steps[steps.length - 1] as PhaseResult).good ? 3000 : 500);
    const r = await runPhase('step', rate, STEP_SECONDS, fire, pids, counters);
    console.log(phaseLine(r));
    steps.push(r);
    if (r.good) good = Math.max(good, rate);
    else bad = Math.min(bad, rate);
  };
  if (!opts['no-steps'] && good > 0) {
    while (bad === Infinity) {
      const rate = Math.round((good * STEP_FACTOR) / 100) * 100;
      if (rate > MAX_RATE) break;
      await step(rate);
    }
    for (let k = 0; k < REFINE && bad !== Infinity; k++) {
      const mid = Math.round(Math.sqrt(good * bad) / 50) * 50;
      if (mid <= good || mid >= bad) break;
      await step(mid);
    }
  }
  await profiling?.('stop');
  console.log(`  ${name}: highest sustained rate ${good}/s (p99 ≤ ${P99_LIMIT} ms, no errors)${bad !== Infinity ? `; ${bad}/s was not` : ''}`);
  return { name, fixed, steps, sustained: good, load };
}

// ---- ours ---------------------------------------------------------------------------------------

interface StraceWrites {
  /** Ends the trace and counts the socket writes by peer. */
  stop(ports: { http: number; mqtt: number; redis: number }): Promise<Map<string, number>>;
}

/** strace on `pid`'s write syscalls (all threads), into a file in `dir`; undefined without strace. */
async function straceWrites(pid: number, dir: string): Promise<StraceWrites | undefined> {
  const file = join(dir, 'writes.strace');
  const child = spawn('strace', ['-f', '-qq', '-yy', '--seccomp-bpf', '-e', 'trace=write,writev,sendmsg,sendto', '-p', String(pid), '-o', file], { stdio: 'ignore' });
  const failed = await new Promise<boolean>((done) => {
    child.once('error', () => done(true));
    // strace prints nothing when attached (-qq): give it a moment to attach to every thread.
    setTimeout(() => done(false), 500);
  });
  if (failed) {
    console.error('  --strace-writes: strace could not be started; no write breakdown');
    return undefined;
  }
  return {
    async stop(ports) {
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGINT');
      await exited;
      const counts = new Map<string, number>();
      const text = await readFile(file, 'utf8').catch(() => '');
      for (const line of text.split('\n')) {
        const m = /(?:write|writev|sendmsg|sendto)\(\d+<(TCP|UDP|UNIX|[^:>]+)[^>]*?(?::\[[\d.]+:(\d+)->[\d.]+:(\d+)\])?>/.exec(line);
        if (m === null) continue;
        const local = Number(m[2]);
        const remote = Number(m[3]);
        const peer =
          local === ports.http ? 'HTTP callers'
          : local === ports.mqtt ? 'MQTT devices'
          : remote === ports.redis ? 'Redis'
          : `other (${m[1]})`;
        counts.set(peer, (counts.get(peer) ?? 0) + 1);
      }
      return counts;
    },
  };
}

async function login(port: number, email: string, password: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: email, password }),
  });
  if (res.status !== 200) throw new Error(`login: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

/** An Agent whose sockets have TCP_NODELAY (net.Socket's noDelay option). */
function keepAliveAgent(): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: SOCKETS, maxFreeSockets: SOCKETS, noDelay: true } as http.AgentOptions);
}

function restFire(port: number, jwt: string, deviceIds: readonly string[], agent: http.Agent): Fire {
  const headers = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(BODY)),
    'x-authorization': `Bearer ${jwt}`,
  };
  return (i, done) => {
    const req = http.request(
      { agent, host: '127.0.0.1', port, method: 'POST', path: `/api/rpc/twoway/${deviceIds[i % deviceIds.length]}`, headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => done(res.statusCode !== 200 ? `HTTP ${res.statusCode}` : body !== REPLY ? 'wrong reply' : undefined));
        res.on('error', (e) => done(e.message));
      },
    );
    req.setTimeout(CLIENT_TIMEOUT_MS, () => req.destroy(new Error('client timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
    req.end(BODY);
  };
}

async function runOurs(): Promise<ContenderResult> {
  const { startEmbeddedRedis } = await import('../../src/redis/embedded-redis.js');
  const dir = await mkdtemp(join(tmpdir(), 'rpc-bench-'));
  const redis = await startEmbeddedRedis({ dataDir: dir, appendOnly: true });
  let system: ChildProcess | undefined;
  let devices: ChildProcess | undefined;
  const agent = keepAliveAgent();
  let infoConn: Redis | undefined;
  try {
    const started = Date.now();
    const sys = await spawnChild<Extract<SystemToParent, { t: 'ready' }>>(THIS_FILE, ['--child=system', `--redis=${redis.url}`, `--devices=${DEVICES}`]);
    system = sys.child;
    const dev = await spawnChild<Extract<DevicesToParent, { t: 'ready' }>>(DEVICES_FILE, ['--mode=ours', `--port=${sys.first.mqttPort}`, `--devices=${DEVICES}`]);
    devices = dev.child;
    devices.on('message', (m: DevicesToParent) => void (m.t === 'error' ? console.error(`devices: ${m.message}`) : undefined));
    const jwt = await login(sys.first.httpPort, sys.first.email, sys.first.password);
    console.log(
      `ours: system up with ${DEVICES} devices (redis ${redis.url}, AOF on), ${dev.first.connected} MQTT devices connected in ${dev.first.ms} ms; ` +
        `ready after ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    const pids: Pids = { system: system.pid, redis: redis.pid, devices: devices.pid, caller: process.pid };
    let straced: StraceWrites | undefined;
    let writesByPeer: Map<string, number> | undefined;
    const profiling = async (phase: 'start' | 'stop'): Promise<void> => {
      if (opts['strace-writes'] && system?.pid !== undefined) {
        if (phase === 'start') straced = await straceWrites(system.pid, dir);
        else writesByPeer = await straced?.stop({ http: sys.first.httpPort, mqtt: sys.first.mqttPort, redis: Number(new URL(redis.url).port) });
      }
      if (opts['cpu-prof'] === undefined || system === undefined) return;
      if (phase === 'start') {
        await ask(system, { t: 'prof-start' }, 'prof-started');
        return;
      }
      const profDir = resolve(opts['cpu-prof']);
      await mkdir(profDir, { recursive: true });
      const file = join(profDir, `rpc-system-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
      await ask(system, { t: 'prof-stop', file }, 'prof-stopped');
      summariseProfile(file);
    };
    // Commands clients sent to Redis (top level: a script counts once), per RPC.
    const info = new Redis(redis.url);
    infoConn = info;
    const counter: Counter = {
      name: 'Redis commands (with those inside scripts)',
      read: async () => Number(/total_commands_processed:(\d+)/.exec(await info.info('stats'))?.[1] ?? Number.NaN),
    };
    // Socket writes of the system process (each one a syscall): what batching saves shows here.
    const systemPid = system.pid;
    const writes: Counter = {
      name: 'write syscalls of the system process',
      read: async () => Number(/syscw:\s*(\d+)/.exec(await readFile(`/proc/${systemPid ?? 0}/io`, 'utf8').catch(() => ''))?.[1] ?? Number.NaN),
    };
    const result = await measure('ours', restFire(sys.first.httpPort, jwt, sys.first.deviceIds, agent), pids, { profiling, counters: [counter, writes] });
    const stats = await deviceStats(devices);
    const okTotal = [...result.fixed, ...result.steps].reduce((a, r) => a + r.ok, 0);
    console.log(`  devices answered ${stats.answered} commands (${okTotal} counted answers, not counting warm-up)`);
    if (writesByPeer !== undefined) {
      const parts = [...writesByPeer].sort((a, b) => b[1] - a[1]).map(([peer, n]) => `${peer} ${(n / okTotal).toFixed(2)}`);
      console.log(`  write syscalls of the system process per answered RPC, by peer (under strace): ${parts.join(', ')}`);
    }
    agent.destroy();
    await stopChild(devices);
    await stopChild(system);
    return result;
  } finally {
    infoConn?.disconnect();
    agent.destroy();
    await stopChild(devices);
    await stopChild(system);
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

// ---- floor --------------------------------------------------------------------------------------

async function runFloor(): Promise<ContenderResult> {
  let broker: ChildProcess | undefined;
  let devices: ChildProcess | undefined;
  const requesters: MqttClient[] = [];
  try {
    const b = await spawnChild<Extract<SystemToParent, { t: 'ready-broker' }>>(THIS_FILE, ['--child=broker']);
    broker = b.child;
    const dev = await spawnChild<Extract<DevicesToParent, { t: 'ready' }>>(DEVICES_FILE, ['--mode=floor', `--port=${b.first.port}`, `--devices=${DEVICES}`]);
    devices = dev.child;
    devices.on('message', (m: DevicesToParent) => void (m.t === 'error' ? console.error(`devices: ${m.message}`) : undefined));
    const pending = new Map<number, (error?: string) => void>();
    for (let k = 0; k < FLOOR_REQUESTERS; k++) {
      const client = await connectNoDelay(`mqtt://127.0.0.1:${b.first.port}`, { clientId: `bench-requester-${k}` });
      client.on('message', (topic) => {
        const id = Number(topic.slice(topic.lastIndexOf('/') + 1));
        const done = pending.get(id);
        if (done === undefined) return;
        pending.delete(id);
        done();
      });
      await client.subscribeAsync(FLOOR_RESPONSE_FILTER, { qos: 1 });
      requesters.push(client);
    }
    console.log(`\nfloor: aedes broker, ${dev.first.connected} MQTT devices connected in ${dev.first.ms} ms, ${requesters.length} requester(s)`);
    let seq = 0;
    const fire: Fire = (i, done) => {
      const id = seq++;
      const timer = setTimeout(() => {
        pending.delete(id);
        done('client timeout');
      }, CLIENT_TIMEOUT_MS);
      pending.set(id, (error) => {
        clearTimeout(timer);
        done(error);
      });
      (requesters[i % requesters.length] as MqttClient).publish(floorRequestTopic(i % DEVICES, id), BODY, { qos: 1 }, (e) => {
        if (e === undefined || e === null) return;
        pending.delete(id);
        clearTimeout(timer);
        done(e.message);
      });
    };
    const pids: Pids = { broker: broker.pid, devices: devices.pid, requester: process.pid };
    return await measure('floor', fire, pids);
  } finally {
    for (const c of requesters) c.end(true);
    await stopChild(devices);
    await stopChild(broker);
  }
}

// ---- CPU profile summary ------------------------------------------------------------------------

/** Where the system child's time went: self time by area and function, inclusive by src/ function. */
function summariseProfile(file: string): void {
  let profile: CpuProfile;
  try {
    profile = JSON.parse(readFileSync(file, 'utf8')) as typeof profile;
  } catch (e) {
    console.log(`cannot read the profile ${file}: ${(e as Error).message}`);
    return;
  }
  const root = process.cwd();
  const totalSamples = profile.samples.length;
  const sampleMs = (profile.endTime - profile.startTime) / 1000 / totalSamples;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const where = (n: ProfileNode) => {
    const url = n.callFrame.url.startsWith('file://') ? fileURLToPath(n.callFrame.url) : n.callFrame.url;
    const rel = url.startsWith(root) ? url.slice(root.length + 1) : url;
    return { rel, at: `${rel}:${n.callFrame.lineNumber + 1}` };
  };
  const area = (n: ProfileNode): string => {
    const { rel } = where(n);
    if (rel === '') return n.callFrame.functionName.startsWith('(') ? n.callFrame.functionName : '(native)';
    const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(rel);
    if (nm) return `npm:${nm[1]}`;
    if (rel.startsWith('node:')) return rel.split('/')[0] as string;
    if (rel.startsWith('src/')) return rel.split('/').slice(0, 2).join('/');
    return rel;
  };
  const selfByArea = new Map<string, number>();
  const selfByFn = new Map<string, number>();
  const inclusiveSrc = new Map<string, number>();
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0;
    if (hits === 0) continue;
    const a = area(n);
    selfByArea.set(a, (selfByArea.get(a) ?? 0) + hits);
    const fn = `${n.callFrame.functionName || '(anonymous)'} ${where(n).at}`;
    selfByFn.set(fn, (selfByFn.get(fn) ?? 0) + hits);
    // Inclusive: every src/ function on the stack, once per stack.
    const seen = new Set<string>();
    for (let id: number | undefined = n.id; id !== undefined; id = parent.get(id)) {
      const p = byId.get(id) as ProfileNode;
      const w = where(p);
      if (!w.rel.startsWith('src/')) continue;
      const key = `${p.callFrame.functionName || '(anonymous)'} ${w.at}`;
      if (seen.has(key)) continue;
      seen.add(key);
      inclusiveSrc.set(key, (inclusiveSrc.get(key) ?? 0) + hits);
    }
  }
  const idle = selfByArea.get('(idle)') ?? 0;
  const busy = totalSamples - idle;
  const pct = (h: number) => `${((100 * h) / busy).toFixed(1).padStart(5)}%`;
  const top = (m: Map<string, number>, k: number) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, k);
  console.log(`\nCPU profile of the system child (${file}): ${((busy * sampleMs) / 1000).toFixed(1)} s busy of ${((totalSamples * sampleMs) / 1000).toFixed(1)} s; % of busy time`);
  console.log('  self time by area:');
  for (const [a, h] of top(selfByArea, 22)) if (a !== '(idle)') console.log(`    ${pct(h)}  ${a}`);
  console.log('  self time by function:');
  for (const [f, h] of top(selfByFn, 30)) if (!f.startsWith('(idle)')) console.log(`    ${pct(h)}  ${f}`);
  console.log('  inclusive time of src/ functions:');
  for (const [f, h] of top(inclusiveSrc, 40)) console.log(`    ${pct(h)}  ${f}`);
}

// ---- report -------------------------------------------------------------------------------------

function report(results: ContenderResult[]): void {
  const ours = results.find((r) => r.name === 'ours');
  const floor = results.find((r) => r.name === 'floor');
  console.log('\n| rate | contender | p50 ms | p90 ms | p99 ms | max ms | errors | answers/s |');
  console.log('|---:|---|---:|---:|---:|---:|---:|---:|');
  for (const rate of RATES) {
    for (const r of results) {
      const p = r.fixed.find((f) => f.rate === rate);
      if (p) console.log(`| ${rate}/s | ${r.name} | ${ms(p.p50)} | ${ms(p.p90)} | ${ms(p.p99)} | ${ms(p.max)} | ${p.errors} | ${p.achieved.toFixed(0)} |`);
    }
    const o = ours?.fixed.find((f) => f.rate === rate);
    const f = floor?.fixed.find((x) => x.rate === rate);
    if (o && f) console.log(`| ${rate}/s | p50 ours/floor | ${(o.p50 / f.p50).toFixed(1)}× | ${(o.p90 / f.p90).toFixed(1)}× | ${(o.p99 / f.p99).toFixed(1)}× | | | |`);
  }
  console.log('');
  for (const r of results) console.log(`Highest sustained rate, ${r.name}: ${r.sustained}/s (p99 ≤ ${P99_LIMIT} ms, no errors; load average at its start ${r.load})`);
  const phases = results.flatMap((r) => [...r.fixed, ...r.steps]);
  const busiest = Math.max(0, ...phases.map((p) => p.others));
  if (busiest > 25) {
    console.log(
      `\nNote: other processes used up to ${busiest.toFixed(0)}% CPU (of ${cpus().length * 100}%) during these phases: latencies and rates ` +
        'are lower bounds of what an idle machine gives; CPU µs/RPC is the figure that load changes least.',
    );
  }
  if (ours) {
    const at1k = ours.fixed.find((f) => f.rate === 1000);
    const f1k = floor?.fixed.find((f) => f.rate === 1000);
    const check = (ok: boolean) => (ok ? 'met' : 'MISSED');
    console.log('\nTargets:');
    if (at1k) {
      console.log(`  p50 ≤ 3 ms at 1,000 RPC/s: ${ms(at1k.p50)} ms, ${check(at1k.p50 <= 3)}`);
      console.log(`  p99 ≤ 15 ms at 1,000 RPC/s: ${ms(at1k.p99)} ms, ${check(at1k.p99 <= 15)}`);
      if (f1k) console.log(`  p50 within 3× the floor at 1,000 RPC/s: ${(at1k.p50 / f1k.p50).toFixed(1)}×, ${check(at1k.p50 <= 3 * f1k.p50)}`);
    }
    console.log(`  ≥ 3,000 RPC/s sustained: ${ours.sustained}/s, ${check(ours.sustained >= 3000)}`);
  }
}

async function main(): Promise<void> {
  if (opts.child === 'system') return childSystem(opts.redis as string);
  if (opts.child === 'broker') return childBroker();
  const only = new Set(opts.only.split(','));
  const began = Date.now();
  console.log(
    `RPC benchmark: ${DEVICES} devices, ${cpus().length} cores, node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ` +
      `rates ${RATES.join(', ')}/s for ${SECONDS} s, steps ×${STEP_FACTOR} for ${STEP_SECONDS} s until p99 > ${P99_LIMIT} ms or an error`,
  );
  const results: ContenderResult[] = [];
  if (only.has('ours')) results.push(await runOurs());
  if (only.has('floor')) results.push(await runFloor());
  report(results);
  console.log(`\n(${((Date.now() - began) / 1000).toFixed(0)} s)`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((e: Error) => {
    console.error(e);
    process.exit(1);
  });
}
