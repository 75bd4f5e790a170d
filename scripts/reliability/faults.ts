// Fault injection against real processes on a real redis-server (spec/rpc.md §5–§7,
// beyond-thingsboard #1–#3):
//   (a) Redis restarted / crashed (AOF) under mixed traffic: nothing acknowledged is lost (telemetry
//       PUBACKed, persistent RPCs answered {"rpcId"}), every process heals by itself, lightweight
//       RPCs in flight end with a clear error (504 / error JSON), never a hang;
//   (a′) the same, one device action at a time, inside an outage: a reply, a subscription, and
//       telemetry being processed — what was acknowledged must not be lost;
//   (b) the transport process holding a device's MQTT session killed while a persistent RPC is SENT
//       (the device got it but has not PUBACKed): the device reconnects to another transport
//       process and the RPC is delivered, answered and SUCCESSFUL (also when the device lets the
//       first copy on the new session go unacknowledged: re-sent after the delivery timeout);
//   (c) a device that stops acknowledging: the RPC is retried, then FAILED with the reason, and in
//       every submit strategy a later command still goes out after the failed one.
//
//   npx tsx scripts/reliability/faults.ts                  all three, full size
//   npx tsx scripts/reliability/faults.ts --only a|b|c     one of them
//   --json <file>                                          results for report.ts
//   --last-down-ms <ms>                                    (a): how long Redis stays away in the last
//                                                          fault (default 8000; longer is harsher:
//                                                          every heartbeat expires meanwhile)
// test/reliability/faults.test.ts runs short versions.
import { pathToFileURL } from 'node:url';
import { RESPONSE_AWAIT_TIMEOUT, RETRIES_EXHAUSTED } from '../../src/rpc/device-rpc-actor.js';
import { RPC_NUMBER_ENV, RPC_SUBMIT_STRATEGY_ENV, SUBMIT_STRATEGIES, type RpcSubmitStrategy } from '../../src/rpc/rpc-settings.js';
import { Store } from '../../src/store/store.js';
import { DeviceAgent, latencyText } from './lib/device-agent.js';
import { commandOf, RawMqttDevice, RPC_REQUEST_FILTER, type Command } from './lib/mqtt-device.js';
import { startNode, type NodeHandle } from './lib/node.js';
import { startFaultRedis, type FaultRedis } from './lib/redis.js';
import { getRpc, RestClient, watchRpc, type Answer } from './lib/rest.js';
import { argValue, eventually, printResult, sleep, writeJsonResults, type ScenarioResult } from './lib/util.js';
import { seedWorld, shippedRootChain, type World } from './lib/world.js';

const FINAL = new Set(['SUCCESSFUL', 'FAILED', 'EXPIRED', 'DELETED']);

/** Stops every process and Redis, whatever state they are in. */
async function teardown(nodes: readonly (NodeHandle | undefined)[], redis: FaultRedis | undefined): Promise<void> {
  await Promise.all(nodes.map((n) => n?.stop().catch(() => undefined)));
  await redis?.stop().catch(() => undefined);
}

function unhandledOf(nodes: readonly NodeHandle[]): string[] {
  return nodes.flatMap((n) => n.unhandled.map((l) => `${n.serviceId}: ${l.slice(0, 300)}`));
}

// ---------------------------------------------------------------------------------------------
// (a) Redis restart under mixed traffic

export interface RedisFaultOptions {
  readonly devices: number;
  /** Rule-engine processes. */
  readonly engines: number;
  /** Load before the first fault, and after the last one, ms. */
  readonly warmupMs: number;
  readonly tailMs: number;
  /** The faults, in order, each followed by `gapMs` of load. */
  readonly faults: readonly { readonly kind: 'restart' | 'crash'; readonly downMs: number }[];
  readonly gapMs: number;
  readonly telemetryPerDevicePerSec: number;
  readonly persistentPerSec: number;
  readonly lightweightPerSec: number;
  readonly clientRpcPerSec: number;
  /** Lightweight RPC timeout, ms. */
  readonly lightTimeoutMs: number;
  /** How long the client waits for the answer ({"rpcId"}) to a persistent RPC's POST. */
  readonly persistentClientTimeoutMs: number;
  /** `timeout` of the persistent RPCs: one the device never got ends EXPIRED after it. */
  readonly persistentTimeoutMs: number;
  readonly log?: (line: string) => void;
}

export const REDIS_FAULT_FULL: RedisFaultOptions = {
  devices: 40,
  engines: 2,
  warmupMs: 15_000,
  tailMs: 15_000,
  faults: [
    { kind: 'restart', downMs: 500 },
    { kind: 'crash', downMs: 1000 },
    { kind: 'restart', downMs: 3000 },
    { kind: 'crash', downMs: 0 },
    { kind: 'restart', downMs: 8000 },
  ],
  gapMs: 20_000,
  telemetryPerDevicePerSec: 5,
  persistentPerSec: 10,
  lightweightPerSec: 10,
  clientRpcPerSec: 10,
  lightTimeoutMs: 5000,
  persistentClientTimeoutMs: 70_000,
  persistentTimeoutMs: 60_000,
};

/** The short version `npm test` runs. */
export const REDIS_FAULT_TEST: RedisFaultOptions = {
  devices: 6,
  engines: 1,
  warmupMs: 4000,
  tailMs: 4000,
  faults: [
    { kind: 'crash', downMs: 500 },
    { kind: 'restart', downMs: 1000 },
  ],
  gapMs: 4000,
  telemetryPerDevicePerSec: 10,
  persistentPerSec: 5,
  lightweightPerSec: 5,
  clientRpcPerSec: 2,
  lightTimeoutMs: 5000,
  persistentClientTimeoutMs: 15_000,
  persistentTimeoutMs: 15_000,
};

interface LightCall {
  readonly answer: Answer;
  readonly expectedEcho: number;
}

export async function redisFault(o: RedisFaultOptions): Promise<ScenarioResult> {
  const log = o.log ?? (() => undefined);
  const started = performance.now();
  const problems: string[] = [];
  const notes: string[] = [];
  // appendfsync always: a crash then loses nothing Redis acknowledged (with everysec, up to 1 s may go).
  const redis = await startFaultRedis({ appendfsync: 'always' });
  const nodes: NodeHandle[] = [];
  const agents: DeviceAgent[] = [];
  try {
    const world = await seedWorld(redis.url, { devices: o.devices, prefix: 'fa' });
    const boot = await Promise.all([
      startNode({ redisUrl: redis.url, serviceId: 'fa-api', roles: ['api'] }),
      startNode({ redisUrl: redis.url, serviceId: 'fa-transport', roles: ['transport'] }),
      ...Array.from({ length: o.engines }, (_, i) => startNode({ redisUrl: redis.url, serviceId: `fa-engine-${i}`, roles: ['rule-engine'] })),
    ]);
    nodes.push(...boot);
    const [apiNode, transport] = boot as [NodeHandle, NodeHandle];
    const api = new RestClient(`http://127.0.0.1:${apiNode.httpPort}`);
    await api.login(world.adminEmail);
    for (const [i, d] of world.devices.entries()) agents.push(new DeviceAgent({ device: d, ports: [transport.mqttPort as number], protocolVersion: i % 2 === 0 ? 4 : 5 }));
    await Promise.all(agents.map((a) => a.start()));
    log(`(a) ${nodes.length} processes, ${agents.length} devices connected`);

    // ---- load
    let stop = false;
    const inflight = new Set<Promise<unknown>>();
    const track = (p: Promise<unknown>) => {
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    };
    const persistent: { rpcId: string; device: string; n: number; at: number }[] = [];
    const t0 = performance.now();
    const rel = (t: number) => ((t - t0) / 1000).toFixed(1);
    const ackedAt = new Map<number, number>();
    const persistentRefused: Record<string, number> = {};
    const persistentSlow: string[] = [];
    const light: LightCall[] = [];
    let n = 0;
    const every = (perSec: number, fn: () => void): Promise<void> =>
      (async () => {
        if (perSec <= 0) return;
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
    const pick = () => world.devices[n % world.devices.length] as World['devices'][number];
    const loops = [
      every(o.telemetryPerDevicePerSec * agents.length, () => {
        const a = agents[n++ % agents.length] as DeviceAgent;
        track(a.publishTelemetry().then((ok) => ok && ackedAt.set(a.telemetry.acked[a.telemetry.acked.length - 1] as number, performance.now())));
      }),
      every(o.persistentPerSec, () => {
        const d = pick();
        const k = n++;
        track(
          api.call('POST', `/api/rpc/twoway/${d.id}`, { method: 'store', params: { k }, persistent: true, timeout: o.persistentTimeoutMs }, { timeoutMs: o.persistentClientTimeoutMs }).then((res) => {
            const rpcId = (res.json as { rpcId?: string } | undefined)?.rpcId;
            if (res.ms > 10_000) persistentSlow.push(`${res.hung ? 'no answer' : res.status} after ${(res.ms / 1000).toFixed(0)} s (posted at ${rel(performance.now() - res.ms)} s${rpcId ? `, ${rpcId}` : ''})`);
            if (res.status === 200 && typeof rpcId === 'string') persistent.push({ rpcId, device: d.id, n: k, at: performance.now() - res.ms });
            else {
              const key = res.status === 0 ? `0 ${res.hung ? 'hung' : (res.error ?? '')}` : String(res.status);
              persistentRefused[key] = (persistentRefused[key] ?? 0) + 1;
            }
          }),
        );
      }),
      every(o.lightweightPerSec, () => {
        const d = pick();
        const k = n++;
        track(
          api
            .call('POST', `/api/rpc/twoway/${d.id}`, { method: 'echo', params: { k }, timeout: o.lightTimeoutMs }, { timeoutMs: o.lightTimeoutMs + 10_000 })
            .then((answer) => void light.push({ answer, expectedEcho: k })),
        );
      }),
      every(o.clientRpcPerSec, () => track((agents[n++ % agents.length] as DeviceAgent).clientCall('getCurrentTime', 10_000))),
    ];

    await sleep(o.warmupMs);
    const outages: number[] = [];
    const windows: string[] = [];
    for (const [i, f] of o.faults.entries()) {
      const tf = performance.now();
      const b = f.kind === 'restart' ? await redis.restart(f.downMs) : await redis.crash(f.downMs);
      outages.push(performance.now() - tf);
      windows.push(`${f.kind} ${rel(tf)}–${rel(performance.now())} s`);
      log(`(a) fault ${i + 1}/${o.faults.length}: Redis ${f.kind === 'restart' ? 'restarted' : 'killed (SIGKILL) and started'}, down ${(outages[i] as number).toFixed(0)} ms (stop ${b.stopMs.toFixed(0)} ms, start ${b.startMs.toFixed(0)} ms)`);
      // Every process ready again by itself.
      const healed = await eventually(async () => (await Promise.all(nodes.map((x) => x.ready()))).every((s) => s === 200), 30_000, 200);
      if (!healed) problems.push(`after fault ${i + 1}: not every process ready within 30 s (${(await Promise.all(nodes.map(async (x) => `${x.serviceId} ${await x.ready()}`))).join(', ')})`);
      await sleep(i === o.faults.length - 1 ? o.tailMs : o.gapMs);
    }
    stop = true;
    await Promise.all(loops);
    await Promise.all([...inflight]);
    log(`(a) load stopped; checking`);

    // ---- every process alive, each answering
    for (const x of nodes) if (!x.alive) problems.push(`${x.serviceId} died: ${x.stderrTail().slice(-5).join(' | ')}`);

    // ---- telemetry: every acknowledged point is stored
    const store = new Store(redis.client);
    const ackedTotal = agents.reduce((s, a) => s + a.telemetry.acked.length, 0);
    const refusedTotal = agents.reduce((s, a) => s + a.telemetry.refused, 0);
    let missing = ackedTotal;
    const missingAt: string[] = [];
    await eventually(async () => {
      let m = 0;
      missingAt.length = 0;
      for (const a of agents) {
        const stored = new Set((await redis.client.zrange(store.keys.timeseries({ entityType: 'DEVICE', id: a.device.id }, 'seq'), 0, -1, 'WITHSCORES')).filter((_, i) => i % 2 === 1).map(Number));
        for (const ts of a.telemetry.acked) {
          if (stored.has(ts)) continue;
          m++;
          missingAt.push(`${a.device.name}@${rel(ackedAt.get(ts) ?? t0)}`);
        }
      }
      missing = m;
      return m === 0;
    }, 30_000, 500);
    if (missing > 0) problems.push(`${missing} of ${ackedTotal} acknowledged telemetry points never stored (acknowledged at ${missingAt.slice(0, 12).join(', ')} s; faults ${windows.join(', ')})`);
    const failedJobs = await queueFailures(redis);
    if (failedJobs.count > 0) notes.push(`rule-engine queue: ${failedJobs.count} pack(s) in BullMQ's failed sets: ${failedJobs.reasons.join('; ')}`);

    // ---- persistent RPCs: every acknowledged one still there, and answered
    const finals: Record<string, number> = {};
    const notFinal: string[] = [];
    const oddAt: string[] = [];
    await eventually(async () => {
      for (const k of Object.keys(finals)) delete finals[k];
      notFinal.length = 0;
      oddAt.length = 0;
      for (const p of persistent) {
        const r = await getRpc(api, p.rpcId);
        const s = r?.status ?? 'MISSING';
        finals[s] = (finals[s] ?? 0) + 1;
        if (!FINAL.has(s)) notFinal.push(`${p.rpcId} ${s}`);
        if (s !== 'SUCCESSFUL') {
          const agent = agents.find((a) => a.device.id === p.device);
          const copies = agent?.commands.filter((c) => (c.params as { k?: number } | null)?.k === p.n).length ?? 0;
          oddAt.push(`${s}@${rel(p.at)} (device got it ${copies}×)`);
        }
      }
      return notFinal.length === 0 && (finals.MISSING ?? 0) === 0;
    }, o.persistentTimeoutMs + 10_000, 1000);
    const lostRpc = (finals.MISSING ?? 0) + notFinal.length;
    const notSuccessful = persistent.length - (finals.SUCCESSFUL ?? 0);
    if ((finals.MISSING ?? 0) > 0) problems.push(`${finals.MISSING} acknowledged persistent RPC(s) missing (404)`);
    if (notFinal.length > 0) problems.push(`${notFinal.length} persistent RPC(s) stuck: ${notFinal.slice(0, 5).join(', ')}`);
    if (notSuccessful - lostRpc > 0) problems.push(`${notSuccessful - lostRpc} persistent RPC(s) ended without the device's reply although it was online: ${JSON.stringify(finals)} (posted at ${oddAt.slice(0, 12).join(', ')} s; faults ${windows.join(', ')})`);

    // ---- lightweight RPCs: an answer, or a clear error, in time
    const byStatus: Record<string, number> = {};
    let hung = 0;
    let wrongEcho = 0;
    let unclear = 0;
    const noAnswer: string[] = [];
    const lightLimit = o.lightTimeoutMs + 1000 + 3000;
    for (const c of light) {
      const s = c.answer.status;
      byStatus[String(s)] = (byStatus[String(s)] ?? 0) + 1;
      if (c.answer.hung || c.answer.ms > lightLimit) hung++;
      if (s === 200) {
        const echo = (c.answer.json as { echo?: { k?: number } } | undefined)?.echo?.k;
        if (echo !== c.expectedEcho) wrongEcho++;
      } else if (s === 504) {
        // ThingsBoard's v2 timeout: empty body.
      } else if (s >= 500 && s < 600) {
        const j = c.answer.json as { message?: unknown } | undefined;
        if (typeof j?.message !== 'string') unclear++;
      } else if (s === 0 && !c.answer.hung) {
        // refused connection: the API process itself never went away, so this should not happen
        unclear++;
        noAnswer.push(c.answer.error ?? '?');
      } else if (s !== 0) unclear++;
    }
    if (hung > 0) problems.push(`${hung} lightweight RPC(s) hung past timeout + 4 s`);
    if (persistentSlow.length > 0) {
      const counts = new Map<string, number>();
      for (const x of persistentSlow) counts.set(x, (counts.get(x) ?? 0) + 1);
      problems.push(`${persistentSlow.length} persistent RPC POST(s) not answered within 10 s (the caller waits for {"rpcId"} until the RPC's expiration + 1 s): ${[...counts].map(([x, n]) => `${n}× ${x}`).join(', ')}`);
    }
    if (wrongEcho > 0) problems.push(`${wrongEcho} lightweight RPC(s) answered with another command's reply`);
    if (unclear > 0) problems.push(`${unclear} lightweight RPC(s) ended without a clear error: ${JSON.stringify(byStatus)} ${[...new Set(noAnswer)].join(', ')}`);
    const lightMs = light.filter((c) => c.answer.status === 200).map((c) => c.answer.ms);

    // ---- afterwards every device works again: telemetry, two-way RPC
    let afterOk = 0;
    const afterBad: string[] = [];
    for (const a of agents) {
      const t = await a.publishTelemetry();
      const r = await api.call('POST', `/api/rpc/twoway/${a.device.id}`, { method: 'echo', params: { after: true }, timeout: 10_000 }, { timeoutMs: 20_000 });
      if (t && r.status === 200) afterOk++;
      else afterBad.push(`${a.device.name}: telemetry ${t ? 'ok' : 'refused'}, RPC ${r.status}, connected ${a.connection ? 'yes' : 'no'} (${a.connects} connects)`);
    }
    if (afterOk !== agents.length) problems.push(`after the faults only ${afterOk}/${agents.length} connected devices could post telemetry and answer an RPC: ${afterBad.slice(0, 5).join('; ')}`);

    const unhandled = unhandledOf(nodes);
    if (unhandled.length > 0) problems.push(`unhandled rejections/exceptions: ${unhandled.slice(0, 3).join(' || ')}`);
    const client = agents.reduce(
      (s, a) => ({ sent: s.sent + a.clientRpc.sent, answered: s.answered + a.clientRpc.answered, errors: s.errors + a.clientRpc.errors, none: s.none + a.clientRpc.noAnswer, refused: s.refused + a.clientRpc.refused }),
      { sent: 0, answered: 0, errors: 0, none: 0, refused: 0 },
    );
    const reconnects = agents.reduce((s, a) => s + a.connects - 1, 0);
    const persistentRefusedN = Object.values(persistentRefused).reduce((s, x) => s + x, 0);
    notes.push(
      `telemetry: ${ackedTotal} acknowledged, ${refusedTotal} refused while Redis was away (devices retry those)`,
      `persistent RPC: ${persistent.length} accepted (${JSON.stringify(finals)}), ${persistentRefusedN} refused ${JSON.stringify(persistentRefused)}`,
      `lightweight RPC: ${light.length} calls ${JSON.stringify(byStatus)}; answered ${latencyText(lightMs)}`,
      `client-side RPC: ${client.sent} sent, ${client.answered} answered, ${client.errors} error replies, ${client.none} no reply in 10 s, ${client.refused} refused`,
      `device reconnects: ${reconnects}; Redis down ${outages.map((x) => (x / 1000).toFixed(1)).join(', ')} s`,
    );
    const seconds = (o.warmupMs + Math.max(0, o.faults.length - 1) * o.gapMs + o.tailMs) / 1000;
    return {
      name: '(a) Redis restart under mixed traffic',
      load: `${o.devices} MQTT devices over ${nodes.length} processes (api, transport, ${o.engines}× rule-engine), ~${seconds.toFixed(0)} s: telemetry ${o.telemetryPerDevicePerSec}/s per device, persistent two-way RPC ${o.persistentPerSec}/s, lightweight two-way RPC ${o.lightweightPerSec}/s, client-side RPC ${o.clientRpcPerSec}/s`,
      faults: o.faults.map((f) => (f.kind === 'restart' ? `graceful restart (down ${f.downMs} ms)` : `SIGKILL + start (down ${f.downMs} ms)`)).join(', ') + ' — AOF, appendfsync always',
      inputs: `${ackedTotal + refusedTotal} telemetry publishes, ${persistent.length + persistentRefusedN} persistent RPCs, ${light.length} lightweight RPCs, ${client.sent} client-side RPCs`,
      lost:
        `${missing} acknowledged telemetry points, ${lostRpc} acknowledged persistent RPCs missing or stuck, ` +
        `${Math.max(0, notSuccessful - lostRpc)} persistent RPCs ended without the online device's reply, ${hung} hung lightweight calls, ${persistentSlow.length} persistent POSTs held past 10 s`,
      ok: problems.length === 0,
      problems,
      notes,
      durationMs: performance.now() - started,
    };
  } finally {
    await Promise.all(agents.map((a) => a.stop().catch(() => undefined)));
    await teardown(nodes, redis);
  }
}

/** Packs BullMQ moved to a failed set (stalled too often, or failed for good), with their reasons. */
async function queueFailures(redis: FaultRedis): Promise<{ count: number; reasons: string[] }> {
  let count = 0;
  const reasons = new Map<string, number>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.client.scan(cursor, 'MATCH', '{rc-q*:failed', 'COUNT', 500);
    cursor = next;
    for (const key of keys) {
      const ids = await redis.client.zrange(key, 0, -1);
      count += ids.length;
      const base = key.slice(0, -':failed'.length);
      for (const id of ids.slice(0, 20)) {
        const reason = (await redis.client.hget(`${base}:${id}`, 'failedReason')) ?? '?';
        reasons.set(reason.slice(0, 120), (reasons.get(reason.slice(0, 120)) ?? 0) + 1);
      }
    }
  } while (cursor !== '0');
  return { count, reasons: [...reasons].map(([r, n]) => `${n}× ${r}`) };
}

// ---------------------------------------------------------------------------------------------
// (a′) inside an outage: what a device does while Redis is away must not be lost once acknowledged

interface SingleNode {
  readonly redis: FaultRedis;
  readonly node: NodeHandle;
  readonly world: World;
  readonly api: RestClient;
  close(): Promise<void>;
}

async function singleNode(prefix: string, rootChain?: unknown): Promise<SingleNode> {
  const redis = await startFaultRedis({ appendfsync: 'always' });
  let node: NodeHandle | undefined;
  try {
    const world = await seedWorld(redis.url, { devices: 1, prefix, ...(rootChain !== undefined ? { rootChain } : {}) });
    node = await startNode({ redisUrl: redis.url, serviceId: `${prefix}-node`, roles: ['api', 'transport', 'rule-engine'] });
    const api = new RestClient(`http://127.0.0.1:${node.httpPort}`);
    await api.login(world.adminEmail);
    const n = node;
    return { redis, node: n, world, api, close: () => teardown([n], redis) };
  } catch (e) {
    await teardown([node], redis);
    throw e;
  }
}

/** Publishes QoS 1 and says what the server did: "PUBACK 0", "PUBACK 0x80", "closed", "no answer". */
async function publishOutcome(dev: RawMqttDevice, topic: string, payload: string): Promise<string> {
  try {
    const code = await dev.publish(topic, payload, 1, 5000);
    return code === 0 ? 'PUBACK 0' : `PUBACK 0x${code.toString(16)}`;
  } catch (e) {
    return (e as Error).message === 'no PUBACK in time' ? 'no answer' : 'closed';
  }
}

function outcomeResult(name: string, load: string, faults: string, inputs: string, started: number, problems: string[], notes: string[], lost: string): ScenarioResult {
  return { name, load, faults, inputs, lost, ok: problems.length === 0, problems, notes, durationMs: performance.now() - started };
}

/** A device answers a command while Redis is down: if its reply was acknowledged, the RPC must end SUCCESSFUL. */
export async function replyDuringOutage(downMs = 2000): Promise<ScenarioResult> {
  const started = performance.now();
  const problems: string[] = [];
  const notes: string[] = [];
  const x = await singleNode('fr');
  let dev: RawMqttDevice | undefined;
  try {
    const device = x.world.devices[0] as World['devices'][number];
    dev = await RawMqttDevice.connect({ port: x.node.mqttPort as number, token: device.token });
    const got: Command[] = [];
    dev.onPublish((p) => {
      const c = commandOf(p);
      if (c) got.push(c);
    });
    await dev.subscribe(RPC_REQUEST_FILTER, 1);
    const post = await x.api.call('POST', `/api/rpc/twoway/${device.id}`, { method: 'hold', params: {}, persistent: true, timeout: 60_000 });
    const rpcId = (post.json as { rpcId?: string } | undefined)?.rpcId as string;
    const delivered = await watchRpc(x.api, rpcId, (s) => s === 'DELIVERED', 10_000);
    if (delivered.last?.status !== 'DELIVERED') throw new Error(`RPC not DELIVERED before the outage: ${delivered.seen.join('→')}`);
    const cmd = got[0] as Command;
    await x.redis.down('stop');
    const reply = JSON.stringify({ answered: 'during the outage' });
    const first = await publishOutcome(dev, `v1/devices/me/rpc/response/${cmd.requestId}`, reply);
    await sleep(downMs);
    await x.redis.up();
    await eventually(async () => (await x.node.ready()) === 200, 20_000, 200);
    let resent = false;
    if (first !== 'PUBACK 0') {
      // Not acknowledged: a QoS 1 device sends it again (on a new connection if it was closed).
      if (dev.isClosed) dev = await connectRetry(x.node.mqttPort as number, device.token, 10_000);
      await publishOutcome(dev, `v1/devices/me/rpc/response/${cmd.requestId}`, reply);
      resent = true;
    }
    const done = await watchRpc(x.api, rpcId, (s) => FINAL.has(s), 10_000, 200);
    notes.push(`reply published while Redis was down: ${first}${resent ? ', sent again after Redis came back' : ''}; the RPC then: ${done.seen.join('→')}`);
    if (done.last?.status !== 'SUCCESSFUL') {
      problems.push(
        first === 'PUBACK 0'
          ? `the device's reply was acknowledged (PUBACK 0) while Redis was down, but the RPC is ${done.last?.status ?? '?'} 10 s after Redis came back: the acknowledged reply was lost`
          : `the reply was refused (${first}) and sent again, but the RPC is ${done.last?.status ?? '?'}`,
      );
    }
    if (x.node.unhandled.length > 0) problems.push(`unhandled: ${x.node.unhandled.slice(0, 2).join(' || ')}`);
    return outcomeResult(
      "(a′) device reply during a Redis outage",
      '1 process (all roles), 1 MQTT device, 1 persistent two-way RPC (DELIVERED)',
      `Redis stopped (graceful) for ${downMs} ms; the device publishes its reply while it is down`,
      '1 reply',
      started,
      problems,
      notes,
      done.last?.status === 'SUCCESSFUL' ? 'nothing' : `1 acknowledged device reply (RPC ${done.last?.status ?? '?'})`,
    );
  } finally {
    dev?.destroy();
    await x.close();
  }
}

/** A device subscribes to commands while Redis is down: if the SUBACK granted it, commands must reach it afterwards. */
export async function subscribeDuringOutage(downMs = 2000): Promise<ScenarioResult> {
  const started = performance.now();
  const problems: string[] = [];
  const notes: string[] = [];
  const x = await singleNode('fs');
  let dev: RawMqttDevice | undefined;
  try {
    const device = x.world.devices[0] as World['devices'][number];
    dev = await RawMqttDevice.connect({ port: x.node.mqttPort as number, token: device.token });
    const answer = (d: RawMqttDevice) =>
      d.onPublish((p) => {
        const c = commandOf(p);
        if (c) void d.publish(`v1/devices/me/rpc/response/${c.requestId}`, JSON.stringify({ ok: c.method }), 1).catch(() => undefined);
      });
    answer(dev);
    await x.redis.down('stop');
    const granted = await Promise.race([dev.subscribe(RPC_REQUEST_FILTER, 1), sleep(5000).then(() => null)]).catch(() => 'closed' as const);
    await sleep(downMs);
    await x.redis.up();
    await eventually(async () => (await x.node.ready()) === 200, 20_000, 200);
    const grantedOk = Array.isArray(granted) && granted[0] !== undefined && granted[0] < 0x80;
    if (!grantedOk) {
      // Refused or no answer: the device subscribes again (reconnecting if it has to).
      if (dev.isClosed) {
        dev = await connectRetry(x.node.mqttPort as number, device.token, 10_000);
        answer(dev);
      }
      await dev.subscribe(RPC_REQUEST_FILTER, 1);
    }
    const res = await x.api.call('POST', `/api/rpc/twoway/${device.id}`, { method: 'after', params: {}, timeout: 8000 }, { timeoutMs: 20_000 });
    notes.push(`SUBSCRIBE while Redis was down: ${granted === null ? 'no SUBACK in 5 s' : granted === 'closed' ? 'connection closed' : `SUBACK ${JSON.stringify(granted)}`}${grantedOk ? '' : ', subscribed again afterwards'}; a two-way RPC afterwards: ${res.status} ${res.text.slice(0, 60)}`);
    if (res.status !== 200) {
      problems.push(
        grantedOk
          ? `the SUBACK granted the subscription while Redis was down, but a two-way RPC afterwards got ${res.status}: the server forgot the subscription (the device stays deaf to commands until it reconnects)`
          : `after subscribing again the two-way RPC got ${res.status}`,
      );
    }
    if (x.node.unhandled.length > 0) problems.push(`unhandled: ${x.node.unhandled.slice(0, 2).join(' || ')}`);
    return outcomeResult(
      '(a′) RPC subscription during a Redis outage',
      '1 process (all roles), 1 MQTT device',
      `Redis stopped (graceful) for ${downMs} ms; the device subscribes to RPC requests while it is down`,
      '1 SUBSCRIBE, 1 two-way RPC afterwards',
      started,
      problems,
      notes,
      res.status === 200 ? 'nothing' : '1 granted subscription (the device gets no commands)',
    );
  } finally {
    dev?.destroy();
    await x.close();
  }
}

/** The shipped root chain with a slow JS filter before Save Timeseries: messages are still being processed when Redis goes. */
async function slowTelemetryChain(ms: number): Promise<unknown> {
  const doc = (await shippedRootChain()) as { metadata: { nodes: unknown[]; connections: { fromIndex: number; toIndex: number; type: string }[] } };
  const slow = doc.metadata.nodes.length;
  doc.metadata.nodes.push({
    type: 'org.thingsboard.rule.engine.filter.TbJsFilterNode',
    name: 'slow',
    configuration: { scriptLang: 'JS', jsScript: `var t = Date.now(); while (Date.now() - t < ${ms}) {} return true;`, tbelScript: 'return true;' },
  });
  const save = doc.metadata.connections.find((c) => c.type === 'Post telemetry') as { fromIndex: number; toIndex: number; type: string };
  const target = save.toIndex;
  save.toIndex = slow;
  doc.metadata.connections.push({ fromIndex: slow, toIndex: target, type: 'True' });
  return doc;
}

/** Telemetry acknowledged before an outage and processed during it must still be stored. */
export async function telemetryDuringOutage(messages = 50, downMs = 500, delayMs = 300, how: 'stop' | 'kill' = 'stop'): Promise<ScenarioResult> {
  const started = performance.now();
  const problems: string[] = [];
  const notes: string[] = [];
  const perMessageMs = 80;
  const x = await singleNode('ft', await slowTelemetryChain(perMessageMs));
  let dev: RawMqttDevice | undefined;
  try {
    const device = x.world.devices[0] as World['devices'][number];
    dev = await RawMqttDevice.connect({ port: x.node.mqttPort as number, token: device.token });
    const base = Date.now();
    const outcomes = await Promise.all(Array.from({ length: messages }, (_, i) => dev!.publish('v1/devices/me/telemetry', JSON.stringify({ ts: base + i, values: { seq: i } }), 1, 10_000).then((c) => c === 0, () => false)));
    const acked = outcomes.flatMap((ok, i) => (ok ? [base + i] : []));
    // The engine works through them one every ~80 ms; take Redis away in the middle, briefly: the
    // Main queue's pack times out after 2 s and commits, with Redis back by then.
    await sleep(delayMs);
    await x.redis.down(how);
    await sleep(downMs);
    await x.redis.up();
    const store = new Store(x.redis.client);
    const key = store.keys.timeseries({ entityType: 'DEVICE', id: device.id }, 'seq');
    let stored = new Set<number>();
    await eventually(async () => {
      stored = new Set((await x.redis.client.zrange(key, 0, -1, 'WITHSCORES')).filter((_, i) => i % 2 === 1).map(Number));
      return acked.every((ts) => stored.has(ts));
    }, messages * perMessageMs + 15_000, 500);
    const missing = acked.filter((ts) => !stored.has(ts)).length;
    notes.push(`${acked.length}/${messages} publishes acknowledged before the outage; ${acked.length - missing} stored, ${missing} missing`);
    if (missing > 0) problems.push(`${missing} of ${acked.length} acknowledged telemetry messages never stored: processed while Redis was away, they failed in Save Timeseries and the Main queue's SKIP_ALL_FAILURES dropped them`);
    if (x.node.unhandled.length > 0) problems.push(`unhandled: ${x.node.unhandled.slice(0, 2).join(' || ')}`);
    return outcomeResult(
      '(a′) telemetry being processed during a Redis outage',
      `1 process (all roles), 1 MQTT device, ${messages} telemetry messages queued, each taking ~${perMessageMs} ms in the chain`,
      `Redis stopped (graceful) for ${downMs} ms while the rule engine works through them`,
      `${messages} QoS 1 publishes`,
      started,
      problems,
      notes,
      `${missing} acknowledged telemetry messages`,
    );
  } finally {
    dev?.destroy();
    await x.close();
  }
}

// ---------------------------------------------------------------------------------------------
// (b) the transport process holding the device's session is killed while a persistent RPC is SENT

export interface TransportKillOptions {
  /**
   * split: one api + rule-engine process and transport-only processes (the RPC owner survives);
   * combined: an api process and transport + rule-engine processes (the killed process may also own
   * the device's RPC state and rule-engine partitions: recovery after its heartbeat expires).
   */
  readonly mode: 'split' | 'combined';
  readonly rounds: number;
  /** Also a lightweight two-way RPC in flight at the kill. */
  readonly lightweight: boolean;
  /** How long the RPC may take after the kill to become SUCCESSFUL. */
  readonly recoverWithinMs: number;
  /**
   * After moving, the device also lets the first copy of the command go unacknowledged (a slow
   * device): the transport's delivery timeout must lead to a re-send (beyond-thingsboard #2).
   */
  readonly slowAfterMove?: boolean;
  /** MQTT_TIMEOUT of the transport processes (default 10 000 ms). */
  readonly mqttTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

export const TRANSPORT_KILL_TEST: TransportKillOptions = { mode: 'split', rounds: 1, lightweight: true, recoverWithinMs: 15_000 };
export const TRANSPORT_KILL_SLOW_TEST: TransportKillOptions = { mode: 'split', rounds: 1, lightweight: false, recoverWithinMs: 12_000, slowAfterMove: true, mqttTimeoutMs: 2000 };
export const TRANSPORT_KILL_FULL: readonly TransportKillOptions[] = [
  { mode: 'split', rounds: 5, lightweight: true, recoverWithinMs: 15_000 },
  { mode: 'combined', rounds: 5, lightweight: true, recoverWithinMs: 45_000 },
  { mode: 'split', rounds: 2, lightweight: false, recoverWithinMs: 40_000, slowAfterMove: true },
];

export async function transportKill(o: TransportKillOptions): Promise<ScenarioResult> {
  const log = o.log ?? (() => undefined);
  const started = performance.now();
  const problems: string[] = [];
  const notes: string[] = [];
  const redis = await startFaultRedis();
  const all: NodeHandle[] = [];
  const devices: RawMqttDevice[] = [];
  let sequences: string[] = [];
  const recoveryMs: number[] = [];
  let lightOutcomes: string[] = [];
  let generation = 0;
  try {
    const world = await seedWorld(redis.url, { devices: 1, prefix: 'fb' });
    const device = world.devices[0] as World['devices'][number];
    const transportRoles = o.mode === 'split' ? (['transport'] as const) : (['transport', 'rule-engine'] as const);
    const startTransport = () =>
      startNode({ redisUrl: redis.url, serviceId: `fb-t${generation++}`, roles: [...transportRoles], ...(o.mqttTimeoutMs !== undefined ? { settings: { mqttTimeoutMs: o.mqttTimeoutMs } } : {}) });
    const [front, ...transports] = await Promise.all([
      startNode({ redisUrl: redis.url, serviceId: 'fb-front', roles: o.mode === 'split' ? ['api', 'rule-engine'] : ['api'] }),
      startTransport(),
      startTransport(),
    ]);
    all.push(front as NodeHandle, ...transports);
    const api = new RestClient(`http://127.0.0.1:${(front as NodeHandle).httpPort}`);
    await api.login(world.adminEmail);

    for (let round = 0; round < o.rounds; round++) {
      const [holder, other] = transports as [NodeHandle, NodeHandle];
      // 1. The device on `holder`, with a QoS 1 subscription, not acknowledging commands.
      const first = await RawMqttDevice.connect({ port: holder.mqttPort as number, token: device.token });
      devices.push(first);
      first.ackPolicy = () => false;
      const gotFirst: Command[] = [];
      first.onPublish((p) => {
        const c = commandOf(p);
        if (c) gotFirst.push(c);
      });
      await first.subscribe(RPC_REQUEST_FILTER, 1);
      const post = await api.call('POST', `/api/rpc/twoway/${device.id}`, { method: 'move', params: { round }, persistent: true, timeout: 90_000 });
      const rpcId = (post.json as { rpcId?: string } | undefined)?.rpcId;
      if (post.status !== 200 || typeof rpcId !== 'string') {
        problems.push(`round ${round}: persistent RPC not accepted: ${post.status} ${post.text}`);
        break;
      }
      const light = o.lightweight
        ? api.call('POST', `/api/rpc/twoway/${device.id}`, { method: 'light', params: { round }, timeout: 20_000 }, { timeoutMs: 40_000 })
        : undefined;
      const sent = await watchRpc(api, rpcId, (s) => s === 'SENT', 10_000);
      const inFlight = await eventually(() => gotFirst.some((c) => c.method === 'move') && (!o.lightweight || gotFirst.some((c) => c.method === 'light')), 10_000, 20);
      if (sent.last?.status !== 'SENT' || !inFlight) {
        problems.push(`round ${round}: the RPC did not reach SENT on the first session (${sent.seen.join('→')}, device got ${gotFirst.map((c) => c.method).join(',')})`);
        break;
      }
      // 2. Kill the process holding the session.
      const killedAt = performance.now();
      await holder.kill();
      log(`(b) ${o.mode} round ${round + 1}/${o.rounds}: ${holder.serviceId} killed with the RPC SENT`);
      await first.closed;
      // 3. The device reconnects to the other transport process, acknowledges and answers.
      const second = await connectRetry(other.mqttPort as number, device.token, 10_000);
      devices.push(second);
      const gotSecond: Command[] = [];
      let ignored = 0;
      second.ackPolicy = (p) => {
        const c = commandOf(p);
        if (o.slowAfterMove && c?.method === 'move' && ignored === 0) {
          ignored++;
          return false;
        }
        return true;
      };
      second.onPublish((p) => {
        const c = commandOf(p);
        if (!c) return;
        gotSecond.push(c);
        if (o.slowAfterMove && c.method === 'move' && gotSecond.filter((g) => g.method === 'move').length === 1) return;
        void second.publish(`v1/devices/me/rpc/response/${c.requestId}`, JSON.stringify({ ok: c.method, round }), 1).catch(() => undefined);
      });
      await second.subscribe(RPC_REQUEST_FILTER, 1);
      const done = await watchRpc(api, rpcId, (s) => FINAL.has(s), o.recoverWithinMs);
      const took = performance.now() - killedAt;
      sequences.push([...sent.seen, ...done.seen.filter((s, i) => i > 0 || s !== sent.seen[sent.seen.length - 1])].join('→'));
      if (done.last?.status !== 'SUCCESSFUL') {
        const copies = gotSecond.filter((g) => g.method === 'move').length;
        problems.push(
          `round ${round}: after the kill the RPC is ${done.last?.status ?? 'unknown'} after ${(took / 1000).toFixed(1)} s (seen ${done.seen.join('→')}), not SUCCESSFUL` +
            (o.slowAfterMove ? `; the new session got ${copies} cop${copies === 1 ? 'y' : 'ies'} (the first left unacknowledged: a re-send was due after the ${(o.mqttTimeoutMs ?? MQTT_ACK_TIMEOUT_MS) / 1000} s delivery timeout)` : ''),
        );
      } else {
        recoveryMs.push(took);
        const resp = done.last.response as { ok?: string; round?: number } | null;
        if (resp?.ok !== 'move' || resp.round !== round) problems.push(`round ${round}: stored response ${JSON.stringify(resp)}`);
        const a = gotFirst.find((c) => c.method === 'move');
        const b = gotSecond.find((c) => c.method === 'move');
        if (a && b && a.requestId !== b.requestId) problems.push(`round ${round}: the re-sent command has request id ${b.requestId}, the first copy ${a.requestId}`);
      }
      if (light) {
        const res = await light;
        const ok = res.status === 200 && (res.json as { ok?: string } | undefined)?.ok === 'light';
        lightOutcomes.push(res.hung ? 'hung' : `${res.status}${ok ? '' : res.status === 200 ? ' (wrong body)' : ''} in ${(res.ms / 1000).toFixed(1)} s`);
        if (res.hung || (res.status !== 200 && res.status !== 504)) problems.push(`round ${round}: lightweight RPC in flight at the kill: ${res.status} ${res.text.slice(0, 100)} after ${res.ms.toFixed(0)} ms`);
        if (res.status === 200 && !ok) problems.push(`round ${round}: lightweight RPC answered ${res.text.slice(0, 100)}`);
      }
      await second.end();
      // 4. A fresh transport process takes the killed one's place.
      transports.splice(0, 2, other, await startTransport());
      all.push(transports[1] as NodeHandle);
    }
    const unhandled = unhandledOf(all);
    if (unhandled.length > 0) problems.push(`unhandled rejections/exceptions: ${unhandled.slice(0, 3).join(' || ')}`);
    for (const x of all) if (x.serviceId !== undefined && !x.alive && x.child.signalCode !== 'SIGKILL') problems.push(`${x.serviceId} died`);
    notes.push(`status sequences seen (polled every 50 ms): ${[...new Set(sequences)].join('; ')}`);
    if (recoveryMs.length > 0) notes.push(`kill → SUCCESSFUL: ${recoveryMs.map((x) => (x / 1000).toFixed(1)).join(', ')} s`);
    if (lightOutcomes.length > 0) notes.push(`lightweight two-way RPC in flight at the kill: ${lightOutcomes.join('; ')}`);
    const lost = o.rounds - recoveryMs.length;
    return {
      name: `(b) transport process killed while a persistent RPC is SENT (${o.mode}${o.slowAfterMove ? ', slow device after the move' : ''})`,
      load:
        o.mode === 'split'
          ? `1 api + rule-engine process, 2 transport processes; ${o.rounds} round(s)`
          : `1 api process, 2 transport + rule-engine processes (the killed one may own the RPC state and queue partitions); ${o.rounds} round(s)`,
      faults:
        `SIGKILL of the transport process holding the device's MQTT session (QoS 1 subscription, command not PUBACKed), ${o.rounds}×; a fresh transport process started after each` +
        (o.slowAfterMove ? '; after the move the device leaves the first copy unacknowledged too' : ''),
      inputs: `${o.rounds} persistent two-way RPC(s)${o.lightweight ? ` + ${o.rounds} lightweight two-way RPC(s) in flight` : ''}`,
      lost: `${lost} persistent RPC(s) not answered after the device moved`,
      ok: problems.length === 0,
      problems,
      notes,
      durationMs: performance.now() - started,
    };
  } finally {
    for (const d of devices) d.destroy();
    await teardown(all, redis);
  }
}

async function connectRetry(port: number, token: string, timeoutMs: number): Promise<RawMqttDevice> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await RawMqttDevice.connect({ port, token });
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(200);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// (c) a device that stops acknowledging, in every submit strategy

export interface NoAckOptions {
  readonly strategies: readonly RpcSubmitStrategy[];
  /** `retries` of the stuck command; null = leave it out (ACTORS_RPC_MAX_RETRIES, 5). */
  readonly retries: number | null;
  /** MQTT_TIMEOUT: how long a command waits for its PUBACK (ThingsBoard's default 10 000 ms). */
  readonly mqttTimeoutMs: number;
  readonly log?: (line: string) => void;
}

export const NO_ACK_TEST: NoAckOptions = { strategies: SUBMIT_STRATEGIES, retries: 2, mqttTimeoutMs: 2000 };
export const NO_ACK_FULL: NoAckOptions = { strategies: SUBMIT_STRATEGIES, retries: null, mqttTimeoutMs: 10_000 };

/** MQTT's PUBACK wait by default (MQTT_TIMEOUT). */
const MQTT_ACK_TIMEOUT_MS = 10_000;
/** ACTORS_RPC_RESPONSE_TIMEOUT_MS for scenario (c) (default 30 s). */
const RESPONSE_TIMEOUT_MS = 5000;

export async function noAck(o: NoAckOptions): Promise<ScenarioResult> {
  const started = performance.now();
  const per = await Promise.all(o.strategies.map((s) => noAckOne(s, o)));
  const problems = per.flatMap((r) => r.problems.map((p) => `${r.strategy}: ${p}`));
  const notes = per.map((r) => `${r.strategy}: ${r.note}`);
  const attempts = (o.retries ?? 5) + 1;
  return {
    name: '(c) device stops acknowledging; submit strategies do not jam',
    load: `one MQTT device per strategy (${o.strategies.join(', ')}), each on its own process and Redis`,
    faults: `the device never PUBACKs one command (persistent, retries ${o.retries ?? 'default = 5'}), acknowledges but never answers another, and acknowledges and answers every other (ACTORS_RPC_RESPONSE_TIMEOUT_MS=${RESPONSE_TIMEOUT_MS})`,
    inputs: `per strategy: the stuck persistent RPC, an unanswered one, a persistent RPC queued behind them, a lightweight RPC afterwards${o.strategies.includes('BURST') ? '; BURST also a lightweight stuck RPC' : ''}`,
    lost: `${per.filter((r) => !r.nextDelivered).length} strategies jammed (a later command never went out)`,
    ok: problems.length === 0,
    problems,
    notes: [...notes, `expected: ${attempts} copies of the stuck command, FAILED after about ${attempts} × ${o.mqttTimeoutMs / 1000} s (MQTT_TIMEOUT) + backoff`],
    durationMs: performance.now() - started,
  };
}

interface NoAckOutcome {
  readonly strategy: RpcSubmitStrategy;
  readonly problems: string[];
  readonly note: string;
  readonly nextDelivered: boolean;
}

async function noAckOne(strategy: RpcSubmitStrategy, o: NoAckOptions): Promise<NoAckOutcome> {
  const log = o.log ?? (() => undefined);
  const problems: string[] = [];
  const redis = await startFaultRedis();
  let node: NodeHandle | undefined;
  let dev: RawMqttDevice | undefined;
  try {
    const world = await seedWorld(redis.url, { devices: 1, prefix: `fc${strategy.length}` });
    const device = world.devices[0] as World['devices'][number];
    node = await startNode({
      redisUrl: redis.url,
      serviceId: `fc-${strategy.toLowerCase()}`,
      roles: ['api', 'transport', 'rule-engine'],
      settings: { mqttTimeoutMs: o.mqttTimeoutMs },
      env: { [RPC_SUBMIT_STRATEGY_ENV]: strategy, [RPC_NUMBER_ENV.responseTimeoutMs]: String(RESPONSE_TIMEOUT_MS) },
    });
    const api = new RestClient(`http://127.0.0.1:${node.httpPort}`);
    await api.login(world.adminEmail);
    dev = await RawMqttDevice.connect({ port: node.mqttPort as number, token: device.token });
    const d = dev;
    const got: { cmd: Command; at: number }[] = [];
    d.ackPolicy = (p) => commandOf(p)?.method !== 'jam' && commandOf(p)?.method !== 'jamLight';
    d.onPublish((p) => {
      const c = commandOf(p);
      if (!c) return;
      got.push({ cmd: c, at: performance.now() });
      // jam: never acknowledged; mute: acknowledged, never answered.
      if (c.method === 'jam' || c.method === 'jamLight' || c.method === 'mute') return;
      void d.publish(`v1/devices/me/rpc/response/${c.requestId}`, JSON.stringify({ ok: c.method }), 1).catch(() => undefined);
    });
    await d.subscribe(RPC_REQUEST_FILTER, 1);

    const t0 = performance.now();
    const jamBody: Record<string, unknown> = { method: 'jam', params: {}, persistent: true, timeout: 300_000 };
    if (o.retries !== null) jamBody.retries = o.retries;
    const jam = await api.call('POST', `/api/rpc/twoway/${device.id}`, jamBody);
    const jamId = (jam.json as { rpcId?: string } | undefined)?.rpcId;
    const mute = await api.call('POST', `/api/rpc/twoway/${device.id}`, { method: 'mute', params: {}, persistent: true, timeout: 300_000 });
    const muteId = (mute.json as { rpcId?: string } | undefined)?.rpcId;
    const next = await api.call('POST', `/api/rpc/twoway/${device.id}`, { method: 'next', params: {}, persistent: true, timeout: 300_000 });
    const nextId = (next.json as { rpcId?: string } | undefined)?.rpcId;
    if (typeof jamId !== 'string' || typeof nextId !== 'string' || typeof muteId !== 'string') {
      return { strategy, problems: [`RPCs not accepted: ${jam.status} ${mute.status} ${next.status}`], note: '', nextDelivered: false };
    }
    const jamLight =
      strategy === 'BURST'
        ? api.call('POST', `/api/rpc/twoway/${device.id}`, { method: 'jamLight', params: {}, timeout: 200_000, ...(o.retries !== null ? { retries: o.retries } : {}) }, { timeoutMs: 230_000 })
        : undefined;
    const maxRetries = o.retries ?? 5;
    // Every attempt waits MQTT_TIMEOUT, every retry its backoff (1 s doubling, at most 30 s).
    let backoffs = 0;
    for (let a = 1; a <= maxRetries; a++) backoffs += Math.min(30_000, 1000 * 2 ** (a - 1));
    const budget = (maxRetries + 1) * o.mqttTimeoutMs + backoffs + 20_000;
    const watched = await watchRpc(api, jamId, (s) => FINAL.has(s), budget, 200);
    const failedAt = performance.now();
    const jamCopies = got.filter((g) => g.cmd.method === 'jam').length;
    if (watched.last?.status !== 'FAILED') problems.push(`the stuck RPC is ${watched.last?.status ?? '?'} (seen ${watched.seen.join('→')}), not FAILED`);
    const reason = (watched.last?.response as { error?: string } | null)?.error;
    if (reason !== RETRIES_EXHAUSTED(maxRetries)) problems.push(`FAILED without the reason: response ${JSON.stringify(watched.last?.response)}`);
    if (!watched.seen.includes('TIMEOUT')) problems.push(`no TIMEOUT status seen before FAILED (${watched.seen.join('→')})`);
    if (jamCopies !== maxRetries + 1) problems.push(`the device got the stuck command ${jamCopies}×, expected ${maxRetries + 1} (1 + retries)`);

    // The acknowledged but unanswered command: SEQUENTIAL_ON_RESPONSE gives up on it after
    // ACTORS_RPC_RESPONSE_TIMEOUT_MS (FAILED with the reason) and goes on; the others do not wait for it.
    let muteNote = '';
    if (strategy === 'SEQUENTIAL_ON_RESPONSE_FROM_DEVICE') {
      const m = await watchRpc(api, muteId, (s) => FINAL.has(s), RESPONSE_TIMEOUT_MS + 20_000, 200);
      muteNote = `; unanswered command ${m.seen.join('→')}`;
      if (m.last?.status !== 'FAILED' || (m.last.response as { error?: string } | null)?.error !== RESPONSE_AWAIT_TIMEOUT) problems.push(`the acknowledged but unanswered command is ${m.last?.status ?? '?'} ${JSON.stringify(m.last?.response)}, not FAILED "${RESPONSE_AWAIT_TIMEOUT}"`);
    }
    const nextDone = await watchRpc(api, nextId, (s) => FINAL.has(s), 20_000, 100);
    const nextGot = got.find((g) => g.cmd.method === 'next');
    const nextDelivered = nextDone.last?.status === 'SUCCESSFUL';
    if (!nextDelivered) problems.push(`the command after the stuck one is ${nextDone.last?.status ?? '?'} (seen ${nextDone.seen.join('→')}): jammed`);
    if (strategy !== 'BURST' && nextGot && nextGot.at < failedAt - 1000) problems.push('the next command went out before the stuck one failed: not sequential');
    if (strategy === 'BURST' && nextGot && nextGot.at > failedAt - 1000) problems.push('BURST held the next command back until the stuck one failed');
    const after = await api.call('POST', `/api/rpc/twoway/${device.id}`, { method: 'after', params: {}, timeout: 10_000 }, { timeoutMs: 20_000 });
    if (after.status !== 200 || (after.json as { ok?: string } | undefined)?.ok !== 'after') problems.push(`a lightweight RPC afterwards: ${after.status} ${after.text.slice(0, 100)}`);
    let lightNote = '';
    if (jamLight) {
      const res = await jamLight;
      lightNote = `; stuck lightweight RPC (timeout 200 s): ${res.status} after ${(res.ms / 1000).toFixed(1)} s`;
      if (res.status !== 504) problems.push(`the stuck lightweight RPC: ${res.status} ${res.text.slice(0, 100)}`);
      else if (res.ms > budget) problems.push(`the stuck lightweight RPC was answered only after ${(res.ms / 1000).toFixed(1)} s (its retries ran out well before)`);
    }
    if (node.unhandled.length > 0) problems.push(`unhandled: ${node.unhandled.slice(0, 2).join(' || ')}`);
    const note =
      `stuck RPC ${watched.seen.join('→')} after ${((failedAt - t0) / 1000).toFixed(1)} s, ${jamCopies} copies, reason "${reason ?? ''}"; ` +
      `${muteNote.slice(2)}${muteNote ? '; ' : ''}next ${nextDone.seen.join('→')}${nextGot ? ` (went out ${((nextGot.at - t0) / 1000).toFixed(1)} s after the stuck one)` : ''}; lightweight afterwards ${after.status}${lightNote}`;
    log(`(c) ${strategy}: ${note}`);
    return { strategy, problems, note, nextDelivered };
  } finally {
    dev?.destroy();
    await teardown([node], redis);
  }
}

// ---------------------------------------------------------------------------------------------
// CLI

async function main(): Promise<number> {
  const only = argValue('only');
  const results: ScenarioResult[] = [];
  const log = (l: string) => console.log(l);
  const quick = process.argv.includes('--quick');
  const base = quick ? REDIS_FAULT_TEST : REDIS_FAULT_FULL;
  const lastDown = argValue('last-down-ms');
  const faults = lastDown === undefined ? base.faults : base.faults.map((f, i, all) => (i === all.length - 1 ? { ...f, downMs: Number(lastDown) } : f));
  if (faults.some((f) => !Number.isFinite(f.downMs) || f.downMs < 0)) throw new Error(`--last-down-ms: a number of ms >= 0, got "${lastDown ?? ''}"`);
  if (only === undefined || only === 'a') results.push(await redisFault({ ...base, faults, log }));
  if (only === undefined || only === 'a') for (const probe of [replyDuringOutage, subscribeDuringOutage, telemetryDuringOutage]) results.push(await probe());
  if (only === undefined || only === 'b') for (const opts of quick ? [TRANSPORT_KILL_TEST, TRANSPORT_KILL_SLOW_TEST] : TRANSPORT_KILL_FULL) results.push(await transportKill({ ...opts, log }));
  if (only === undefined || only === 'c') results.push(await noAck({ ...(quick ? NO_ACK_TEST : NO_ACK_FULL), log }));
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

