// The Node-RED side of scripts/bench/pipeline.ts: the `node-red` package embedded in this process
// (no editor, no HTTP), running a flow equivalent to the benchmark's root chain:
//   switch on msg.type → function "save time series"
// The function either writes what TbMsgTimeseriesNode writes (history ZADD per key, latest HSET,
// key-set SADD, in one MULTI like the node's one Lua call) to Redis with ioredis, or keeps it in a
// Map (Node-RED's own in-memory way, nothing durable). Messages go in through the switch node's
// receive(), as an input node would send them; a message counts once the function node calls done().
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';

/** A message as a Node-RED input node would make it from a device's telemetry. */
export interface NodeRedMsg {
  /** The telemetry JSON text, as the device sent it (TbMsg.data). */
  payload: string;
  type: string;
  originator: string;
  metadata: Record<string, string>;
  _seq?: number;
}

/** Where the flow keeps its data: Redis (durable with AOF) or a Map in this process. */
export type NodeRedStore = { readonly kind: 'redis'; readonly redis: Redis } | { readonly kind: 'memory' };

export interface NodeRedFlow {
  /** Puts a message into the flow; resolves when the save node is done with it. */
  send(msg: NodeRedMsg): Promise<void>;
  /** Messages the save node finished, errors included. */
  readonly completed: number;
  readonly errors: number;
  /** Redis key of a device's history of `key`, as the flow writes it. */
  historyKey(deviceId: string, key: string): string;
  /** Points kept in memory (memory store only). */
  memoryPoints(): number;
  stop(): Promise<void>;
}

// The part of node-red's API used here (the package ships no types).
interface NodeRedNode {
  receive(msg: object): void;
}
interface CompleteEvent {
  readonly msg: { _seq?: number };
  readonly node: { readonly id: string };
  readonly error?: unknown;
}
interface NodeRedApi {
  init(settings: Record<string, unknown>): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly events: { once(event: string, listener: () => void): void };
  readonly hooks: { add(name: string, hook: (event: CompleteEvent) => void): void; remove(name: string): void };
  readonly nodes: { getNode(id: string): NodeRedNode | null };
}

// Same key shape as the store's ({<type>:<id>} tag per entity), under another prefix.
const SAVE_TO_REDIS = `
const values = JSON.parse(msg.payload);
const ts = Number(msg.metadata.ts);
const tag = 'nr:{DEVICE:' + msg.originator + '}:ts';
const tx = global.get('redis').multi();
const latest = [];
const keys = Object.keys(values);
for (const key of keys) {
    const encoded = ts + ':' + JSON.stringify(values[key]);
    tx.zadd(tag + ':' + key, ts, encoded);
    latest.push(key, encoded);
}
tx.hset(tag + ':latest', latest);
tx.sadd(tag + ':keys', keys);
tx.exec().then(() => { node.send(msg); node.done(); }, (err) => node.done(err));
return null;`;

const SAVE_TO_MEMORY = `
const values = JSON.parse(msg.payload);
const ts = Number(msg.metadata.ts);
const store = global.get('memory');
let device = store.get(msg.originator);
if (!device) { device = { latest: {}, history: {} }; store.set(msg.originator, device); }
for (const key of Object.keys(values)) {
    const encoded = ts + ':' + JSON.stringify(values[key]);
    (device.history[key] ??= []).push(encoded);
    device.latest[key] = encoded;
}
node.send(msg);
node.done();
return null;`;

function flow(store: NodeRedStore['kind']): object[] {
  return [
    { id: 'bench-tab', type: 'tab', label: 'rpc-chains benchmark' },
    {
      id: 'type-switch',
      type: 'switch',
      z: 'bench-tab',
      name: 'message type switch',
      property: 'type',
      propertyType: 'msg',
      // Like TbMsgTypeSwitchNode: one output per type (the first match wins), only telemetry wired.
      rules: [
        { t: 'eq', v: 'POST_TELEMETRY_REQUEST', vt: 'str' },
        { t: 'eq', v: 'POST_ATTRIBUTES_REQUEST', vt: 'str' },
        { t: 'else' },
      ],
      checkall: 'false',
      repair: false,
      outputs: 3,
      wires: [['save-ts'], [], []],
    },
    {
      id: 'save-ts',
      type: 'function',
      z: 'bench-tab',
      name: 'save time series',
      func: store === 'redis' ? SAVE_TO_REDIS : SAVE_TO_MEMORY,
      outputs: 1,
      timeout: 0,
      noerr: 0,
      initialize: '',
      finalize: '',
      libs: [],
      wires: [[]],
    },
  ];
}

/** Starts Node-RED with the flow; only once per process (Node-RED's runtime is a singleton). */
export async function startNodeRedFlow(store: NodeRedStore): Promise<NodeRedFlow> {
  const userDir = await mkdtemp(join(tmpdir(), 'rc-bench-node-red-'));
  await writeFile(join(userDir, 'flows.json'), JSON.stringify(flow(store.kind)));
  const RED = createRequire(import.meta.url)('node-red') as NodeRedApi;
  const memory = new Map<string, { latest: Record<string, string>; history: Record<string, string[]> }>();
  RED.init({
    userDir,
    flowFile: 'flows.json',
    credentialSecret: false,
    httpAdminRoot: false,
    httpNodeRoot: false,
    disableEditor: true,
    externalModules: { autoInstall: false },
    logging: { console: { level: 'warn', metrics: false, audit: false } },
    functionGlobalContext: store.kind === 'redis' ? { redis: store.redis } : { memory },
  });
  const started = new Promise<void>((resolve) => RED.events.once('flows:started', resolve));
  await RED.start();
  await started;
  const entry = RED.nodes.getNode('type-switch');
  if (!entry) throw new Error('Node-RED did not start the benchmark flow');

  const waiting = new Map<number, () => void>();
  let seq = 0;
  let completed = 0;
  let errors = 0;
  RED.hooks.add('onComplete.rcBench', (event) => {
    if (event.node.id !== 'save-ts') return;
    completed++;
    if (event.error !== undefined) errors++;
    const s = event.msg._seq;
    if (s === undefined) return;
    waiting.get(s)?.();
    waiting.delete(s);
  });

  return {
    send(msg) {
      const s = seq++;
      return new Promise<void>((resolve) => {
        waiting.set(s, resolve);
        msg._seq = s; // the messages are made for one run: no copy
        entry.receive(msg);
      });
    },
    get completed() {
      return completed;
    },
    get errors() {
      return errors;
    },
    historyKey: (deviceId, key) => `nr:{DEVICE:${deviceId}}:ts:${key}`,
    memoryPoints() {
      let n = 0;
      for (const d of memory.values()) for (const h of Object.values(d.history)) n += h.length;
      return n;
    },
    async stop() {
      RED.hooks.remove('onComplete.rcBench');
      await RED.stop();
      await rm(userDir, { recursive: true, force: true });
    },
  };
}
