// The RPC path end to end, in one process, with nothing faked: a throw-away redis-server, the Store,
// the rule-engine queues (producer + consumer), the chain runtime running the shipped root chain
// (which uses both RPC nodes), the device RPC service, the MQTT transport and the REST API with the
// RPC routes and the HTTP device API. Wired as the composition root should wire them (src/rpc/README.md, "Wiring").
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import pino from 'pino';
import { buildApiApp } from '../../../src/api/app.js';
import { createJwtService } from '../../../src/api/auth/create-jwt-service.js';
import { rpcApiPlugin } from '../../../src/api/routes/rpc.js';
import { SHIPPED_ROOT_CHAIN } from '../../../src/app/demo.js';
import type { NodeServices, RuleNodeDefinition } from '../../../src/engine/node-api.js';
import { NodeRegistry } from '../../../src/engine/registry.js';
import { ChainRuntime } from '../../../src/engine/runtime.js';
import { createScriptEngine } from '../../../src/engine/script/index.js';
import type { TbMsg } from '../../../src/msg/tb-msg.js';
import { TbSendRPCReplyNode } from '../../../src/nodes/action/TbSendRPCReplyNode.js';
import { TbSendRPCRequestNode } from '../../../src/nodes/action/TbSendRPCRequestNode.js';
import { BUILTIN_NODES } from '../../../src/nodes/index.js';
import { parseQueueConfig } from '../../../src/queue/queue-config.js';
import { RuleEngineConsumer, RuleEngineProducer, ServiceBus } from '../../../src/queue/index.js';
import { TenantChains } from '../../../src/rule-engine/tenant-chains.js';
import { DeviceRpcService } from '../../../src/rpc/device-rpc-service.js';
import { RestRpcCalls } from '../../../src/rpc/rest-rpc.js';
import type { RpcSettings } from '../../../src/rpc/rpc-settings.js';
import type { Device } from '../../../src/store/devices.js';
import { Store } from '../../../src/store/store.js';
import type { Tenant } from '../../../src/store/tenants.js';
import type { User } from '../../../src/store/users.js';
import { DeviceAuth } from '../../../src/transport/device-auth.js';
import { httpDeviceApi } from '../../../src/transport/http/http-device-api.js';
import { MqttTransport } from '../../../src/transport/mqtt/mqtt-transport.js';
import { SessionRegistry } from '../../../src/transport/session-registry.js';
import { DEFAULT_TRANSPORT_LIMITS, type TransportContext } from '../../../src/transport/transport-api.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';

export const PASSWORD = 'secret-Pa55';
export const TOKEN_A = 'RPC_E2E_DEVICE_A';
export const TOKEN_B = 'RPC_E2E_DEVICE_B';

const QUEUES = [
  parseQueueConfig({
    name: 'Main',
    topic: 'tb_rule_engine.main',
    partitions: 2,
    packProcessingTimeout: 5000,
    submitStrategy: { type: 'BURST', batchSize: 100 },
    processingStrategy: { type: 'SKIP_ALL_FAILURES', retries: 0, failurePercentage: 0, pauseBetweenRetries: 0.05, maxPauseBetweenRetries: 0.05 },
  }),
];

export interface RpcWorld {
  readonly sysadmin: User;
  readonly tenant: Tenant;
  readonly admin: User;
  readonly customerUser: User;
  /** Of the customer; token TOKEN_A. */
  readonly deviceA: Device;
  /** Unassigned; token TOKEN_B. */
  readonly deviceB: Device;
}

export interface ApiAnswer {
  readonly status: number;
  readonly contentType: string | null;
  readonly text: string;
  readonly json: unknown;
}

export interface RpcSystem {
  readonly apiUrl: string;
  readonly mqttPort: number;
  readonly store: Store;
  readonly rpc: DeviceRpcService;
  readonly chains: TenantChains;
  readonly world: RpcWorld;
  /** Every message the rule engine took off the queue, in order. */
  readonly processed: TbMsg[];
  login(user: User): Promise<string>;
  call(method: string, path: string, opts?: { token?: string; body?: unknown; contentType?: string }): Promise<ApiAnswer>;
  close(): Promise<void>;
}

/** The RPC nodes with the built-in ones (until src/nodes/index.ts lists them). */
function registry(): NodeRegistry {
  const defs: RuleNodeDefinition<unknown>[] = [...BUILTIN_NODES];
  for (const d of [TbSendRPCRequestNode, TbSendRPCReplyNode] as RuleNodeDefinition<unknown>[]) if (!defs.some((x) => x.type === d.type)) defs.push(d);
  return new NodeRegistry(defs);
}

export async function startRpcSystem(opts: { settings?: Partial<RpcSettings>; serviceId?: string } = {}): Promise<RpcSystem> {
  const stops: (() => unknown)[] = [];
  const server: TestRedis = await startTestRedis();
  stops.push(() => server.stop());
  try {
    const redis = new Redis(server.url);
    stops.push(() => redis.disconnect());
    const store = new Store(redis);
    const logger = pino({ level: process.env.RPC_TEST_LOG ?? 'silent' });
    const quiet = { info: (t: string) => logger.info(t), warn: (t: string) => logger.warn(t), error: (t: string) => logger.error(t), debug: (t: string) => logger.debug(t) };

    const bus = new ServiceBus({ redisUrl: server.url, serviceId: opts.serviceId ?? 'rpc-e2e', logger: quiet });
    await bus.start();
    stops.push(() => bus.close());
    const producer = new RuleEngineProducer({ redis, queues: QUEUES });
    stops.push(() => producer.close());
    const toRuleEngine = (msg: TbMsg) => producer.send(msg);
    const sessions = new SessionRegistry({ redis, bus, logger: quiet });
    stops.push(() => sessions.dispose());

    const rpc = new DeviceRpcService({ redis, bus, sessions, toRuleEngine, store, settings: { recoveryIntervalMs: 0, ...opts.settings }, logger: quiet });
    await rpc.start();
    stops.push(() => rpc.close());

    const scripts = createScriptEngine({ timeoutMs: 1000, memoryLimitMb: 32 });
    stops.push(() => scripts.dispose());
    const services: NodeServices & { rpc: DeviceRpcService } = {
      scripts,
      store,
      serviceId: bus.serviceId,
      logger: quiet,
      now: () => Date.now(),
      rpc,
    };
    const runtime = new ChainRuntime({
      services,
      maxNodeExecutionsPerMessage: 100,
      // Wiring: a message queued to continue later keeps its client-side request open (beyond #6).
      enqueue: async (msg) => {
        await rpc.noteClientRpcContinuation(msg);
        await producer.send(msg);
      },
    });
    stops.push(() => runtime.close());
    const chains = new TenantChains(store, runtime, registry(), quiet);

    const processed: TbMsg[] = [];
    const consumer = new RuleEngineConsumer({
      redisUrl: server.url,
      queues: QUEUES,
      consumerId: bus.serviceId,
      logger: quiet,
      handler: (msg, ctx) => {
        processed.push(msg);
        const outcome = runtime.process(msg, { onAck: ctx.onAck });
        // Wiring: when the message's processing has ended, answer a client-side request nobody answered.
        void outcome.then(() => rpc.answerUnrepliedClientRpc(msg));
        return outcome;
      },
    });
    await consumer.start();
    stops.push(() => consumer.close());

    const transportCtx: TransportContext = { serviceId: bus.serviceId, store, toRuleEngine, rpc, limits: DEFAULT_TRANSPORT_LIMITS, logger: quiet };
    const auth = new DeviceAuth(store);
    const mqtt = new MqttTransport(transportCtx, { port: 0, host: '127.0.0.1', sessions, auth });
    const mqttPort = await mqtt.start();
    stops.push(() => mqtt.close());

    const world = await seed(store);
    await chains.importChain(world.tenant.id.id, JSON.parse(await readFile(SHIPPED_ROOT_CHAIN, 'utf8')) as unknown, { root: true });

    const calls = new RestRpcCalls(bus, toRuleEngine);
    stops.push(() => calls.close());
    const jwt = await createJwtService(store);
    const app: FastifyInstance = buildApiApp({
      store,
      chains,
      jwt,
      toRuleEngine,
      logger,
      plugins: [rpcApiPlugin({ store, rpc, calls, settings: opts.settings }), { plugin: httpDeviceApi(transportCtx, { sessions, auth }), name: 'HTTP device API' }],
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    stops.push(() => app.close());
    const apiUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

    const call: RpcSystem['call'] = async (method, path, o = {}) => {
      const headers: Record<string, string> = {};
      if (o.token !== undefined) headers['x-authorization'] = `Bearer ${o.token}`;
      let body: string | undefined;
      if (o.body !== undefined) {
        body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
        headers['content-type'] = o.contentType ?? 'application/json';
      }
      const res = await fetch(`${apiUrl}${path}`, { method, headers, body });
      const text = await res.text();
      let json: unknown;
      try {
        json = text === '' ? undefined : (JSON.parse(text) as unknown);
      } catch {
        json = undefined;
      }
      return { status: res.status, contentType: res.headers.get('content-type'), text, json };
    };

    return {
      apiUrl,
      mqttPort,
      store,
      rpc,
      chains,
      world,
      processed,
      call,
      async login(user) {
        const res = await call('POST', '/api/auth/login', { body: { username: user.email, password: PASSWORD } });
        if (res.status !== 200) throw new Error(`login of ${user.email}: ${res.status} ${res.text}`);
        return (res.json as { token: string }).token;
      },
      async close() {
        for (const fn of stops.reverse()) await fn();
      },
    };
  } catch (e) {
    for (const fn of stops.reverse()) await fn();
    throw e;
  }
}

async function seed(store: Store): Promise<RpcWorld> {
  const sysadmin = await store.users.create({ email: 'sysadmin@rpc.example', authority: 'SYS_ADMIN', password: PASSWORD });
  const tenant = await store.tenants.create({ title: 'RPC tenant' });
  const tenantId = tenant.id.id;
  await store.deviceProfiles.create(tenantId, { name: 'default', default: true });
  const customer = await store.customers.create(tenantId, { title: 'RPC customer' });
  const other = await store.customers.create(tenantId, { title: 'Other customer' });
  const admin = await store.users.create({ email: 'admin@rpc.example', authority: 'TENANT_ADMIN', tenantId, password: PASSWORD });
  const customerUser = await store.users.create({ email: 'user@rpc.example', authority: 'CUSTOMER_USER', tenantId, customerId: other.id.id, password: PASSWORD });
  const deviceA = await store.devices.create(tenantId, { name: 'Controller A', type: 'default', customerId: customer.id.id });
  const deviceB = await store.devices.create(tenantId, { name: 'Thermostat B', type: 'default' });
  await store.credentials.save(tenantId, deviceA.id.id, TOKEN_A);
  await store.credentials.save(tenantId, deviceB.id.id, TOKEN_B);
  return { sysadmin, tenant, admin, customerUser, deviceA, deviceB };
}
