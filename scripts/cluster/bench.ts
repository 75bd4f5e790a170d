// Scale-out benchmark, in one run, side by side:
//   throughput   telemetry messages through the rule-engine tier (Main queue → root chain: message
//                type switch → save time series) with 1 and with 2 rule-engine processes
//                (ROLES=rule-engine). The messages are queued first with the Main partitions paused,
//                then resumed: the figure is messages / time to drain, the rule engines' own rate.
//   RPC latency  two-way REST RPC (REST → queue → root chain → MQTT device → reply → REST) with
//                the roles together (one process, every role) and split (api, transport and
//                rule-engine processes): one call at a time, then N concurrent callers.
// Every process is a real `rpc-chains start` (scripts/cluster/processes.ts) on one redis-server
// (AOF on, fsync every second, as `npm start` runs it), or with --redis-cluster on a 3-master Redis
// Cluster. CPU per process is read from /proc during the measured parts.
//
//   npx tsx scripts/cluster/bench.ts [--messages=30000] [--rounds=3] [--devices=200] [--calls=1000]
//        [--concurrency=16] [--redis-cluster] [--no-aof]
// Default run: about a minute and a half.
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { SHIPPED_ROOT_CHAIN } from '../../src/app/demo.js';
import type { TbMsg } from '../../src/msg/tb-msg.js';
import { RuleEngineProducer } from '../../src/queue/producer.js';
import { DEFAULT_KEY_BASE, partitionPrefix } from '../../src/queue/partitions.js';
import { DEFAULT_QUEUES } from '../../src/queue/queue-config.js';
import { createRedis, createRedisClient, isCluster } from '../../src/redis/connection.js';
import { Store } from '../../src/store/store.js';
import { telemetryMessages } from '../../src/transport/device-messages.js';
import type { DeviceIdentity } from '../../src/transport/transport-api.js';
import { startRedisCluster, startRedisNode } from '../../test/helpers/cluster-redis.js';
import { connectDevice, type TestDevice } from '../../test/helpers/cluster-world.js';
import { startProcesses, stopProcesses, type ClusterLayout, type RoleProcess } from './processes.js';

const PASSWORD = 'bench-Pa55word';
const MAIN = DEFAULT_QUEUES.find((q) => q.name === 'Main')!;

interface Cpu {
  readonly label: string;
  readonly pid: number;
  start: number;
}

/** CPU time of a process so far, seconds (utime + stime from /proc). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Busy and total CPU time of the whole machine so far, seconds (from /proc/stat). */
function machineSeconds(): { busy: number; total: number } {
  const [, ...f] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const n = f.map(Number);
  const total = n.reduce((a, b) => a + b, 0);
  const idle = (n[3] ?? 0) + (n[4] ?? 0);
  return { busy: (total - idle) / 100, total: total / 100 };
}

/** CPU of each watched process, and of everything else on the machine ("others": other people's work). */
function cpuWatch(items: { label: string; pid: number }[]): { stop(seconds: number): string } {
  const watched: Cpu[] = items.map((i) => ({ ...i, start: cpuSeconds(i.pid) }));
  const machine0 = machineSeconds();
  const self0 = process.cpuUsage();
  return {
    stop(seconds) {
      const ours = watched.map((w) => ({ label: w.label, s: cpuSeconds(w.pid) - w.start }));
      const self = process.cpuUsage(self0);
      const selfS = (self.user + self.system) / 1e6;
      const busy = machineSeconds().busy - machine0.busy;
      const others = Math.max(0, busy - selfS - ours.reduce((a, o) => a + o.s, 0));
      const pct = (x: number) => `${Math.round((x / seconds) * 100)}%`;
      return [...ours.map((o) => `${o.label} ${pct(o.s)}`), `bench ${pct(selfS)}`, `others ${pct(others)}`].join(', ');
    },
  };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string', default: '30000' },
      rounds: { type: 'string', default: '3' },
      devices: { type: 'string', default: '200' },
      calls: { type: 'string', default: '1000' },
      concurrency: { type: 'string', default: '16' },
      'redis-cluster': { type: 'boolean', default: false },
      'no-aof': { type: 'boolean', default: false },
    },
  });
  const messages = Number(values.messages);
  const rounds = Math.max(1, Number(values.rounds));
  const deviceCount = Number(values.devices);
  const calls = Number(values.calls);
  const concurrency = Number(values.concurrency);
  const rpcDevices = 10;

  const dir = await mkdtemp(join(tmpdir(), 'rpc-chains-bench-cluster-'));
  const cluster = values['redis-cluster'] ? await startRedisCluster({ masters: 3, appendOnly: !values['no-aof'] }) : undefined;
  const node = cluster ? undefined : await startRedisNode({ dir: join(dir, 'redis'), appendOnly: !values['no-aof'] });
  const redisUrl = cluster?.url ?? node!.url;
  const redisPids = cluster ? cluster.nodes.map((n) => n.pid) : [node!.pid];
  const redis = createRedisClient(redisUrl, { role: 'client', connectionName: 'bench' });
  const store = new Store(redis);
  const running: RoleProcess[] = [];
  const start = async (layout: ClusterLayout, idPrefix: string) => {
    const ps = await startProcesses(layout, { redisUrl, idPrefix, logLevel: 'error', onLine: (name, line) => process.stderr.write(`[${name}] ${line}\n`) });
    running.push(...ps);
    return ps;
  };
  const stopAll = async () => {
    await stopProcesses(running.splice(0), 10_000);
  };
  const rows: string[] = [];
  const say = (t: string) => process.stdout.write(`${t}\n`);
  say(`rpc-chains scale-out benchmark: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load average ${loadavg()[0].toFixed(2)} at start`);
  say(`Redis: ${cluster ? '3-master Redis Cluster' : 'one redis-server'}, AOF ${values['no-aof'] ? 'off' : 'on (fsync every second)'}\n`);

  try {
    // ---- the tenant: devices, admin, the shipped root chain (imported through an api process)
    const tenant = await store.tenants.create({ title: 'Bench tenant' });
    const tenantId = tenant.id.id;
    const profile = await store.deviceProfiles.create(tenantId, { name: 'default', default: true });
    const admin = await store.users.create({ email: 'admin@bench.example', authority: 'TENANT_ADMIN', tenantId, password: PASSWORD });
    const identities: DeviceIdentity[] = [];
    for (let i = 0; i < deviceCount; i++) {
      const d = await store.devices.create(tenantId, { name: `tele-${i}`, type: 'default' });
      identities.push({ tenantId, customerId: null, deviceId: d.id.id, deviceName: d.name, deviceType: 'default', deviceProfileId: profile.id.id, ruleChainId: null, queueName: null });
    }
    const rpcIds: string[] = [];
    for (let i = 0; i < rpcDevices; i++) {
      const d = await store.devices.create(tenantId, { name: `rpc-${i}`, type: 'default' });
      await store.credentials.save(tenantId, d.id.id, `BENCH_RPC_${i}`);
      rpcIds.push(d.id.id);
    }
    const [seeder] = await start({ api: 1 }, 'seed');
    const jwt = await login(seeder, admin.email);
    const imported = await rest(seeder, jwt, 'POST', '/api/ruleChain/import?root=true', JSON.parse(await readFile(SHIPPED_ROOT_CHAIN, 'utf8')) as unknown);
    if (imported.status !== 200) throw new Error(`chain import: ${imported.status} ${imported.text}`);
    await stopAll();

    // ---- throughput: 1 and 2 rule-engine processes
    const producer = new RuleEngineProducer({ redis: createRedis(redisUrl, { role: 'client' }), queues: DEFAULT_QUEUES, maxPackSize: 100 });
    const control = createRedis(redisUrl, { role: 'client' });
    const partitions = Array.from({ length: MAIN.partitions }, (_, p) => new Queue('Main', { connection: control, prefix: partitionPrefix(DEFAULT_KEY_BASE, p), skipWaitingForReady: true }));
    let tsBase = Date.now() - 86_400_000;
    const drain = async (count: number, key: string, watch: { label: string; pid: number }[] = []): Promise<{ seconds: number; stored: number; cpu: string }> => {
      await Promise.all(partitions.map((q) => q.pause()));
      const sends: Promise<void>[] = [];
      const base = tsBase;
      tsBase += count + 1;
      for (let n = 0; n < count; n++) {
        const [msg] = telemetryMessages(identities[n % identities.length], { ts: base + n, values: { [key]: n } }) as [TbMsg];
        sends.push(producer.send(msg));
      }
      await Promise.all(sends);
      const cpu = cpuWatch(watch);
      const t0 = performance.now();
      await Promise.all(partitions.map((q) => q.resume()));
      for (;;) {
        const counts = await Promise.all(partitions.map((q) => q.getJobCounts('wait', 'active', 'prioritized', 'delayed')));
        if (counts.every((c) => Object.values(c).every((v) => v === 0))) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const seconds = (performance.now() - t0) / 1000;
      const cpuText = cpu.stop(seconds);
      let stored = 0;
      for (const d of identities) {
        const got = await store.timeseries.getHistory({ entityType: 'DEVICE', id: d.deviceId }, [key], { startTs: base, endTs: base + count, limit: 1_000_000 });
        stored += got[key]?.length ?? 0;
      }
      return { seconds, stored, cpu: cpuText };
    };
    const throughput: Record<number, number> = {};
    for (const n of [1, 2]) {
      const res = await start({ ruleEngine: n }, `tp${n}`);
      await drain(Math.min(5000, messages), `warm${n}`);
      // Several rounds: on a shared machine the best one is the closest to what the processes can do.
      const results: { rate: number; seconds: number; stored: number; cpu: string }[] = [];
      for (let r = 0; r < rounds; r++) {
        const watch = [...res.map((p) => ({ label: p.name, pid: p.pid })), ...redisPids.map((pid, i) => ({ label: `redis${redisPids.length > 1 ? `-${i + 1}` : ''}`, pid }))];
        const { seconds, stored, cpu } = await drain(messages, `v${n}r${r}`, watch);
        results.push({ rate: messages / seconds, seconds, stored, cpu });
        say(`  ${n} rule-engine process${n > 1 ? 'es' : ''}, round ${r + 1}: ${Math.round(messages / seconds)} msg/s (${stored}/${messages} stored); CPU ${results[r].cpu}`);
      }
      const best = results.reduce((a, b) => (b.rate > a.rate ? b : a));
      const median = [...results].sort((a, b) => a.rate - b.rate)[Math.floor(results.length / 2)];
      throughput[n] = best.rate;
      rows.push(
        `throughput, ${n} rule-engine process${n > 1 ? 'es' : ''}`.padEnd(36) +
          `${Math.round(best.rate).toLocaleString('en-US').padStart(7)} msg/s best of ${rounds} (median ${Math.round(median.rate).toLocaleString('en-US')}), ${messages} messages each, all stored: ${results.every((x) => x.stored === messages)}; CPU in the best: ${best.cpu}`,
      );
      say(rows[rows.length - 1]);
      await stopAll();
    }
    await producer.close();
    await Promise.all(partitions.map((q) => q.close()));
    control.disconnect();

    // ---- RPC latency: roles together vs split
    const latency = async (label: string, layout: ClusterLayout, prefix: string) => {
      const ps = await start(layout, prefix);
      const api = ps.find((p) => p.roles.includes('api'))!;
      const transport = ps.find((p) => p.roles.includes('transport'))!;
      const token = await login(api, admin.email);
      const devices: TestDevice[] = [];
      for (let i = 0; i < rpcDevices; i++) devices.push(await connectDevice(transport, `BENCH_RPC_${i}`));
      const call = async (k: number) => {
        const t = performance.now();
        const res = await rest(api, token, 'POST', `/api/rpc/twoway/${rpcIds[k % rpcDevices]}`, { method: 'bench', params: k });
        if (res.status !== 200) throw new Error(`RPC ${k}: ${res.status} ${res.text}`);
        return performance.now() - t;
      };
      for (let k = 0; k < 200; k++) await call(k); // warm-up
      const one: number[] = [];
      for (let k = 0; k < Math.min(calls, 500); k++) one.push(await call(k));
      one.sort((a, b) => a - b);
      const loaded: number[] = [];
      let next = 0;
      const cpu = cpuWatch([...ps.map((p) => ({ label: p.name, pid: p.pid })), ...redisPids.map((pid, i) => ({ label: `redis${redisPids.length > 1 ? `-${i + 1}` : ''}`, pid }))]);
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < calls) loaded.push(await call(next++));
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      loaded.sort((a, b) => a - b);
      const f = (x: number) => x.toFixed(1).padStart(5);
      rows.push(
        `RPC latency, roles ${label}`.padEnd(36) +
          `1 at a time: p50 ${f(percentile(one, 50))} p95 ${f(percentile(one, 95))} p99 ${f(percentile(one, 99))} ms | ` +
          `${concurrency} at a time: ${Math.round(calls / seconds)} calls/s, p50 ${f(percentile(loaded, 50))} p99 ${f(percentile(loaded, 99))} ms; CPU ${cpu.stop(seconds)}`,
      );
      say(rows[rows.length - 1]);
      await Promise.all(devices.map((d) => d.end()));
      await stopAll();
    };
    await latency('together', { all: 1 }, 'together');
    await latency('split', { api: 1, transport: 1, ruleEngine: 1 }, 'split');

    say('\nSide by side:');
    for (const r of rows) say(`  ${r}`);
    say(`  2 vs 1 rule-engine processes: ×${(throughput[2] / throughput[1]).toFixed(2)}`);
    say(`(${isCluster(redis) ? 'Redis Cluster' : 'one Redis'}; load average ${loadavg()[0].toFixed(2)} at the end)`);
  } finally {
    await stopAll();
    redis.disconnect();
    await cluster?.stop();
    await node?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function rest(p: RoleProcess, token: string | null, method: string, path: string, body?: unknown): Promise<{ status: number; text: string; json: unknown }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers['x-authorization'] = `Bearer ${token}`;
  const res = await fetch(`http://${p.host}:${p.httpPort}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text) as unknown;
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

async function login(p: RoleProcess, email: string): Promise<string> {
  const res = await rest(p, null, 'POST', '/api/auth/login', { username: email, password: PASSWORD });
  if (res.status !== 200) throw new Error(`login: ${res.status} ${res.text}`);
  return (res.json as { token: string }).token;
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
