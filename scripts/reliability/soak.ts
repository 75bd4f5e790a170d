// Soak: one rpc-chains process (every role) under steady mixed load for a long time — telemetry
// (QoS 1), two-way RPC over REST answered by the devices, client-side RPC answered by the root
// chain — with the process's memory (RSS, V8 heap from /metrics), Redis' memory (INFO memory) and
// the rule-engine queue's keys sampled throughout. Verdicts:
//   - no growth trend: a line is fitted to the lower envelope of each memory series (the level
//     after garbage collections) over the measured part of the run;
//   - finished jobs are removed: BullMQ's completed/failed sets stay bounded, the queue keys do not pile up;
//   - latency is stable: the p95 of the last part of the run against the first;
//   - nothing lost: every RPC answered, sampled telemetry points stored.
// Telemetry is saved with a TTL, so that Redis has a steady state.
//
//   npx tsx scripts/reliability/soak.ts [minutes=10] [--json <file>]
// test/reliability/soak.test.ts runs ~20 s of it.
import { cpus, loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Store } from '../../src/store/store.js';
import { DeviceAgent, latencyText } from './lib/device-agent.js';
import { metricValue, startNode, type NodeHandle } from './lib/node.js';
import { startFaultRedis } from './lib/redis.js';
import { RestClient } from './lib/rest.js';
import { linearFit, mb, mean, percentile, printResult, sleep, writeJsonResults, type ScenarioResult } from './lib/util.js';
import { seedWorld, shippedRootChain } from './lib/world.js';

export interface SoakOptions {
  readonly durationMs: number;
  /** The first part of the run, not judged (caches, JIT, TTL filling up). */
  readonly warmupMs: number;
  readonly sampleEveryMs: number;
  readonly devices: number;
  readonly telemetryPerDevicePerSec: number;
  readonly twoWayPerSec: number;
  readonly clientRpcPerSec: number;
  /** TTL of the saved telemetry (s): Redis reaches a steady state after it. */
  readonly telemetryTtlSeconds: number;
  /** Growth allowed over the judged part of the run: fraction of the level, plus bytes. */
  readonly heapSlack: { readonly fraction: number; readonly bytes: number };
  readonly rssSlack: { readonly fraction: number; readonly bytes: number };
  readonly redisSlack: { readonly fraction: number; readonly bytes: number };
  /** p95 of the last fifth may be at most this times the first fifth's (+ 25 ms). */
  readonly latencyRatio: number;
  readonly log?: (line: string) => void;
}

export function soakOptions(minutes: number): SoakOptions {
  const durationMs = Math.round(minutes * 60_000);
  const short = durationMs < 120_000;
  return {
    durationMs,
    warmupMs: short ? Math.min(6000, durationMs / 3) : Math.min(120_000, durationMs / 5),
    sampleEveryMs: short ? 1000 : 5000,
    devices: short ? 8 : 20,
    telemetryPerDevicePerSec: short ? 5 : 5,
    twoWayPerSec: short ? 10 : 10,
    clientRpcPerSec: short ? 5 : 10,
    telemetryTtlSeconds: short ? 3 : 60,
    // A short run cannot tell a slow leak from GC noise: it only catches gross growth.
    heapSlack: short ? { fraction: 0.5, bytes: 30e6 } : { fraction: 0.1, bytes: 8e6 },
    rssSlack: short ? { fraction: 0.5, bytes: 60e6 } : { fraction: 0.15, bytes: 30e6 },
    redisSlack: short ? { fraction: 0.5, bytes: 10e6 } : { fraction: 0.1, bytes: 5e6 },
    latencyRatio: short ? 4 : 2,
  };
}

interface Sample {
  readonly t: number;
  readonly rss: number;
  readonly heap: number;
  readonly redisUsed: number;
  readonly redisKeys: number;
  readonly queueKeys: number;
  /** Jobs kept in BullMQ's completed and failed sets, all partitions. */
  readonly finishedJobs: number;
  readonly maxFinishedPerSet: number;
  /** The machine's 1-minute load average. */
  readonly load: number;
}

export async function soak(o: SoakOptions): Promise<ScenarioResult> {
  const log = o.log ?? (() => undefined);
  const started = performance.now();
  const problems: string[] = [];
  const notes: string[] = [];
  const redis = await startFaultRedis();
  let node: NodeHandle | undefined;
  const agents: DeviceAgent[] = [];
  try {
    const world = await seedWorld(redis.url, { devices: o.devices, prefix: 'sk', rootChain: await shippedRootChain(o.telemetryTtlSeconds) });
    node = await startNode({ redisUrl: redis.url, serviceId: 'soak', roles: ['api', 'transport', 'rule-engine'] });
    const api = new RestClient(`http://127.0.0.1:${node.httpPort}`);
    await api.login(world.adminEmail);
    for (const [i, d] of world.devices.entries()) agents.push(new DeviceAgent({ device: d, ports: [node.mqttPort as number], protocolVersion: i % 2 === 0 ? 4 : 5 }));
    await Promise.all(agents.map((a) => a.start()));
    const store = new Store(redis.client);
    const t0 = performance.now();

    // ---- load
    let stop = false;
    const inflight = new Set<Promise<unknown>>();
    const track = (p: Promise<unknown>) => {
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    };
    const telemetryLatency: { t: number; ms: number }[] = [];
    const rpcLatency: { t: number; ms: number }[] = [];
    const rpcStatus: Record<string, number> = {};
    let n = 0;
    const every = (perSec: number, fn: () => void): Promise<void> =>
      (async () => {
        const gap = 1000 / perSec;
        let next = performance.now();
        while (!stop) {
          fn();
          next += gap;
          const wait = next - performance.now();
          if (wait > 0) await sleep(wait);
          else next = performance.now();
        }
      })();
    const loops = [
      every(o.telemetryPerDevicePerSec * agents.length, () => {
        const a = agents[n++ % agents.length] as DeviceAgent;
        const s = performance.now();
        track(a.publishTelemetry().then((ok) => ok && telemetryLatency.push({ t: s - t0, ms: performance.now() - s })));
      }),
      every(o.twoWayPerSec, () => {
        const a = agents[n++ % agents.length] as DeviceAgent;
        const k = n;
        track(
          api.call('POST', `/api/rpc/twoway/${a.device.id}`, { method: 'echo', params: { k }, timeout: 10_000 }, { timeoutMs: 20_000 }).then((res) => {
            const ok = res.status === 200 && (res.json as { echo?: { k?: number } } | undefined)?.echo?.k === k;
            const key = ok ? '200' : res.status === 200 ? '200 (wrong reply)' : String(res.status);
            rpcStatus[key] = (rpcStatus[key] ?? 0) + 1;
            if (ok) rpcLatency.push({ t: performance.now() - res.ms - t0, ms: res.ms });
          }),
        );
      }),
      every(o.clientRpcPerSec, () => track((agents[n++ % agents.length] as DeviceAgent).clientCall('getCurrentTime', 10_000))),
    ];

    // ---- sampling
    const samples: Sample[] = [];
    let telemetryChecked = 0;
    let telemetryMissing = 0;
    const nodeRef = node;
    const sampleOnce = async (): Promise<void> => {
      const t = performance.now() - t0;
      const [metrics, info] = await Promise.all([nodeRef.metrics().catch(() => ''), redis.info('memory')]);
      const redisKeys = await redis.client.dbsize();
      let queueKeys = 0;
      let finishedJobs = 0;
      let maxFinishedPerSet = 0;
      let cursor = '0';
      do {
        const [next, keys] = await redis.client.scan(cursor, 'MATCH', '{rc-q*', 'COUNT', 1000);
        cursor = next;
        queueKeys += keys.length;
        for (const k of keys) {
          if (!k.endsWith(':completed') && !k.endsWith(':failed')) continue;
          const c = await redis.client.zcard(k);
          finishedJobs += c;
          maxFinishedPerSet = Math.max(maxFinishedPerSet, c);
        }
      } while (cursor !== '0');
      samples.push({ t, rss: nodeRef.rss(), heap: metricValue(metrics, 'nodejs_heap_size_used_bytes'), redisUsed: Number(info.used_memory), redisKeys, queueKeys, finishedJobs, maxFinishedPerSet, load: loadavg()[0] ?? 0 });
    };
    const sampler = (async () => {
      while (!stop) {
        await sampleOnce().catch((e: unknown) => log(`soak: sample failed: ${(e as Error).message}`));
        await sleep(o.sampleEveryMs);
      }
    })();
    // Stored check: half a second after its acknowledgement (well within the TTL) a point is there.
    const checker = (async () => {
      while (!stop) {
        await sleep(1000);
        const a = agents[telemetryChecked % agents.length] as DeviceAgent;
        const ts = a.telemetry.acked[a.telemetry.acked.length - 1];
        if (ts === undefined) continue;
        await sleep(500);
        const key = store.keys.timeseries({ entityType: 'DEVICE', id: a.device.id }, 'seq');
        const found = (await redis.client.zrangebyscore(key, ts, ts).catch(() => [])).length > 0;
        telemetryChecked++;
        if (!found) telemetryMissing++;
      }
    })();
    let lastLog = 0;
    let censusFirst = new Map<string, number>();
    let censusTaken = false;
    while (performance.now() - t0 < o.durationMs) {
      if (!censusTaken && performance.now() - t0 >= o.warmupMs) {
        censusTaken = true;
        censusFirst = await keyCensus(redis.client);
      }
      await sleep(Math.min(1000, o.durationMs - (performance.now() - t0)));
      if (performance.now() - lastLog > 60_000) {
        lastLog = performance.now();
        const s = samples[samples.length - 1];
        if (s) log(`soak ${(s.t / 1000).toFixed(0)} s: rss ${mb(s.rss)}, heap ${mb(s.heap)}, redis ${mb(s.redisUsed)} (${s.redisKeys} keys, ${s.queueKeys} queue keys, ${s.finishedJobs} finished jobs kept)`);
      }
    }
    stop = true;
    await Promise.all([...loops, sampler, checker]);
    await Promise.all([...inflight]);

    // ---- verdicts
    const judged = samples.filter((s) => s.t >= o.warmupMs);
    if (judged.length < 4) problems.push(`only ${judged.length} samples after the warm-up`);
    const trend = (name: string, pick: (s: Sample) => number, slack: { fraction: number; bytes: number }) => {
      const env = envelope(judged, pick);
      if (env.length < 2) return;
      const { slope } = linearFit(
        env.map((p) => p.t),
        env.map((p) => p.v),
      );
      const span = (judged[judged.length - 1] as Sample).t - (judged[0] as Sample).t;
      const growth = slope * span;
      const level = env.reduce((s, p) => s + p.v, 0) / env.length;
      const allowed = slack.fraction * level + slack.bytes;
      notes.push(`${name}: level ${mb(level)}, trend ${(slope * 60_000 / 1e6).toFixed(2)} MB/min (${growth >= 0 ? '+' : ''}${mb(growth)} over ${(span / 60_000).toFixed(1)} min; allowed ${mb(allowed)})`);
      if (growth > allowed) problems.push(`${name} grows: ${(slope * 60_000 / 1e6).toFixed(2)} MB/min, ${mb(growth)} over the judged ${(span / 60_000).toFixed(1)} min (allowed ${mb(allowed)})`);
    };
    trend('process heap (V8, lower envelope)', (s) => s.heap, o.heapSlack);
    trend('process RSS (lower envelope)', (s) => s.rss, o.rssSlack);
    trend('Redis used_memory (lower envelope)', (s) => s.redisUsed, o.redisSlack);

    const maxFinished = Math.max(...samples.map((s) => s.maxFinishedPerSet));
    const first = judged[0];
    const last = judged[judged.length - 1];
    if (first && last) {
      // Job hashes of kept finished jobs fill up to removeOnComplete's count per partition; what is
      // not a kept job (waiting, active, bookkeeping) must stay flat, and so must every other key.
      const overhead = (x: Sample) => x.queueKeys - x.finishedJobs;
      const other = (x: Sample) => x.redisKeys - x.queueKeys;
      notes.push(
        `BullMQ: at most ${maxFinished} finished jobs kept per completed/failed set (${first.finishedJobs} → ${last.finishedJobs} in all); ` +
          `queue keys other than kept jobs ${overhead(first)} → ${overhead(last)}; other Redis keys ${other(first)} → ${other(last)}`,
      );
      if (maxFinished > 1100) problems.push(`finished jobs are not removed: a completed/failed set holds ${maxFinished}`);
      if (overhead(last) > overhead(first) * 1.2 + 50) problems.push(`rule-engine queue keys pile up: ${overhead(first)} → ${overhead(last)} (besides kept finished jobs)`);
      if (other(last) > other(first) * 1.2 + 200) {
        // Growth of keys that expire (a TTL) settles at rate × TTL; keys without one pile up for ever.
        const grown = await grownFamilies(redis.client, censusFirst, await keyCensus(redis.client));
        const forever = grown.filter((g) => g.withoutTtl > 0 || g.sampled === 0);
        const text = grown.map((g) => `${g.family} +${g.delta} (${g.withoutTtl === 0 ? `expire, TTL ≈ ${(g.ttlMs / 1000).toFixed(0)} s` : `${g.withoutTtl}/${g.sampled} sampled without TTL`})`).join(', ');
        if (forever.length > 0) problems.push(`Redis keys pile up: ${other(first)} → ${other(last)} (besides the queues): ${text}`);
        else notes.push(`other Redis keys grew ${other(first)} → ${other(last)}, all of families that expire: ${text}`);
      }
    }

    const judgedLatency = (xs: { t: number; ms: number }[]) => xs.filter((x) => x.t >= o.warmupMs);
    const fifths = (xs: { t: number; ms: number }[]) => {
      const j = judgedLatency(xs);
      const span = o.durationMs - o.warmupMs;
      const first = j.filter((x) => x.t < o.warmupMs + span / 5).map((x) => x.ms);
      const last = j.filter((x) => x.t >= o.durationMs - span / 5).map((x) => x.ms);
      return { first: percentile(first, 95), last: percentile(last, 95) };
    };
    // The machine may be shared: a latency rise that comes with a rise of the load average is the
    // neighbours', not ours, and is reported as such.
    const span = o.durationMs - o.warmupMs;
    const loadIn = (from: number, to: number) => mean(samples.filter((x) => x.t >= from && x.t < to).map((x) => x.load));
    const loadFirst = loadIn(o.warmupMs, o.warmupMs + span / 5);
    const loadLast = loadIn(o.durationMs - span / 5, Infinity);
    notes.push(`machine load average (1 min, ${cpus().length} CPUs): first fifth ${loadFirst.toFixed(1)}, last fifth ${loadLast.toFixed(1)}`);
    for (const [name, xs] of [
      ['two-way RPC', rpcLatency],
      ['telemetry PUBACK', telemetryLatency],
    ] as const) {
      const f = fifths(xs);
      notes.push(`${name} latency: ${latencyText(judgedLatency(xs).map((x) => x.ms))}; p95 first fifth ${f.first.toFixed(0)} ms, last fifth ${f.last.toFixed(0)} ms`);
      if (Number.isFinite(f.first) && Number.isFinite(f.last) && f.last > f.first * o.latencyRatio + 25) {
        const text = `${name} latency grows: p95 ${f.first.toFixed(0)} → ${f.last.toFixed(0)} ms`;
        if (loadLast > loadFirst * 1.3 && loadLast > cpus().length) notes.push(`${text}, with the machine's load average (other processes) ${loadFirst.toFixed(1)} → ${loadLast.toFixed(1)}: not counted`);
        else problems.push(text);
      }
    }
    const client = agents.reduce((s, a) => ({ sent: s.sent + a.clientRpc.sent, answered: s.answered + a.clientRpc.answered, none: s.none + a.clientRpc.noAnswer + a.clientRpc.errors + a.clientRpc.refused }), { sent: 0, answered: 0, none: 0 });
    const acked = agents.reduce((s, a) => s + a.telemetry.acked.length, 0);
    const refused = agents.reduce((s, a) => s + a.telemetry.refused, 0);
    const rpcTotal = Object.values(rpcStatus).reduce((s, x) => s + x, 0);
    const rpcBad = rpcTotal - (rpcStatus['200'] ?? 0);
    if (rpcBad > 0) problems.push(`${rpcBad} of ${rpcTotal} two-way RPCs not answered with the device's reply: ${JSON.stringify(rpcStatus)}`);
    if (client.none > 0) problems.push(`${client.none} of ${client.sent} client-side RPCs without the chain's answer`);
    if (refused > 0) problems.push(`${refused} telemetry publishes refused`);
    if (telemetryMissing > 0) problems.push(`${telemetryMissing} of ${telemetryChecked} sampled acknowledged telemetry points not stored`);
    if (!node.alive) problems.push('the process died');
    if (node.unhandled.length > 0) problems.push(`unhandled: ${node.unhandled.slice(0, 2).join(' || ')}`);
    const minutes = o.durationMs / 60_000;
    return {
      name: `soak (${minutes >= 1 ? `${minutes.toFixed(0)} min` : `${(o.durationMs / 1000).toFixed(0)} s`})`,
      load: `1 process (all roles), ${o.devices} MQTT devices: telemetry ${o.telemetryPerDevicePerSec}/s per device (TTL ${o.telemetryTtlSeconds} s), two-way RPC ${o.twoWayPerSec}/s, client-side RPC ${o.clientRpcPerSec}/s; sampled every ${o.sampleEveryMs / 1000} s, first ${(o.warmupMs / 1000).toFixed(0)} s not judged`,
      faults: 'none',
      inputs: `${acked + refused} telemetry publishes, ${rpcTotal} two-way RPCs, ${client.sent} client-side RPCs`,
      lost: `${refused} telemetry refused, ${telemetryMissing}/${telemetryChecked} sampled points missing, ${rpcBad} RPCs unanswered, ${client.none} client-side RPCs unanswered`,
      ok: problems.length === 0,
      problems,
      notes,
      durationMs: performance.now() - started,
    };
  } finally {
    await Promise.all(agents.map((a) => a.stop().catch(() => undefined)));
    await node?.stop().catch(() => undefined);
    await redis.stop().catch(() => undefined);
  }
}

/** Keys by family (ids and numbers replaced by *). */
async function keyCensus(client: import('ioredis').Redis): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) {
      const family = k.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '*').replace(/\d+/g, '#');
      out.set(family, (out.get(family) ?? 0) + 1);
    }
  } while (cursor !== '0');
  return out;
}

/** The families that grew (biggest growth first), with how many of a sample of their keys have no TTL. */
async function grownFamilies(client: import('ioredis').Redis, before: Map<string, number>, after: Map<string, number>): Promise<{ family: string; delta: number; sampled: number; withoutTtl: number; ttlMs: number }[]> {
  const grown = [...after]
    .map(([family, n]) => ({ family, delta: n - (before.get(family) ?? 0) }))
    .filter((g) => g.delta > 0)
    .sort((a, b) => b.delta - a.delta)
    .slice(0, 6);
  const out = [];
  for (const g of grown) {
    const pattern = g.family.replace(/[[\]?]/g, '\\$&').replace(/#/g, '*');
    const sample: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 2000);
      cursor = next;
      sample.push(...keys.slice(0, 20 - sample.length));
    } while (cursor !== '0' && sample.length < 20);
    const ttls = await Promise.all(sample.map((k) => client.pttl(k)));
    const withTtl = ttls.filter((t) => t > 0);
    out.push({ ...g, sampled: sample.length, withoutTtl: ttls.filter((t) => t === -1).length, ttlMs: withTtl.length > 0 ? Math.max(...withTtl) : 0 });
  }
  return out;
}

/** The minimum of each window of ~1/8 of the samples: the level a series returns to after GCs. */
function envelope<T extends { t: number }>(xs: readonly T[], pick: (x: T) => number): { t: number; v: number }[] {
  const valid = xs.filter((x) => Number.isFinite(pick(x)));
  if (valid.length === 0) return [];
  const w = Math.max(2, Math.floor(valid.length / 8));
  const out: { t: number; v: number }[] = [];
  for (let i = 0; i + w <= valid.length; i += w) {
    const win = valid.slice(i, i + w);
    let best = win[0] as T;
    for (const x of win) if (pick(x) < pick(best)) best = x;
    out.push({ t: best.t, v: pick(best) });
  }
  return out;
}

async function main(): Promise<number> {
  const positional = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(all[i - 1] ?? '').startsWith('--'));
  const minutes = positional[0] !== undefined ? Number(positional[0]) : 10;
  if (!Number.isFinite(minutes) || minutes <= 0) throw new Error(`minutes must be a positive number, got "${positional[0]}"`);
  console.log(`soak: ${minutes} min`);
  const result = await soak({ ...soakOptions(minutes), log: (l) => console.log(l) });
  printResult(result);
  await writeJsonResults([result]);
  return result.ok ? 0 : 1;
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
