// A scale-out deployment for tests: rpc-chains role processes (scripts/cluster/processes.ts, each a
// real `rpc-chains start`) on one Redis or Redis Cluster, one tenant seeded through the store and the
// REST API, MQTT and HTTP devices, and a REST caller that can target any api process.
//
// Order: the api processes start first; the tenant, its admin and its devices are written through
// the store, the shipped root chain is imported through api-1's REST API; then the transport and
// rule-engine processes start (the rule engines load the chain at start).
import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { expect } from 'chai';
import mqtt, { type MqttClient } from 'mqtt';
import { SHIPPED_ROOT_CHAIN } from '../../src/app/demo.js';
import { createRedisClient, type RedisClient } from '../../src/redis/connection.js';
import { RpcKeys } from '../../src/rpc/rpc-keys.js';
import { Store } from '../../src/store/store.js';
import { startProcesses, stopProcesses, type ClusterLayout, type RoleProcess } from '../../scripts/cluster/processes.js';

export const PASSWORD = 'scale-Pa55word';

export interface ScaleWorldOptions {
  readonly redisUrl: string;
  readonly layout: Required<Pick<ClusterLayout, 'api' | 'transport' | 'ruleEngine'>>;
  /** Devices of the tenant (tokens SCALE_DEV_<i>); default 8. */
  readonly devices?: number;
  /** Environment of every process. */
  readonly env?: Readonly<Record<string, string>>;
  /** Child log level (their lines go to this process' stderr at warn and above); default 'error'. */
  readonly logLevel?: string;
}

export interface RestAnswer {
  readonly status: number;
  readonly text: string;
  readonly json: unknown;
}

export interface ScaleWorld {
  readonly redisUrl: string;
  readonly store: Store;
  readonly redis: RedisClient;
  readonly processes: RoleProcess[];
  readonly tenantId: string;
  readonly deviceIds: readonly string[];
  readonly tokens: readonly string[];
  /** A tenant admin's JWT (valid on every api process: the signing key is in Redis). */
  readonly jwt: string;
  proc(name: string): RoleProcess;
  /** A REST call to an api process (as the tenant admin unless `token` is given). */
  rest(p: RoleProcess, method: string, path: string, body?: unknown, opts?: { token?: string | null; timeoutMs?: number }): Promise<RestAnswer>;
  /** Which service owns a device's RPC state now (the lease), or null. */
  rpcOwnerOf(deviceId: string): Promise<string | null>;
  close(): Promise<void>;
}

export async function startScaleWorld(opts: ScaleWorldOptions): Promise<ScaleWorld> {
  const redis = createRedisClient(opts.redisUrl, { role: 'client', connectionName: 'scale-test', logger: { warn: () => undefined } });
  const store = new Store(redis);
  const processes: RoleProcess[] = [];
  const onLine = (name: string, line: string) => {
    // The children log at opts.logLevel; show what they say, for diagnosis.
    process.stderr.write(`    [${name}] ${line}\n`);
  };
  const common = { redisUrl: opts.redisUrl, logLevel: opts.logLevel ?? 'error', env: { RPC_RECOVERY_INTERVAL_MS: '1000', MIN_SERVER_SIDE_RPC_TIMEOUT: '1000', ...opts.env }, onLine };
  try {
    processes.push(...(await startProcesses({ api: opts.layout.api }, common)));

    const tenant = await store.tenants.create({ title: 'Scale tenant' });
    const tenantId = tenant.id.id;
    await store.deviceProfiles.create(tenantId, { name: 'default', default: true });
    const admin = await store.users.create({ email: 'admin@scale.example', authority: 'TENANT_ADMIN', tenantId, password: PASSWORD });
    const deviceIds: string[] = [];
    const tokens: string[] = [];
    for (let i = 0; i < (opts.devices ?? 8); i++) {
      const d = await store.devices.create(tenantId, { name: `Scale device ${i}`, type: 'default' });
      const token = `SCALE_DEV_${i}`;
      await store.credentials.save(tenantId, d.id.id, token);
      deviceIds.push(d.id.id);
      tokens.push(token);
    }

    let jwt = '';
    const rest: ScaleWorld['rest'] = async (p, method, path, body, o = {}) => {
      if (p.httpPort === null || !p.roles.includes('api')) throw new Error(`${p.name} serves no REST API`);
      const headers: Record<string, string> = {};
      const token = o.token === undefined ? jwt : o.token;
      if (token !== null) headers['x-authorization'] = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`http://${p.host}:${p.httpPort}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        signal: AbortSignal.timeout(o.timeoutMs ?? 30_000),
      });
      const text = await res.text();
      let json: unknown;
      try {
        json = text === '' ? undefined : (JSON.parse(text) as unknown);
      } catch {
        json = undefined;
      }
      return { status: res.status, text, json };
    };
    const login = await rest(processes[0], 'POST', '/api/auth/login', { username: admin.email, password: PASSWORD }, { token: null });
    expect(login.status, login.text).to.equal(200);
    jwt = (login.json as { token: string }).token;
    const chain = JSON.parse(await readFile(SHIPPED_ROOT_CHAIN, 'utf8')) as unknown;
    const imported = await rest(processes[0], 'POST', '/api/ruleChain/import?root=true', chain);
    expect(imported.status, imported.text).to.equal(200);

    processes.push(...(await startProcesses({ transport: opts.layout.transport, ruleEngine: opts.layout.ruleEngine }, common)));

    const keys = new RpcKeys(store.keys.prefix);
    return {
      redisUrl: opts.redisUrl,
      store,
      redis,
      processes,
      tenantId,
      deviceIds,
      tokens,
      jwt,
      proc(name) {
        const p = processes.find((x) => x.name === name);
        if (!p) throw new Error(`no process ${name}`);
        return p;
      },
      rest,
      rpcOwnerOf: (deviceId) => redis.get(keys.owner(deviceId)),
      async close() {
        await stopProcesses(processes, 5000);
        redis.disconnect();
      },
    };
  } catch (e) {
    await stopProcesses(processes, 3000);
    redis.disconnect();
    throw e;
  }
}

/** An MQTT device (MQTT.js with TCP_NODELAY) on a transport process: answers commands, sends telemetry and client-side requests. */
export interface TestDevice {
  readonly client: MqttClient;
  readonly token: string;
  /** Commands received: request id → {method, params}. */
  readonly commands: { id: number; method: string; params: unknown }[];
  /** Resolves when the connection closes (e.g. a newer session took over, or the transport died). */
  readonly closed: Promise<void>;
  /** QoS 1 telemetry; resolves on PUBACK (the transport acknowledged it), rejects after `timeoutMs`. */
  telemetry(values: Record<string, unknown>, ts?: number, timeoutMs?: number): Promise<void>;
  /** A client-side RPC; resolves with the response payload text. */
  clientRpc(method: string, params: unknown, timeoutMs?: number): Promise<string>;
  end(): Promise<void>;
}

export interface DeviceBehaviour {
  /** The reply to a command (undefined: stays silent). Default {"ok":true,"method":...}. */
  readonly answer?: (method: string, params: unknown) => string | undefined;
  /** Delay before answering, ms (default 0). */
  readonly delayMs?: number;
  /** Subscribe to commands (default true). */
  readonly subscribe?: boolean;
}

let clientRpcSeq = 1;

export async function connectDevice(transport: RoleProcess, token: string, behaviour: DeviceBehaviour = {}): Promise<TestDevice> {
  if (transport.mqttPort === null) throw new Error(`${transport.name} has no MQTT port`);
  const client = await mqtt.connectAsync(`mqtt://${transport.host}:${transport.mqttPort}`, {
    username: token,
    clientId: `${token}-${Math.random().toString(36).slice(2, 8)}`,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    keepalive: 30,
  });
  (client.stream as Socket).setNoDelay(true);
  client.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  const commands: TestDevice['commands'] = [];
  const responses = new Map<string, (payload: string) => void>();
  const answer = behaviour.answer ?? ((method: string) => JSON.stringify({ ok: true, method }));
  client.on('message', (topic, payload) => {
    if (topic.startsWith('v1/devices/me/rpc/request/')) {
      const id = Number(topic.slice('v1/devices/me/rpc/request/'.length));
      const { method, params } = JSON.parse(payload.toString()) as { method: string; params: unknown };
      commands.push({ id, method, params });
      const reply = answer(method, params);
      if (reply === undefined) return;
      const send = () => {
        if (client.connected) client.publish(`v1/devices/me/rpc/response/${id}`, reply, { qos: 1 });
      };
      if ((behaviour.delayMs ?? 0) > 0) setTimeout(send, behaviour.delayMs);
      else setImmediate(send);
    } else if (topic.startsWith('v1/devices/me/rpc/response/')) {
      responses.get(topic.slice('v1/devices/me/rpc/response/'.length))?.(payload.toString());
    }
  });
  const topics = ['v1/devices/me/rpc/response/+'];
  if (behaviour.subscribe !== false) topics.push('v1/devices/me/rpc/request/+');
  await client.subscribeAsync(topics, { qos: 1 });
  const withTimeout = <T>(p: Promise<T>, ms: number, what: string) =>
    new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
      p.then(
        (v) => (clearTimeout(t), resolve(v)),
        (e: unknown) => (clearTimeout(t), reject(e instanceof Error ? e : new Error(String(e)))),
      );
    });
  return {
    client,
    token,
    commands,
    closed,
    telemetry(values, ts, timeoutMs = 5000) {
      const body = ts === undefined ? values : { ts, values };
      return withTimeout(client.publishAsync('v1/devices/me/telemetry', JSON.stringify(body), { qos: 1 }).then(() => undefined), timeoutMs, 'telemetry');
    },
    clientRpc(method, params, timeoutMs = 10_000) {
      const id = String(clientRpcSeq++);
      const reply = new Promise<string>((resolve) => responses.set(id, resolve));
      client.publish(`v1/devices/me/rpc/request/${id}`, JSON.stringify({ method, params }), { qos: 1 });
      return withTimeout(reply, timeoutMs, `client-side RPC ${method}`).finally(() => responses.delete(id));
    },
    async end() {
      await client.endAsync(true).catch(() => undefined);
    },
  };
}

/** Polls `cond` until it holds; fails naming `what` after `timeoutMs`. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 50): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
