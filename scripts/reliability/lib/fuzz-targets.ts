// The four fuzz targets. Each sends `n` generated inputs to the running system over its real
// protocol (input i is drawn from rng.fork(i), so a run replays with its seed whatever the
// concurrency) and tallies the outcomes; the oracles that need the whole process (no crash, no
// unhandled rejection, memory, the server still answering) are in fuzz.ts.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as coapParse } from 'coap-packet';
import { generate as mqttGenerate } from 'mqtt-packet';
import { importChain } from '../../../src/engine/importer/import-chain.js';
import { builtinRegistry } from '../../../src/nodes/index.js';
import { devicePayload, encodeMqtt, mutateBytes, randomCoapDatagram, randomJson, randomMqttPacket, randomString, randomTopic } from './fuzz-gen.js';
import type { FuzzSystem } from './fuzz-system.js';
import { MqttDeviceError, RawMqttDevice } from './mqtt-device.js';
import { RestClient } from './rest.js';
import type { Rng } from './rng.js';
import { sleep } from './util.js';
import { seedInto, type World } from './world.js';

/** A failed oracle: how often, and the first input that showed it (replayable with the seed). */
export interface Finding {
  count: number;
  readonly example: string;
}

export interface TargetReport {
  readonly inputs: number;
  /** Outcome → count. */
  readonly outcomes: Record<string, number>;
  /** Input kind → count. */
  readonly kinds: Record<string, number>;
  /** Failed oracles by what failed. */
  readonly findings: Record<string, Finding>;
  readonly notes: string[];
}

function bump(m: Record<string, number>, k: string, by = 1): void {
  m[k] = (m[k] ?? 0) + by;
}

function find(findings: Record<string, Finding>, what: string, example: string): void {
  const f = findings[what];
  if (f) f.count++;
  else findings[what] = { count: 1, example };
}

/** Runs `work(i)` for i in [from, to) with at most `concurrency` at once. */
async function pool(from: number, to: number, concurrency: number, work: (i: number, worker: number) => Promise<void>): Promise<void> {
  let next = from;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (;;) {
        const i = next++;
        if (i >= to) return;
        await work(i, w);
      }
    }),
  );
}

// ---- 1. MQTT: raw bytes and mutated valid packets over TCP ---------------------------------

export async function fuzzMqttBytes(fx: FuzzSystem, rng: Rng, from: number, to: number, concurrency = 16): Promise<TargetReport> {
  const outcomes: Record<string, number> = {};
  const kinds: Record<string, number> = {};
  const findings: Record<string, Finding> = {};
  const tokens = fx.world.devices.map((d) => d.token);
  await pool(from, to, concurrency, async (i) => {
    const r = rng.fork(i);
    const version = r.pick([3, 4, 4, 5, 5] as const);
    const token = r.pick(tokens);
    const connectPacket = encodeMqtt(randomMqttPacket(r, version, token), version);
    const validConnect = encodeMqtt({ cmd: 'connect', protocolId: version === 3 ? 'MQIsdp' : 'MQTT', protocolVersion: version, clientId: `fz${i}`, clean: true, keepalive: 60, username: token }, version) as Buffer;
    let bytes: Buffer;
    let kind: string;
    const k = r.int(0, 19);
    if (k < 5) {
      kind = 'random bytes';
      bytes = r.bytes(r.int(1, 512));
    } else if (k < 8) {
      kind = 'CONNECT + random bytes';
      bytes = Buffer.concat([validConnect, r.bytes(r.int(1, 256))]);
    } else {
      const packets = [r.chance(0.8) ? validConnect : (connectPacket ?? validConnect)];
      for (let p = 0, n = r.int(0, 4); p < n; p++) {
        const b = encodeMqtt(randomMqttPacket(r, version, token), version);
        if (b) packets.push(b);
      }
      bytes = Buffer.concat(packets);
      if (k < 17) {
        kind = 'mutated packets';
        bytes = mutateBytes(r, bytes);
      } else kind = 'valid packet sequence';
    }
    bump(kinds, `${kind} (v${version})`);
    const outcome = await rawExchange(fx.mqttPort, bytes, r.int(2, 4), r.int(20, 120));
    bump(outcomes, outcome);
  });
  return { inputs: to - from, outcomes, kinds, findings, notes: [] };
}

/** Writes `bytes` in `chunks` pieces; resolves with what the server did within `waitMs`. */
function rawExchange(port: number, bytes: Buffer, chunks: number, waitMs: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    let got = 0;
    let done = false;
    const finish = (what: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(`${what}${got > 0 ? ', answered' : ''}`);
    };
    const timer = setTimeout(() => finish('left open'), waitMs + 2000);
    socket.on('data', (b: Buffer) => (got += b.length));
    socket.on('error', () => undefined);
    socket.on('close', () => finish('closed by server'));
    socket.once('connect', () => {
      void (async () => {
        const size = Math.ceil(bytes.length / chunks);
        for (let at = 0; at < bytes.length && !socket.destroyed; at += size) {
          socket.write(bytes.subarray(at, at + size));
          await new Promise((r) => setImmediate(r));
        }
        setTimeout(() => finish('left open'), waitMs);
      })();
    });
  });
}

// ---- 2. MQTT: valid connections, random topics and payloads --------------------------------

export async function fuzzMqttTopics(fx: FuzzSystem, rng: Rng, from: number, to: number, concurrency = 12): Promise<TargetReport> {
  const outcomes: Record<string, number> = {};
  const kinds: Record<string, number> = {};
  const findings: Record<string, Finding> = {};
  const devices = fx.world.devices.slice(0, concurrency);
  const conns: (RawMqttDevice | null)[] = devices.map(() => null);
  let reconnects = 0;
  let connectFailures = 0;
  const ensure = async (w: number): Promise<RawMqttDevice | null> => {
    const c = conns[w];
    if (c && !c.isClosed) return c;
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        const d = await RawMqttDevice.connect({ port: fx.mqttPort, token: (devices[w] as World['devices'][number]).token, protocolVersion: w % 2 === 0 ? 4 : 5 });
        conns[w] = d;
        if (c) reconnects++;
        return d;
      } catch {
        connectFailures++;
        await sleep(50);
      }
    }
    find(findings, 'a valid device could not connect 20 times in a row', `worker ${w}`);
    return null;
  };
  if (from === 0) await topicDictionary(fx, outcomes, kinds, findings);
  await pool(from, to, devices.length, async (i, w) => {
    const r = rng.fork(i);
    const dev = await ensure(w);
    if (!dev) return;
    const op = r.int(0, 99);
    if (op < 75) {
      const topic = randomTopic(r);
      const payload = devicePayload(r);
      const qos = r.chance(0.35) ? 0 : r.chance(0.9) ? 1 : 2;
      bump(kinds, `publish QoS ${qos}`);
      if (qos === 2) {
        try {
          dev.socket.write(mqttGenerate({ cmd: 'publish', topic, payload, qos: 2, messageId: r.int(1, 65535), retain: false, dup: false }, { protocolVersion: dev.version }));
          bump(outcomes, 'QoS 2 sent');
        } catch {
          bump(outcomes, 'not encodable');
        }
        return;
      }
      try {
        const code = await dev.publish(topic, payload, qos, 5000);
        bump(outcomes, qos === 0 ? 'QoS 0 written' : `PUBACK 0x${code.toString(16).padStart(2, '0')}`);
      } catch (e) {
        const m = e instanceof MqttDeviceError ? e.message : String(e);
        if (m === 'no PUBACK in time') {
          bump(outcomes, 'QoS 1 unanswered (no PUBACK, not closed)');
          find(findings, 'QoS 1 PUBLISH neither acknowledged nor refused within 5 s', `case ${i}: v${dev.version} topic ${printable(JSON.stringify(topic.slice(0, 80)))} payload ${printable(JSON.stringify(payload.toString('utf8', 0, 80)))}`);
        } else if (/encod|invalid|Invalid/.test(m)) bump(outcomes, 'not encodable');
        else bump(outcomes, 'connection closed by server');
      }
    } else if (op < 90) {
      const filter = randomTopic(r);
      bump(kinds, 'subscribe');
      try {
        const granted = await Promise.race([dev.subscribe(filter, r.int(0, 2) as 0 | 1 | 2), sleep(5000).then(() => null)]);
        if (granted === null) {
          bump(outcomes, 'SUBSCRIBE unanswered');
          find(findings, 'SUBSCRIBE neither answered nor refused within 5 s', `case ${i}: SUBSCRIBE ${printable(JSON.stringify(filter.slice(0, 80)))}`);
        } else bump(outcomes, `SUBACK ${granted.map((g) => `0x${g.toString(16)}`).join(',')}`);
      } catch {
        bump(outcomes, 'connection closed by server');
      }
    } else if (op < 95) {
      bump(kinds, 'unsubscribe');
      try {
        dev.socket.write(mqttGenerate({ cmd: 'unsubscribe', messageId: r.int(1, 65535), unsubscriptions: [randomTopic(r)] }, { protocolVersion: dev.version }));
        bump(outcomes, 'UNSUBSCRIBE sent');
      } catch {
        bump(outcomes, 'not encodable');
      }
    } else {
      bump(kinds, 'client-side RPC / attribute request');
      const topic = r.chance(0.5) ? `v1/devices/me/rpc/request/${r.int(0, 100)}` : `v1/devices/me/attributes/request/${r.int(0, 100)}`;
      const body = JSON.stringify(r.chance(0.5) ? { method: r.pick(['getCurrentTime', randomString(r, 10)]), params: randomJson(r, 2) } : { clientKeys: randomString(r, 10), sharedKeys: randomString(r, 10) });
      try {
        const code = await dev.publish(topic, body, 1, 5000);
        bump(outcomes, `PUBACK 0x${code.toString(16).padStart(2, '0')}`);
      } catch {
        bump(outcomes, 'connection closed by server');
      }
    }
  });
  for (const c of conns) await c?.end().catch(() => undefined);
  bump(outcomes, 'reconnects after the server closed the connection', reconnects);
  if (connectFailures > 0) bump(outcomes, 'failed connects', connectFailures);
  return { inputs: to - from, outcomes, kinds, findings, notes: [] };
}

/** Names of Object.prototype members: a topic lookup in a plain object finds them. */
export const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__'];

/**
 * Before the random inputs, the dictionary: publish (QoS 1) and subscribe with every prototype
 * member name as the topic, over MQTT 3.1.1 and 5, all at once. A publish must be acknowledged or
 * refused, a subscription to what is not one of the device's topics refused (0x80).
 */
async function topicDictionary(fx: FuzzSystem, outcomes: Record<string, number>, kinds: Record<string, number>, findings: Record<string, Finding>): Promise<void> {
  // One device per case: a second connection of a device would take its session over.
  const tokenOf = (k: number) => (fx.world.devices[k % fx.world.devices.length] as World['devices'][number]).token;
  await Promise.all(
    ([4, 5] as const).flatMap((version, v) =>
      PROTOTYPE_NAMES.map(async (topic, t) => {
        const token = tokenOf(v * PROTOTYPE_NAMES.length + t);
        bump(kinds, 'dictionary: prototype-named topic');
        let dev: RawMqttDevice;
        try {
          dev = await RawMqttDevice.connect({ port: fx.mqttPort, token, protocolVersion: version });
        } catch {
          find(findings, 'a valid device could not connect', `dictionary, v${version}`);
          return;
        }
        try {
          const code = await dev.publish(topic, '{"a":1}', 1, 3000);
          bump(outcomes, `PUBACK 0x${code.toString(16).padStart(2, '0')}`);
        } catch (e) {
          if ((e as Error).message === 'no PUBACK in time') {
            bump(outcomes, 'QoS 1 unanswered (no PUBACK, not closed)');
            find(findings, 'QoS 1 PUBLISH neither acknowledged nor refused within 3 s', `dictionary: v${version} topic "${topic}"`);
          } else bump(outcomes, 'connection closed by server');
        }
        if (dev.isClosed) dev = await RawMqttDevice.connect({ port: fx.mqttPort, token, protocolVersion: version });
        try {
          const granted = await Promise.race([dev.subscribe(topic, 1), sleep(3000).then(() => null)]);
          if (granted === null) find(findings, 'SUBSCRIBE neither answered nor refused within 3 s', `dictionary: v${version} filter "${topic}"`);
          else if ((granted[0] ?? 0x80) < 0x80) find(findings, "SUBSCRIBE to a filter that is not one of the device's topics was granted", `dictionary: v${version} filter "${topic}" → SUBACK ${granted[0]}`);
          else bump(outcomes, `SUBACK 0x${(granted[0] ?? 0).toString(16)}`);
        } catch {
          bump(outcomes, 'connection closed by server');
        }
        dev.destroy();
      }),
    ),
  );
}

// ---- 3. CoAP: random requests over UDP ------------------------------------------------------

export async function fuzzCoap(fx: FuzzSystem, rng: Rng, from: number, to: number, concurrency = 8): Promise<TargetReport> {
  const outcomes: Record<string, number> = {};
  const kinds: Record<string, number> = {};
  const findings: Record<string, Finding> = {};
  const tokens = fx.world.devices.map((d) => d.token);
  const sockets: UdpSocket[] = [];
  const sentBy = new Map<string, { i: number; kind: string; path: string }>();
  // node-coap answers a datagram it cannot parse with 5.00 and the parser's message, without the
  // request's message id or token: the first case whose local parse fails that way names it.
  const firstWithError = new Map<string, { i: number; kind: string; path: string }>();
  for (let s = 0; s < concurrency; s++) {
    const sock = createSocket('udp4');
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
    sock.on('message', (msg) => {
      try {
        const p = coapParse(msg);
        bump(outcomes, p.code === '0.00' ? (p.reset ? 'RST' : 'empty ACK') : p.code);
        if (p.code.startsWith('5.')) {
          const text = p.payload.toString().slice(0, 80);
          // Answers to what does not parse carry no message id or token: the first such input names them.
          const from = firstWithError.get(text) ?? (p.token.length >= 4 ? sentBy.get(`${sock.address().port}:t${p.token.toString('hex')}`) : undefined);
          find(findings, `CoAP ${p.code} answer "${printable(text)}" (not documented: only a queue failure answers 5.00)`, from ? `case ${from.i}: ${from.kind} ${from.path}` : 'an input the server could not parse');
        }
      } catch {
        bump(outcomes, 'unparsable answer');
      }
    });
    sock.on('error', () => undefined);
    sockets.push(sock);
  }
  for (let i = from; i < to; i++) {
    const r = rng.fork(i);
    const { bytes, kind } = randomCoapDatagram(r, tokens);
    bump(kinds, kind);
    const sock = sockets[i % sockets.length] as UdpSocket;
    try {
      const p = coapParse(bytes);
      const path = printable(p.options.filter((o) => o.name === 'Uri-Path').map((o) => o.value.toString()).join('/').slice(0, 60));
      const entry = { i, kind, path: `${p.code} ${path}` };
      // node-coap's own check (server.js _handle): Observe=0 on anything but GET/FETCH → 5.00.
      const observe = p.options.find((o) => o.name === 'Observe');
      const observeText = 'Observe can only be present with a GET or a FETCH';
      if (observe && observe.value.length <= 4 && (observe.value.length === 0 || observe.value.readUIntBE(0, observe.value.length) === 0) && p.code !== '0.01' && p.code !== '0.05' && !firstWithError.has(observeText)) {
        firstWithError.set(observeText, entry);
      }
      sentBy.set(`${sock.address().port}:${p.messageId}`, entry);
      sentBy.set(`${sock.address().port}:t${p.token.toString('hex')}`, entry);
      if (sentBy.size > 4000) sentBy.delete(sentBy.keys().next().value as string);
    } catch (e) {
      const text = (e as Error).message.slice(0, 80);
      if (!firstWithError.has(text)) firstWithError.set(text, { i, kind, path: `bytes ${bytes.subarray(0, 12).toString('hex')}…` });
    }
    sock.send(bytes, fx.coapPort, '127.0.0.1');
    if (i % 16 === 15) await sleep(2);
  }
  await sleep(1500);
  for (const s of sockets) s.close();
  return { inputs: to - from, outcomes, kinds, findings, notes: [] };
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '.');
}

/**
 * Where does the answer to a malformed datagram go? Sent from a non-loopback address, it must come
 * back to that address, not to 127.0.0.1 at the sender's port. Null when right (or untestable here).
 */
export async function coapErrorGoesToSender(coapPort: number): Promise<string | null> {
  const { networkInterfaces } = await import('node:os');
  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal);
  if (!external) return null;
  const sender = createSocket('udp4');
  const local = createSocket('udp4');
  try {
    await new Promise<void>((resolve) => sender.bind(0, external.address, () => resolve()));
    const port = sender.address().port;
    const bound = await new Promise<boolean>((resolve) => {
      local.once('error', () => resolve(false));
      local.bind(port, '127.0.0.1', () => resolve(true));
    });
    if (!bound) return null;
    let toSender = 0;
    let toLocal = 0;
    sender.on('message', () => toSender++);
    local.on('message', () => toLocal++);
    // A CoAP version-2 header: "Unsupported version".
    sender.send(Buffer.from([0x80, 0x01, 0x12, 0x34, 0xff, 0x00]), coapPort, '127.0.0.1');
    await sleep(500);
    if (toLocal > 0 && toSender === 0) {
      return `CoAP error answers are sent to 127.0.0.1:<the sender's port>, not to the sender (${external.address}): node-coap's Server._sendError passes no address to socket.send, so a remote client can make the server send datagrams to local UDP services`;
    }
    return null;
  } finally {
    sender.close();
    local.close();
  }
}

// ---- 4. Rule-chain JSON: mutated real exports, importer and POST /api/ruleChain/import -----

const EXAMPLES_DIR = fileURLToPath(new URL('../../../../shared/examples/rule-chains/', import.meta.url));
const SHIPPED_DIR = fileURLToPath(new URL('../../../rule-chains/', import.meta.url));

export function ruleChainCorpus(): { name: string; doc: unknown }[] {
  const out: { name: string; doc: unknown }[] = [];
  for (const dir of [EXAMPLES_DIR, SHIPPED_DIR]) {
    let files: string[] = [];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    } catch {
      continue;
    }
    for (const f of files.sort()) out.push({ name: f, doc: JSON.parse(readFileSync(join(dir, f), 'utf8')) as unknown });
  }
  return out;
}

const SCRIPTS = [
  'return msg;',
  'return {msg: msg, metadata: metadata, msgType: msgType};',
  'return msg.temperature > 20;',
  'while (true) {}',
  'for(;;){}',
  'syntax error (',
  '}',
  '}); process.exit(1); (function(){',
  'return this.constructor.constructor("return process")().exit(1);',
  'var a = []; while (true) a.push(new Array(1e6).fill(1));',
  'return "x".repeat(1e9);',
  'throw new Error("boom");',
  "return ['a', 'b'];",
  'return null;',
  'return undefined;',
  'return {msg: {}, metadata: {"a": {"b": 1}}, msgType: 5};',
  'var m = msg; m.__proto__.polluted = 1; return m;',
  'return JSON.parse("[".repeat(100000));',
];

/** Every path (keys and indices) in a JSON tree. */
function paths(v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (out.length > 5000) return out;
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...prefix, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...prefix, k], out);
  return out;
}

function at(root: unknown, path: readonly (string | number)[]): { parent: Record<string | number, unknown> | unknown[]; key: string | number } | null {
  if (path.length === 0) return null;
  let cur: unknown = root;
  for (const k of path.slice(0, -1)) {
    if (cur === null || typeof cur !== 'object') return null;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  if (cur === null || typeof cur !== 'object') return null;
  return { parent: cur as Record<string | number, unknown>, key: path[path.length - 1] as string | number };
}

/** 1–5 structural mutations of a rule-chain document. */
export function mutateChain(rng: Rng, source: unknown, corpus: readonly { doc: unknown }[], nodeTypes: readonly string[]): unknown {
  const doc = structuredClone(source);
  const rounds = rng.int(1, 5);
  for (let m = 0; m < rounds; m++) {
    const all = paths(doc);
    const target = at(doc, rng.pick(all));
    if (!target) continue;
    const { parent, key } = target;
    const cur = (parent as Record<string | number, unknown>)[key];
    const name = String(key);
    switch (rng.int(0, 9)) {
      case 0:
        if (Array.isArray(parent)) parent.splice(Number(key), 1);
        else delete (parent as Record<string, unknown>)[key];
        break;
      case 1:
        (parent as Record<string | number, unknown>)[key] = randomJson(rng, 2);
        break;
      case 2:
        (parent as Record<string | number, unknown>)[key] = typeof cur === 'number' ? String(cur) : typeof cur === 'string' ? rng.pick([0, -1, 1e308, null, [], {}, true]) : rng.pick(['', 0, null, [], {}, 'x']);
        break;
      case 3:
        if (/index|Index/.test(name) || typeof cur === 'number') (parent as Record<string | number, unknown>)[key] = rng.pick([-1, 0, 1, 2, 99, 1e9, 1.5, -0, 2 ** 31, null, '0']);
        else if (Array.isArray(cur) && cur.length > 0) cur.push(structuredClone(rng.pick(cur)));
        break;
      case 4:
        if (name === 'type' || typeof cur === 'string') (parent as Record<string | number, unknown>)[key] = rng.chance(0.7) ? rng.pick(nodeTypes) : randomString(rng, 30);
        break;
      case 5:
        if (/[sS]cript$|Function$|Template$/.test(name) || typeof cur === 'string') (parent as Record<string | number, unknown>)[key] = rng.pick(SCRIPTS);
        break;
      case 6:
        if (Array.isArray(cur) && cur.length > 1) {
          const a = rng.int(0, cur.length - 1);
          const b = rng.int(0, cur.length - 1);
          [cur[a], cur[b]] = [cur[b], cur[a]];
        } else if (cur !== null && typeof cur === 'object') (cur as Record<string, unknown>)[randomString(rng, 10) || 'extra'] = randomJson(rng, 2);
        break;
      case 7: {
        // Graft a node or connection from another document.
        const other = rng.pick(corpus).doc as { metadata?: { nodes?: unknown[]; connections?: unknown[] } };
        const pool = [...(other.metadata?.nodes ?? []), ...(other.metadata?.connections ?? [])];
        if (Array.isArray(cur) && pool.length > 0) cur.push(structuredClone(rng.pick(pool)));
        break;
      }
      case 8:
        // Many nodes: the import's cost on size.
        if (Array.isArray(cur) && cur.length > 0 && rng.chance(0.2)) for (let i = 0, n = rng.int(10, 300); i < n; i++) cur.push(structuredClone(rng.pick(cur)));
        break;
      default:
        (parent as Record<string | number, unknown>)[key] = rng.pick([null, undefined, [], {}, '', 'null']);
    }
  }
  return doc;
}

export interface ChainFuzzState {
  world: World;
  api: RestClient;
  /** Chains imported (200) into the current tenant. */
  chainIds: string[];
  /** Chains of deleted tenants that the runtime still held right after the delete. */
  leftLoaded: number;
  deletedTenants: number;
}

export async function fuzzRuleChains(fx: FuzzSystem, rng: Rng, from: number, to: number, concurrency = 4, state?: ChainFuzzState): Promise<{ report: TargetReport; state: ChainFuzzState }> {
  const outcomes: Record<string, number> = {};
  const kinds: Record<string, number> = {};
  const findings: Record<string, Finding> = {};
  const corpus = ruleChainCorpus();
  if (corpus.length === 0) throw new Error(`no rule-chain exports found in ${EXAMPLES_DIR}`);
  const nodeTypes = [...new Set(corpus.flatMap((c) => ((c.doc as { metadata?: { nodes?: { type?: string }[] } }).metadata?.nodes ?? []).map((n) => String(n.type))))];
  const registry = builtinRegistry();
  const st: ChainFuzzState = state ?? { world: fx.world, api: fx.api, chainIds: [], leftLoaded: 0, deletedTenants: 0 };
  let rotating: Promise<void> | undefined;
  // A tenant holds at most ~40 imported chains (each import reloads the tenant's chains); then it
  // is deleted through the API and a fresh one takes its place.
  const rotate = async () => {
    const old = st;
    const oldWorld = old.world;
    const oldChains = [...old.chainIds];
    const world = await seedInto(fx.system, { devices: 1, prefix: `fzc${old.deletedTenants}` });
    const api = new RestClient(fx.api.base);
    await api.login(world.adminEmail);
    st.world = world;
    st.api = api;
    st.chainIds = [];
    if (oldWorld !== fx.world) {
      const del = await fx.sysadmin.call('DELETE', `/api/tenant/${oldWorld.tenantId}`);
      if (del.status !== 200) find(findings, `DELETE /api/tenant answered ${del.status}`, del.text.slice(0, 100));
      st.deletedTenants++;
      st.leftLoaded += oldChains.filter((id) => fx.system.runtime.hasChain(id)).length;
    }
  };
  await pool(from, to, concurrency, async (i) => {
    const r = rng.fork(i);
    const src = r.pick(corpus);
    const doc = mutateChain(r, src.doc, corpus, nodeTypes);
    const root = r.chance(0.1);
    bump(kinds, `mutated ${src.name}${root ? ' (as root)' : ''}`.replace(/\.json/, ''));
    let importerOk: boolean;
    try {
      importerOk = importChain(doc, { source: 'fuzz', registry }).ok;
      bump(outcomes, importerOk ? 'importer: ok' : 'importer: issues');
    } catch (e) {
      importerOk = false;
      bump(outcomes, 'importer: THREW');
      find(findings, 'the importer threw (instead of returning its issues)', `case ${i} (${src.name}): ${printable((e as Error).message.slice(0, 120))}`);
    }
    await rotating;
    const api = st.api;
    const res = await api.call('POST', `/api/ruleChain/import${root ? '?root=true' : ''}`, JSON.stringify(doc) ?? 'null', { raw: true, timeoutMs: 30_000 });
    bump(outcomes, `REST ${res.status === 0 ? (res.hung ? 'no answer in 30 s' : 'connection failed') : res.status}`);
    if (res.status === 200) {
      const id = (res.json as { id?: { id?: string } } | undefined)?.id?.id;
      if (id) st.chainIds.push(id);
      if (!importerOk) {
        bump(outcomes, 'REST accepted what the importer refused');
        find(findings, 'POST /api/ruleChain/import accepted a document the importer refuses', `case ${i} (${src.name})`);
      }
      if (root) {
        // Run the mutated chain: a device message through it.
        const token = (st.world.devices[0] as World['devices'][number]).token;
        const post = await api.call('POST', `/api/v1/${token}/telemetry`, { t: i }, { timeoutMs: 10_000 });
        bump(outcomes, `telemetry through it: ${post.status}`);
      }
      if (st.chainIds.length >= 40 && !rotating) {
        rotating = rotate().finally(() => (rotating = undefined));
      }
    } else if (res.status !== 400 && res.status !== 413) {
      find(findings, `POST /api/ruleChain/import answered ${res.status === 0 ? (res.hung ? 'nothing within 30 s' : 'with a broken connection') : res.status}`, `case ${i} (${src.name}): ${printable(res.text.slice(0, 160)) || res.error || ''}`);
    }
  });
  await rotating;
  return { report: { inputs: to - from, outcomes, kinds, findings, notes: [] }, state: st };
}

/** Deletes the fuzz tenant still in use (so its chains count in the leak check) and tells how many stayed loaded. */
export async function finishRuleChains(fx: FuzzSystem, st: ChainFuzzState): Promise<{ leftLoaded: number; deletedTenants: number; problems: string[] }> {
  const problems: string[] = [];
  if (st.world !== fx.world) {
    const ids = [...st.chainIds];
    const del = await fx.sysadmin.call('DELETE', `/api/tenant/${st.world.tenantId}`);
    if (del.status !== 200) problems.push(`DELETE /api/tenant: ${del.status}`);
    st.deletedTenants++;
    st.leftLoaded += ids.filter((id) => fx.system.runtime.hasChain(id)).length;
    st.world = fx.world;
    st.api = fx.api;
    st.chainIds = [];
  }
  return { leftLoaded: st.leftLoaded, deletedTenants: st.deletedTenants, problems };
}
