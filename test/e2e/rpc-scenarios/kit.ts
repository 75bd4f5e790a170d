// What the RPC scenario tests share: the real system (startSystem) on a throw-away redis-server
// with RPC settings from environment variables, a seeded tenant, the REST API through fetch, a
// root chain that records every RPC_<STATUS> event as telemetry, and real device clients
// (MQTT.js, node-coap, fetch). Nothing is mocked.
import { readFile } from 'node:fs/promises';
import { createSocket } from 'node:dgram';
import type { Socket as NetSocket } from 'node:net';
import { expect } from 'chai';
import { Agent, request as coapRequest, type IncomingMessage, type ObserveReadStream } from 'coap';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import pino from 'pino';
import { SHIPPED_ROOT_CHAIN } from '../../../src/app/demo.js';
import { startSystem, type RunningSystem } from '../../../src/app/system.js';
import type { Settings } from '../../../src/config/settings.js';
import type { Store } from '../../../src/store/store.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { testSettings } from '../../helpers/test-settings.js';

export const PASSWORD = 'scenario-Pa55';

// ---- small things -----------------------------------------------------------------------------

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 25): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Sets environment variables while `fn` runs (startSystem reads the RPC settings from them), then puts them back. */
export async function withEnv<T>(env: Readonly<Record<string, string>>, fn: () => Promise<T>): Promise<T> {
  const saved = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries(env)) {
    saved.set(k, process.env[k]);
    process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

// ---- the REST API -----------------------------------------------------------------------------

export interface ApiAnswer {
  readonly status: number;
  readonly contentType: string | null;
  readonly text: string;
  /** The body parsed as JSON; undefined when empty or not JSON. */
  readonly json: unknown;
}

export interface CallOptions {
  readonly token?: string;
  readonly body?: unknown;
  readonly contentType?: string;
}

export class RestClient {
  constructor(readonly baseUrl: string) {}

  async call(method: string, path: string, o: CallOptions = {}): Promise<ApiAnswer> {
    const headers: Record<string, string> = {};
    if (o.token !== undefined) headers['x-authorization'] = `Bearer ${o.token}`;
    let body: string | undefined;
    if (o.body !== undefined) {
      body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
      headers['content-type'] = o.contentType ?? 'application/json';
    }
    const res = await fetch(`${this.baseUrl}${path}`, { method, headers, body });
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch {
      json = undefined;
    }
    return { status: res.status, contentType: res.headers.get('content-type'), text, json };
  }

  async login(email: string, password = PASSWORD): Promise<string> {
    const res = await this.call('POST', '/api/auth/login', { body: { username: email, password } });
    if (res.status !== 200 || !isRecord(res.json) || typeof res.json.token !== 'string') throw new Error(`login of ${email}: ${res.status} ${res.text}`);
    return res.json.token;
  }
}

export type ApiVersion = 'v1' | 'v2';
export const VERSIONS: readonly ApiVersion[] = ['v1', 'v2'];

/** `/api/plugins/rpc/{kind}/{id}` (v1) or `/api/rpc/{kind}/{id}` (v2). */
export function rpcPath(version: ApiVersion, kind: 'oneway' | 'twoway', deviceId: string): string {
  return `${version === 'v1' ? '/api/plugins/rpc' : '/api/rpc'}/${kind}/${deviceId}`;
}

/** The status of a lightweight RPC that timed out (§2.5): v1 408, v2 504. */
export const timeoutStatus = (v: ApiVersion): number => (v === 'v1' ? 408 : 504);
/** … and of one that never reached the device: v1 409, v2 504. */
export const noConnectionStatus = (v: ApiVersion): number => (v === 'v1' ? 409 : 504);

// ---- the world --------------------------------------------------------------------------------

export interface World {
  readonly tenantId: string;
  readonly customerId: string;
  readonly adminEmail: string;
  readonly customerUserEmail: string;
  readonly sysadminEmail: string;
}

let seq = 0;

/** A tenant with a default device profile, its admin, a customer, a user of another customer, and a sysadmin. */
export async function seedWorld(store: Store): Promise<World> {
  const n = ++seq;
  const sysadminEmail = `sysadmin${n}@scenario.example`;
  await store.users.create({ email: sysadminEmail, authority: 'SYS_ADMIN', password: PASSWORD });
  const tenant = await store.tenants.create({ title: `Scenario tenant ${n}` });
  const tenantId = tenant.id.id;
  await store.deviceProfiles.create(tenantId, { name: 'default', default: true });
  const customer = await store.customers.create(tenantId, { title: 'Scenario customer' });
  const other = await store.customers.create(tenantId, { title: 'Other customer' });
  const adminEmail = `admin${n}@scenario.example`;
  await store.users.create({ email: adminEmail, authority: 'TENANT_ADMIN', tenantId, password: PASSWORD });
  const customerUserEmail = `user${n}@scenario.example`;
  await store.users.create({ email: customerUserEmail, authority: 'CUSTOMER_USER', tenantId, customerId: other.id.id, password: PASSWORD });
  return { tenantId, customerId: customer.id.id, adminEmail, customerUserEmail, sysadminEmail };
}

export interface TestDevice {
  readonly id: string;
  readonly token: string;
  readonly name: string;
}

/** A device of the world's customer, with a fresh access token. */
export async function addDevice(store: Store, world: World, name: string): Promise<TestDevice> {
  const device = await store.devices.create(world.tenantId, { name, type: 'default', customerId: world.customerId });
  const token = `SCN_${name.replace(/\W+/g, '_').toUpperCase()}_${Math.random().toString(36).slice(2, 8)}`;
  await store.credentials.save(world.tenantId, device.id.id, token);
  return { id: device.id.id, token, name };
}

// ---- root chains ------------------------------------------------------------------------------

interface ChainNode {
  type: string;
  name: string;
  [key: string]: unknown;
}
interface ChainDoc {
  ruleChain: Record<string, unknown>;
  metadata: { firstNodeIndex: number | null; nodes: ChainNode[]; connections: { fromIndex: number; toIndex: number; type: string }[]; [key: string]: unknown };
}

export const RPC_EVENT_RELATIONS = ['RPC Queued', 'RPC Sent', 'RPC Delivered', 'RPC Successful', 'RPC Timeout', 'RPC Expired', 'RPC Failed', 'RPC Deleted'] as const;
export const RPC_STATUSES = ['QUEUED', 'SENT', 'DELIVERED', 'SUCCESSFUL', 'TIMEOUT', 'EXPIRED', 'FAILED', 'DELETED'] as const;
export type RpcStatusName = (typeof RPC_STATUSES)[number];

/**
 * The shipped root chain (RPC call request, getCurrentTime reply …) plus a recorder: the switch's
 * "RPC Queued" … "RPC Deleted" links go to a script that turns the event into the telemetry
 * `{"rpcev_<STATUS>_<rpcId>": "<STATUS>"}`, saved at the event's own time (msg ts). Reading those
 * keys back through the REST API gives every RPC_* event the rule engine processed.
 */
export async function eventRecordingRootChain(): Promise<ChainDoc> {
  const doc = JSON.parse(await readFile(SHIPPED_ROOT_CHAIN, 'utf8')) as ChainDoc;
  doc.ruleChain.name = 'Root Rule Chain with RPC event recorder';
  const nodes = doc.metadata.nodes;
  const switchIndex = nodes.findIndex((n) => n.type.endsWith('.TbMsgTypeSwitchNode'));
  if (switchIndex < 0) throw new Error('the shipped root chain has no message type switch');
  const script =
    "var values = {};\nvalues['rpcev_' + msg.status + '_' + msg.id.id] = msg.status;\nreturn {msg: values, metadata: metadata, msgType: 'POST_TELEMETRY_REQUEST'};";
  nodes.push({
    type: 'org.thingsboard.rule.engine.transform.TbTransformMsgNode',
    name: 'RPC event as telemetry',
    configuration: { scriptLang: 'JS', jsScript: script, tbelScript: script },
    debugMode: false,
    additionalInfo: { layoutX: 0, layoutY: 0 },
  });
  const transform = nodes.length - 1;
  nodes.push({
    type: 'org.thingsboard.rule.engine.telemetry.TbMsgTimeseriesNode',
    name: 'Save RPC event',
    configuration: { defaultTTL: 0, useServerTs: false, processingSettings: { type: 'ON_EVERY_MESSAGE' } },
    configurationVersion: 1,
    debugMode: false,
    additionalInfo: { layoutX: 0, layoutY: 0 },
  });
  const save = nodes.length - 1;
  for (const type of RPC_EVENT_RELATIONS) doc.metadata.connections.push({ fromIndex: switchIndex, toIndex: transform, type });
  doc.metadata.connections.push({ fromIndex: transform, toIndex: save, type: 'Success' });
  return doc;
}

/** POST /api/ruleChain/import, then POST /api/ruleChain/{id}/root; returns the chain id. */
export async function importRootChain(api: RestClient, jwt: string, doc: unknown): Promise<string> {
  const imported = await api.call('POST', '/api/ruleChain/import', { token: jwt, body: doc });
  if (imported.status !== 200 || !isRecord(imported.json) || !isRecord(imported.json.id) || typeof imported.json.id.id !== 'string') {
    throw new Error(`import: ${imported.status} ${imported.text.slice(0, 2000)}`);
  }
  const chainId = imported.json.id.id;
  const root = await api.call('POST', `/api/ruleChain/${chainId}/root`, { token: jwt });
  expect(root.status, `set root: ${root.text}`).to.equal(200);
  expect(root.json).to.deep.include({ root: true });
  return chainId;
}

// ---- persistent RPCs: the REST view and the events ------------------------------------------

export interface StoredRpcView {
  readonly status: string;
  readonly response: unknown;
  readonly json: Record<string, unknown>;
}

export async function getRpc(api: RestClient, jwt: string, rpcId: string): Promise<StoredRpcView> {
  const res = await api.call('GET', `/api/rpc/persistent/${rpcId}`, { token: jwt });
  if (res.status !== 200 || !isRecord(res.json)) throw new Error(`GET /api/rpc/persistent/${rpcId}: ${res.status} ${res.text}`);
  return { status: String(res.json.status), response: res.json.response, json: res.json };
}

export async function waitForStatus(api: RestClient, jwt: string, rpcId: string, status: string, timeoutMs = 10_000): Promise<StoredRpcView> {
  let last = '';
  await waitFor(
    `RPC ${rpcId} to be ${status}`,
    async () => {
      last = (await getRpc(api, jwt, rpcId)).status;
      return last === status;
    },
    timeoutMs,
  ).catch((e: Error) => {
    throw new Error(`${e.message} (last seen ${last})`);
  });
  return getRpc(api, jwt, rpcId);
}

/** Takes `rpcId` from a persistent RPC's 200 `{"rpcId"}`. */
export function rpcIdOf(res: ApiAnswer): string {
  expect(res.status, res.text).to.equal(200);
  if (!isRecord(res.json) || typeof res.json.rpcId !== 'string') throw new Error(`not {"rpcId"}: ${res.text}`);
  expect(Object.keys(res.json)).to.deep.equal(['rpcId']);
  return res.json.rpcId;
}

const RANK: Record<string, number> = Object.fromEntries(RPC_STATUSES.map((s, i) => [s, i]));

/**
 * The RPC_* events of `rpcId` the rule engine recorded (eventRecordingRootChain), oldest first: the
 * history of every `rpcev_<STATUS>_<rpcId>` key, ordered by the event time. Events of the same
 * millisecond are put in lifecycle order.
 */
export async function rpcEvents(api: RestClient, jwt: string, deviceId: string, rpcId: string): Promise<RpcStatusName[]> {
  const keys = RPC_STATUSES.map((s) => `rpcev_${s}_${rpcId}`);
  const res = await api.call('GET', `/api/plugins/telemetry/DEVICE/${deviceId}/values/timeseries?keys=${keys.join(',')}&startTs=0&endTs=${Date.now() + 3_600_000}&limit=100&orderBy=ASC`, { token: jwt });
  if (res.status !== 200 || !isRecord(res.json)) throw new Error(`timeseries: ${res.status} ${res.text}`);
  const points: { ts: number; status: RpcStatusName }[] = [];
  for (const status of RPC_STATUSES) {
    const series = res.json[`rpcev_${status}_${rpcId}`];
    if (!Array.isArray(series)) continue;
    for (const p of series as unknown[]) {
      if (isRecord(p) && typeof p.ts === 'number') points.push({ ts: p.ts, status });
    }
  }
  points.sort((a, b) => a.ts - b.ts || (RANK[a.status] ?? 0) - (RANK[b.status] ?? 0));
  return points.map((p) => p.status);
}

/** Waits until the recorded events of `rpcId` are exactly `expected` (and stay so briefly). */
export async function expectEvents(api: RestClient, jwt: string, deviceId: string, rpcId: string, expected: readonly RpcStatusName[], timeoutMs = 10_000): Promise<void> {
  let last: RpcStatusName[] = [];
  await waitFor(
    `events ${expected.join(',')} of ${rpcId}`,
    async () => {
      last = await rpcEvents(api, jwt, deviceId, rpcId);
      return last.length >= expected.length;
    },
    timeoutMs,
  ).catch((e: Error) => {
    throw new Error(`${e.message}; recorded: ${last.join(',')}`);
  });
  await sleep(100);
  expect(await rpcEvents(api, jwt, deviceId, rpcId), 'RPC_* events recorded by the root chain').to.deep.equal([...expected]);
}

// ---- the system -------------------------------------------------------------------------------

export interface ScenarioSystem {
  readonly redis: TestRedis;
  readonly system: RunningSystem;
  readonly api: RestClient;
  readonly world: World;
  /** JWT of the tenant admin. */
  readonly admin: string;
  readonly mqttPort: number;
  readonly coapPort: number;
  device(name: string): Promise<TestDevice>;
  close(): Promise<void>;
}

export interface ScenarioOptions {
  /** RPC settings as environment variables (src/rpc/README.md). */
  readonly env?: Readonly<Record<string, string>>;
  readonly settings?: Partial<Settings>;
  /** Root chain of the tenant (imported through the REST API); default eventRecordingRootChain(). */
  readonly rootChain?: unknown;
}

/** Defaults for every scenario system: short REST floor so bodies can say `timeout: 1000`. */
export const FAST_ENV: Readonly<Record<string, string>> = {
  MIN_SERVER_SIDE_RPC_TIMEOUT: '500',
  RPC_RETRY_BACKOFF_MS: '100',
  RPC_RETRY_BACKOFF_MAX_MS: '200',
  RPC_RECOVERY_INTERVAL_MS: '500',
};

export async function startScenarioSystem(opts: ScenarioOptions = {}): Promise<ScenarioSystem> {
  const redis = await startTestRedis();
  let system: RunningSystem | undefined;
  try {
    const started = await withEnv({ ...FAST_ENV, ...opts.env }, () => startSystem(testSettings(opts.settings), redis.url, pino({ level: 'silent' })));
    system = started;
    if (started.httpPort === null || started.mqttPort === null || started.coapPort === null) throw new Error('the system runs without api or transport');
    const api = new RestClient(`http://127.0.0.1:${started.httpPort}`);
    const world = await seedWorld(started.store);
    const admin = await api.login(world.adminEmail);
    await importRootChain(api, admin, opts.rootChain ?? (await eventRecordingRootChain()));
    return {
      redis,
      system: started,
      api,
      world,
      admin,
      mqttPort: started.mqttPort,
      coapPort: started.coapPort,
      device: (name) => addDevice(started.store, world, name),
      async close() {
        await started.stop();
        await redis.stop();
      },
    };
  } catch (e) {
    await system?.stop();
    await redis.stop();
    throw e;
  }
}

// ---- MQTT devices (MQTT.js) -------------------------------------------------------------------

export interface MqttCommand {
  readonly topic: string;
  readonly requestId: number;
  readonly method: string;
  readonly params: unknown;
  readonly qos: number;
}

function parseCommand(topic: string, payload: Buffer, qos: number): MqttCommand {
  const body = JSON.parse(payload.toString()) as { method: string; params: unknown };
  return { topic, requestId: Number(topic.slice(topic.lastIndexOf('/') + 1)), method: body.method, params: body.params, qos };
}

/** Connects with MQTT.js (no reconnects), TCP_NODELAY on its socket. */
export async function mqttConnect(port: number, token: string, opts: IClientOptions = {}): Promise<MqttClient> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { username: token, reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  (client.stream as unknown as NetSocket).setNoDelay?.(true);
  return client;
}

export interface MqttDevice {
  readonly client: MqttClient;
  /** Commands received, in order. */
  readonly commands: MqttCommand[];
  /** Publishes the reply to command `requestId`. */
  reply(requestId: number, payload: string): Promise<void>;
  end(): Promise<void>;
}

/**
 * A device that subscribes to `v1/devices/me/rpc/request/+` with `qos` and, when `answer` gives a
 * text, replies with it after `delayMs` (MQTT.js PUBACKs a command only after its handlers ran,
 * so a delay keeps the reply behind the PUBACK as a real device's would be).
 */
export async function mqttDevice(port: number, token: string, opts: { qos?: 0 | 1; answer?: (c: MqttCommand) => string | undefined; delayMs?: number } = {}): Promise<MqttDevice> {
  const client = await mqttConnect(port, token);
  const commands: MqttCommand[] = [];
  const reply = async (requestId: number, payload: string) => {
    await client.publishAsync(`v1/devices/me/rpc/response/${requestId}`, payload, { qos: 1 });
  };
  client.on('message', (topic, payload, packet) => {
    if (!topic.startsWith('v1/devices/me/rpc/request/')) return;
    const c = parseCommand(topic, payload, packet.qos);
    commands.push(c);
    const text = opts.answer?.(c);
    if (text !== undefined) setTimeout(() => void reply(c.requestId, text).catch(() => undefined), opts.delayMs ?? 30);
  });
  await client.subscribeAsync('v1/devices/me/rpc/request/+', { qos: opts.qos ?? 1 });
  return { client, commands, reply, end: () => client.endAsync(true) };
}

/** A command whose PUBACK the device holds back until `release()`. */
export interface HeldCommand extends MqttCommand {
  /** Sends the PUBACK (and lets MQTT.js read the next packet). */
  release(): void;
}

export interface GatedDevice {
  readonly client: MqttClient;
  /** Commands received; MQTT.js reads no further packet until the last one is released. */
  readonly held: HeldCommand[];
  /** Reason codes of the DISCONNECT packets the server sent (MQTT 5). */
  readonly disconnects: number[];
  reply(requestId: number, payload: string): Promise<void>;
  end(): Promise<void>;
}

/**
 * An MQTT 5 device that acknowledges commands only when told: `mode: 'hold'` keeps each PUBACK
 * until release() (MQTT.js's customHandleAcks); `mode: 'never'` never sends one but goes on
 * reading (a device stuck on its acknowledgements: the server sees a delivery timeout).
 */
export async function gatedDevice(port: number, token: string, mode: 'hold' | 'never'): Promise<GatedDevice> {
  const held: HeldCommand[] = [];
  const disconnects: number[] = [];
  const client = await mqttConnect(port, token, {
    protocolVersion: 5,
    customHandleAcks: (topic, message, packet, done) => {
      if (!topic.startsWith('v1/devices/me/rpc/request/')) return done(0);
      const c = parseCommand(topic, message, packet.qos);
      if (mode === 'never') {
        held.push({ ...c, release: () => undefined });
        // An error instead of a reason code: MQTT.js sends no PUBACK and reads on.
        done(new Error('stuck device: no PUBACK'));
        return;
      }
      held.push({ ...c, release: () => done(0) });
    },
  });
  client.on('error', () => undefined); // the 'never' mode reports each unacknowledged command as an error
  client.on('disconnect', (packet) => disconnects.push(packet.reasonCode ?? 0));
  await client.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });
  return {
    client,
    held,
    disconnects,
    reply: async (requestId, payload) => {
      await client.publishAsync(`v1/devices/me/rpc/response/${requestId}`, payload, { qos: 1 });
    },
    end: () => client.endAsync(true),
  };
}

// ---- CoAP devices (node-coap) -----------------------------------------------------------------

export interface CoapAnswer {
  readonly code: string;
  readonly text: string;
}

/** A CoAP request from a socket of its own. */
export function coapCall(port: number, method: 'GET' | 'POST', path: string, payload?: string): Promise<CoapAnswer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const agent = new Agent({ type: 'udp4', socket });
    const req = coapRequest({ hostname: '127.0.0.1', port, method, pathname: path, confirmable: true, agent });
    req.on('response', (res: IncomingMessage) => {
      resolve({ code: res.code, text: res.payload.toString() });
      agent.close();
    });
    req.on('error', (e: Error) => {
      agent.close();
      reject(e);
    });
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

export interface CoapObserveOptions {
  /** CON (default) or NON observe request: the notifications are of the same type. */
  readonly confirmable?: boolean;
  /** Keep the device's ACKs of CON notifications until releaseAcks() (node-coap acknowledges at once). */
  readonly holdAcks?: boolean;
}

export interface CoapObserver {
  /** The answer to the observe request (2.03). */
  readonly first: CoapAnswer;
  /** Commands that came as notifications. */
  readonly commands: { id: number; method: string; params: unknown }[];
  /** Sends the ACKs held so far (holdAcks). */
  releaseAcks(): void;
  close(): void;
}

/** GET /api/v1/{token}/rpc with Observe=0; collects the command notifications. */
export function coapObserve(port: number, token: string, opts: CoapObserveOptions = {}): Promise<CoapObserver> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const heldAcks: (() => void)[] = [];
    if (opts.holdAcks) {
      // node-coap answers a CON notification with an empty ACK (4 bytes, type 2): held back here.
      const send = socket.send.bind(socket) as (...args: unknown[]) => void;
      (socket as unknown as { send: (...args: unknown[]) => void }).send = (...args: unknown[]) => {
        const [datagram] = args;
        const emptyAck = Buffer.isBuffer(datagram) && datagram.length === 4 && (datagram[0] ?? 0) >> 4 === 0x6;
        if (!emptyAck) return send(...args);
        heldAcks.push(() => send(...args));
      };
    }
    const agent = new Agent({ type: 'udp4', socket });
    const req = coapRequest({ hostname: '127.0.0.1', port, method: 'GET', pathname: `/api/v1/${token}/rpc`, observe: true, confirmable: opts.confirmable ?? true, agent });
    req.on('response', (res: ObserveReadStream) => {
      const commands: CoapObserver['commands'] = [];
      let first = true;
      res.on('data', (chunk: Buffer) => {
        if (first) return void (first = false); // the observe answer itself
        if (chunk.length === 0) return;
        commands.push(JSON.parse(chunk.toString()) as { id: number; method: string; params: unknown });
      });
      resolve({
        first: { code: res.code, text: res.payload.toString() },
        commands,
        releaseAcks: () => {
          for (const ack of heldAcks.splice(0)) ack();
        },
        close: () => {
          res.close();
          agent.close();
        },
      });
    });
    req.on('error', reject);
    req.end();
  });
}

// ---- HTTP devices (fetch) ---------------------------------------------------------------------

/** GET /api/v1/{token}/rpc?timeout=: the long poll. */
export async function httpPoll(api: RestClient, token: string, timeoutMs: number): Promise<ApiAnswer> {
  return api.call('GET', `/api/v1/${token}/rpc?timeout=${timeoutMs}`);
}

/** POST /api/v1/{token}/rpc/{id}: the device's reply. */
export async function httpReply(api: RestClient, token: string, requestId: number, payload: string): Promise<ApiAnswer> {
  return api.call('POST', `/api/v1/${token}/rpc/${requestId}`, { body: payload });
}
