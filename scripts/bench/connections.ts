// MQTT connections benchmark: N devices (default 10 000) connect to one transport process, stay
// idle (memory per connection, connections/s), then all publish telemetry at QoS 1 (messages/s).
// The same run measures a bare aedes broker (no auth, no queues) as the baseline.
//
//   node --import tsx scripts/bench/connections.ts [--devices=10000] [--seconds=10] [--window=1]
//        [--rounds=2] [--sink=producer|count]
//
// Three processes per implementation: this one (orchestrator: Redis, devices, report), a server
// child (rpc-chains' MqttTransport with the real Store, session registry and BullMQ producer, or
// aedes), and a clients child: raw TCP MQTT 3.1.1 clients built with mqtt-packet, light enough
// that the server is what gets measured. Children run under `ulimit -n 65536`.
//
// Throughput depends on how much CPU the servers get; on a shared machine it swings between runs,
// so the two servers alternate for --rounds rounds and the best round of each is reported, with
// the CPU each server (and, for rpc-chains, Redis) spent per message, which load barely changes.
// --sink=count replaces the BullMQ producer with a counter (the transport alone).
// BENCH_CPU_PROF=<dir> writes a V8 CPU profile of each server child there.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as netConnect, createServer, type Socket } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { generate } from 'mqtt-packet';

const args = new Map<string, string>();
for (const a of process.argv.slice(2)) {
  const m = /^--([^=]+)=(.*)$/.exec(a);
  if (m) args.set(m[1] as string, m[2] as string);
}
const num = (name: string, dflt: number): number => Number(args.get(name) ?? dflt);
const DEVICES = num('devices', 10_000);
const SECONDS = num('seconds', 10);
const WINDOW = num('window', 1);
const ROUNDS = num('rounds', 2);
const TOPIC = 'v1/devices/me/telemetry';
const PAYLOAD = '{"temperature":21.5,"humidity":40,"battery":87}';
const token = (i: number): string => `bench-token-${String(i).padStart(6, '0')}`;

type ToParent =
  | { readonly t: 'ready'; readonly port: number }
  | { readonly t: 'mem'; readonly heapUsed: number; readonly rss: number; readonly external: number }
  | { readonly t: 'count'; readonly count: number; readonly sessions: number; readonly cpuMicros: number }
  | { readonly t: 'connected'; readonly ok: number; readonly failed: number; readonly ms: number }
  | { readonly t: 'published'; readonly acks: number; readonly ms: number };
type ToChild = { readonly t: 'mem' } | { readonly t: 'count' } | { readonly t: 'publish'; readonly seconds: number } | { readonly t: 'exit' };

const send = (m: ToParent): void => void process.send?.(m);

function gc(): void {
  setFlagsFromString('--expose_gc');
  const collect = runInNewContext('gc') as () => void;
  collect();
  collect();
}

function memory(): ToParent {
  gc();
  const m = process.memoryUsage();
  return { t: 'mem', heapUsed: m.heapUsed, rss: m.rss, external: m.external + m.arrayBuffers };
}

// ---- server child: rpc-chains -----------------------------------------------------------------

async function serverOurs(redisUrl: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const { Store } = await import('../../src/store/store.js');
  const { ServiceBus } = await import('../../src/queue/service-bus.js');
  const { RuleEngineProducer } = await import('../../src/queue/producer.js');
  const { DeviceAuth } = await import('../../src/transport/device-auth.js');
  const { SessionRegistry } = await import('../../src/transport/session-registry.js');
  const { MqttTransport } = await import('../../src/transport/mqtt/mqtt-transport.js');
  const { DEFAULT_TRANSPORT_LIMITS } = await import('../../src/transport/transport-api.js');
  const logger = { info: () => undefined, debug: () => undefined, warn: (t: string) => console.error(t) };
  const redis = new Redis(redisUrl);
  const store = new Store(redis);
  const bus = new ServiceBus({ redisUrl, serviceId: 'bench-transport', logger });
  await bus.start();
  const sessions = new SessionRegistry({ redis, bus, logger });
  const producer = new RuleEngineProducer({ redisUrl });
  let count = 0;
  const transport = new MqttTransport(
    {
      serviceId: bus.serviceId,
      store,
      // --sink=count measures the transport alone (no queue write).
      toRuleEngine:
        args.get('sink') === 'count'
          ? async () => void count++
          : async (msg) => {
              await producer.send(msg);
              count++;
            },
      rpc: { onRpcSubscribe() {}, onRpcUnsubscribe() {}, onRpcDeliveryStatus() {}, onRpcResponse: () => Promise.resolve(), onRpcError() {}, onSessionClosed() {} },
      limits: DEFAULT_TRANSPORT_LIMITS,
      logger,
    },
    { port: 0, host: '127.0.0.1', sessions, auth: new DeviceAuth(store) },
  );
  const port = await transport.start();
  serve(port, () => ({ count, sessions: transport.metrics.sessions }));
}

// ---- server child: bare aedes -----------------------------------------------------------------

async function serverAedes(): Promise<void> {
  const { Aedes } = await import('aedes');
  const broker = await Aedes.createBroker();
  let count = 0;
  broker.on('publish', (_packet, client) => {
    if (client) count++;
  });
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    broker.handle(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  serve(typeof addr === 'object' && addr ? addr.port : 0, () => ({ count, sessions: broker.connectedClients }));
}

function serve(port: number, counts: () => { count: number; sessions: number }): void {
  process.on('message', (m: ToChild) => {
    if (m.t === 'mem') send(memory());
    else if (m.t === 'count') {
      const cpu = process.cpuUsage();
      send({ t: 'count', ...counts(), cpuMicros: cpu.user + cpu.system });
    }
    else if (m.t === 'exit') process.exit(0);
  });
  send({ t: 'ready', port });
}

// ---- clients child: raw MQTT 3.1.1 over TCP -----------------------------------------------------

class RawDevice {
  private pending: Buffer | undefined;
  private nextId = 1;
  publishing = false;
  onConnack: ((ok: boolean) => void) | undefined;
  onPuback: (() => void) | undefined;

  constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.on('error', () => undefined);
  }

  publish(template: Buffer, idOffset: number): void {
    const buf = Buffer.from(template);
    buf.writeUInt16BE(this.nextId, idOffset);
    this.nextId = this.nextId === 0xffff ? 1 : this.nextId + 1;
    this.socket.write(buf);
  }

  /** Only fixed headers matter here: CONNACK (0x20) and PUBACK (0x40). */
  private read(chunk: Buffer): void {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    for (;;) {
      if (buf.length < 2) break;
      let len = 0;
      let mul = 1;
      let i = 1;
      let byte: number;
      do {
        if (i >= buf.length) {
          this.pending = buf;
          return;
        }
        byte = buf[i++] as number;
        len += (byte & 0x7f) * mul;
        mul *= 128;
      } while (byte & 0x80);
      if (buf.length < i + len) break;
      const type = (buf[0] as number) >> 4;
      if (type === 2) this.onConnack?.(buf[i + 1] === 0);
      else if (type === 4) this.onPuback?.();
      buf = buf.subarray(i + len);
    }
    if (buf.length > 0) this.pending = Buffer.from(buf);
  }
}

async function clients(port: number): Promise<void> {
  const devices: RawDevice[] = [];
  const t0 = performance.now();
  let ok = 0;
  let failed = 0;
  let next = 0;
  // Connect with a bounded number of handshakes in flight, like a fleet coming back after an outage.
  await new Promise<void>((resolve) => {
    const start = (): void => {
      if (next >= DEVICES) return;
      const i = next++;
      const socket = netConnect(port, '127.0.0.1');
      const d = new RawDevice(socket);
      const finish = (good: boolean): void => {
        d.onConnack = undefined;
        if (good) ok++;
        else failed++;
        if (good) devices.push(d);
        if (ok + failed === DEVICES) resolve();
        else start();
      };
      d.onConnack = finish;
      socket.once('close', () => d.onConnack?.(false));
      socket.once('connect', () => socket.write(generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: `bench-${i}`, clean: true, keepalive: 60, username: token(i) })));
    };
    for (let k = 0; k < 500; k++) start();
  });
  send({ t: 'connected', ok, failed, ms: performance.now() - t0 });
  // Keep-alive: one PINGREQ per device every 45 s (the server closes after 90 s of silence).
  const ping = generate({ cmd: 'pingreq' });
  setInterval(() => devices.forEach((d) => d.socket.write(ping)), 45_000).unref();

  const template = generate({ cmd: 'publish', topic: TOPIC, payload: Buffer.from(PAYLOAD), qos: 1, messageId: 1, retain: false, dup: false });
  const idOffset = template.length - PAYLOAD.length - 2;
  process.on('message', (m: ToChild) => {
    if (m.t === 'exit') process.exit(0);
    if (m.t !== 'publish') return;
    let acks = 0;
    let running = true;
    const begin = performance.now();
    for (const d of devices) {
      d.onPuback = () => {
        acks++;
        if (running) d.publish(template, idOffset);
      };
      for (let w = 0; w < WINDOW; w++) d.publish(template, idOffset);
    }
    setTimeout(() => {
      running = false;
      send({ t: 'published', acks, ms: performance.now() - begin });
    }, m.seconds * 1000);
  });
}

// ---- orchestrator ---------------------------------------------------------------------------------

interface Child {
  readonly proc: ChildProcess;
  next<T extends ToParent['t']>(type: T): Promise<Extract<ToParent, { t: T }>>;
  ask<T extends ToParent['t']>(msg: ToChild, type: T): Promise<Extract<ToParent, { t: T }>>;
}

function child(role: string, env: Record<string, string>): Child {
  const script = fileURLToPath(import.meta.url);
  // `ulimit -n` is per process: raise it in the shell that becomes the child.
  const proc = spawn('/bin/sh', ['-c', `ulimit -n 65536 2>/dev/null || ulimit -n $(ulimit -Hn); exec "${process.execPath}" ${role.startsWith('server') && process.env.BENCH_CPU_PROF ? `--cpu-prof --cpu-prof-dir=${process.env.BENCH_CPU_PROF}` : ''} --import tsx "${script}" --role=${role} ${process.argv.slice(2).join(' ')}`], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
  const waiting: ((m: ToParent) => boolean)[] = [];
  proc.on('message', (m: ToParent) => {
    const i = waiting.findIndex((w) => w(m));
    if (i >= 0) waiting.splice(i, 1);
  });
  const next = <T extends ToParent['t']>(type: T): Promise<Extract<ToParent, { t: T }>> =>
    new Promise((resolve, reject) => {
      proc.once('exit', (code) => reject(new Error(`${role} exited (${code}) while waiting for ${type}`)));
      waiting.push((m) => {
        if (m.t !== type) return false;
        resolve(m as Extract<ToParent, { t: T }>);
        return true;
      });
    });
  return {
    proc,
    next,
    ask(msg, type) {
      const p = next(type);
      proc.send(msg);
      return p;
    },
  };
}

interface Result {
  readonly name: string;
  readonly connected: number;
  readonly connectPerSec: number;
  readonly heapPerConn: number;
  readonly rssPerConn: number;
  readonly ingestPerSec: number;
  readonly ackPerSec: number;
  /** Server process CPU (user + system) per ingested message. */
  readonly serverCpuPerMsg: number;
  /** Redis CPU per ingested message (the queue writes; 0 for aedes). */
  readonly redisCpuPerMsg: number;
}

/** Redis' own CPU seconds (user + sys), from INFO. */
async function redisCpuMicros(url: string): Promise<number> {
  const { Redis } = await import('ioredis');
  const r = new Redis(url);
  const info = await r.info('cpu');
  r.disconnect();
  const get = (k: string): number => Number(new RegExp(`^${k}:([0-9.]+)`, 'm').exec(info)?.[1] ?? 0);
  return (get('used_cpu_user') + get('used_cpu_sys')) * 1e6;
}

async function measure(name: string, impl: 'ours' | 'aedes', redisUrl: string): Promise<Result> {
  const server = child(`server-${impl}`, { BENCH_REDIS_URL: redisUrl });
  const { port } = await server.next('ready');
  const mem0 = await server.ask({ t: 'mem' }, 'mem');
  const devices = child('clients', { BENCH_PORT: String(port) });
  const conn = await devices.next('connected');
  await new Promise((r) => setTimeout(r, 2000)); // idle: let registrations and events settle
  const mem1 = await server.ask({ t: 'mem' }, 'mem');
  const c0 = await server.ask({ t: 'count' }, 'count');
  const r0 = await redisCpuMicros(redisUrl);
  const pub = await devices.ask({ t: 'publish', seconds: SECONDS }, 'published');
  const c1 = await server.ask({ t: 'count' }, 'count');
  const r1 = await redisCpuMicros(redisUrl);
  server.proc.send({ t: 'exit' });
  devices.proc.send({ t: 'exit' });
  await Promise.all([server, devices].map((c) => new Promise((r) => (c.proc.exitCode !== null ? r(null) : c.proc.once('exit', r)))));
  const n = Math.max(1, conn.ok);
  const msgs = Math.max(1, c1.count - c0.count);
  if (conn.failed > 0) console.error(`${name}: ${conn.failed} connections failed`);
  return {
    name,
    connected: c0.sessions,
    connectPerSec: (conn.ok / conn.ms) * 1000,
    heapPerConn: (mem1.heapUsed + mem1.external - mem0.heapUsed - mem0.external) / n,
    rssPerConn: (mem1.rss - mem0.rss) / n,
    ingestPerSec: ((c1.count - c0.count) / pub.ms) * 1000,
    ackPerSec: (pub.acks / pub.ms) * 1000,
    serverCpuPerMsg: (c1.cpuMicros - c0.cpuMicros) / msgs,
    redisCpuPerMsg: impl === 'ours' ? (r1 - r0) / msgs : 0,
  };
}

/** The best round of each: other load on the machine only ever makes a round worse. */
function best(results: Result[]): Result {
  return results.reduce((a, b) => (b.ingestPerSec > a.ingestPerSec ? b : a));
}

async function createDevices(redisUrl: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const { Store } = await import('../../src/store/store.js');
  const redis = new Redis(redisUrl);
  const store = new Store(redis);
  const tenant = await store.tenants.create({ title: 'Bench tenant' });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < DEVICES) {
      const i = next++;
      const d = await store.devices.create(tenant.id.id, { name: `bench-device-${i}`, type: 'sensor' });
      await store.credentials.save(tenant.id.id, d.id.id, token(i));
    }
  };
  await Promise.all(Array.from({ length: 100 }, worker));
  redis.disconnect();
}

async function orchestrate(): Promise<void> {
  const { startEmbeddedRedis } = await import('../../src/redis/embedded-redis.js');
  const dir = await mkdtemp(join(tmpdir(), 'rc-bench-conn-'));
  const redis = await startEmbeddedRedis({ dataDir: dir, appendOnly: false });
  try {
    const t0 = performance.now();
    await createDevices(redis.url);
    console.log(`${DEVICES} devices with access tokens created in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    // Alternate the two servers so that load from elsewhere on the machine hits both alike.
    const aedesRuns: Result[] = [];
    const oursRuns: Result[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      aedesRuns.push(await measure('aedes 1.2 (bare: no auth, no queue)', 'aedes', redis.url));
      oursRuns.push(await measure(`rpc-chains MqttTransport (${args.get('sink') === 'count' ? 'count only' : 'BullMQ producer'})`, 'ours', redis.url));
    }
    const baseline = best(aedesRuns);
    const ours = best(oursRuns);
    const kb = (b: number): string => `${(b / 1024).toFixed(1)} KB`;
    const rows = [baseline, ours].map((r) => [
      r.name,
      String(r.connected),
      r.connectPerSec.toFixed(0),
      kb(r.heapPerConn),
      kb(r.rssPerConn),
      r.ingestPerSec.toFixed(0),
      r.ackPerSec.toFixed(0),
      r.serverCpuPerMsg.toFixed(1),
      r.redisCpuPerMsg.toFixed(1),
    ]);
    const head = ['server', 'sessions', 'connects/s', 'heap+ext/conn', 'RSS/conn', 'ingest msg/s', 'PUBACK/s', 'server CPU us/msg', 'Redis CPU us/msg'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
    const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
    console.log(`\n${DEVICES} devices, telemetry QoS 1 for ${SECONDS} s, ${WINDOW} in flight per device, best of ${ROUNDS} rounds, node ${process.version}, ${cpus().length} CPUs, load ${loadavg()[0]?.toFixed(1)}`);
    console.log(line(head));
    for (const r of rows) console.log(line(r));
    console.log(`all rounds, ingest msg/s: aedes ${aedesRuns.map((r) => r.ingestPerSec.toFixed(0)).join(', ')}; rpc-chains ${oursRuns.map((r) => r.ingestPerSec.toFixed(0)).join(', ')}`);
    console.log(`\nrpc-chains / aedes ingest: ${(ours.ingestPerSec / baseline.ingestPerSec).toFixed(2)}x (target >= 0.7)`);
    console.log(`rpc-chains memory per idle connection: ${kb(Math.max(ours.heapPerConn, ours.rssPerConn))} (target <= 20 KB)`);
  } finally {
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const role = args.get('role');
if (role === 'server-ours') await serverOurs(process.env.BENCH_REDIS_URL as string);
else if (role === 'server-aedes') await serverAedes();
else if (role === 'clients') await clients(Number(process.env.BENCH_PORT));
else await orchestrate();
