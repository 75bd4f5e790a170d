// One running API per test file: a throw-away redis-server, the real Store, the chain runtime
// with the script sandbox, the real rule-engine producer (and, on request, a consumer that
// records what reaches the rule engine), and the app listening on a free port.
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import pino from 'pino';
import { buildApiApp, type ApiDeps } from '../../../src/api/app.js';
import type { ApiSettings } from '../../../src/api/api-settings.js';
import { createJwtService } from '../../../src/api/auth/create-jwt-service.js';
import type { JwtService } from '../../../src/api/auth/jwt.js';
import { createNodeServices } from '../../../src/engine/node-services.js';
import { ChainRuntime } from '../../../src/engine/runtime.js';
import { createScriptEngine } from '../../../src/engine/script/index.js';
import type { ScriptEngine } from '../../../src/engine/script/script-api.js';
import type { TbMsg } from '../../../src/msg/tb-msg.js';
import { builtinRegistry } from '../../../src/nodes/index.js';
import { parseQueueConfig } from '../../../src/queue/queue-config.js';
import { RuleEngineConsumer, RuleEngineProducer } from '../../../src/queue/index.js';
import { TenantChains } from '../../../src/rule-engine/tenant-chains.js';
import type { Customer } from '../../../src/store/customers.js';
import type { Device } from '../../../src/store/devices.js';
import { Store } from '../../../src/store/store.js';
import type { Tenant } from '../../../src/store/tenants.js';
import type { User } from '../../../src/store/users.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';

export const PASSWORD = 'secret-Pa55';

/** One small queue, so a test consumer starts quickly. */
const QUEUES = [
  parseQueueConfig({
    name: 'Main',
    topic: 'tb_rule_engine.main',
    partitions: 1,
    packProcessingTimeout: 2000,
    submitStrategy: { type: 'BURST', batchSize: 100 },
    processingStrategy: { type: 'SKIP_ALL_FAILURES', retries: 0, failurePercentage: 0, pauseBetweenRetries: 0.05, maxPauseBetweenRetries: 0.05 },
  }),
];

/** Two tenants; A has two customers, a user of each kind and three devices. */
export interface World {
  readonly sysadmin: User;
  readonly tenantA: Tenant;
  readonly adminA: User;
  readonly customerA1: Customer;
  readonly customerA2: Customer;
  readonly userA1: User;
  /** Of customerA1 */
  readonly deviceA1: Device;
  /** Of customerA2 */
  readonly deviceA2: Device;
  /** Unassigned */
  readonly deviceA3: Device;
  readonly tenantB: Tenant;
  readonly adminB: User;
  readonly deviceB1: Device;
}

export interface ApiFixture {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly jwt: JwtService;
  readonly world: World;
  readonly redis: TestRedis;
  /** Messages the consumer took off the rule-engine queue (with `consume: true`). */
  readonly received: TbMsg[];
  readonly deps: ApiDeps;
  /** Logs in and returns the access token. */
  login(user: User | string, password?: string): Promise<string>;
  call(method: string, path: string, opts?: CallOptions): Promise<ApiResponse>;
  close(): Promise<void>;
}

export interface CallOptions {
  readonly token?: string;
  /** JSON-encoded unless a string. */
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** Parsed JSON, or undefined when the body is empty or not JSON. */
  readonly json: unknown;
}

export interface FixtureOptions {
  readonly settings?: Partial<ApiSettings>;
  readonly consume?: boolean;
  readonly extra?: Partial<Pick<ApiDeps, 'plugins' | 'onSharedAttributesChanged' | 'onSharedAttributesDeleted' | 'defaultRootChain'>>;
}

export async function startApi(opts: FixtureOptions = {}): Promise<ApiFixture> {
  const redis = await startTestRedis();
  const connection = new Redis(redis.url);
  const store = new Store(connection);
  const logger = pino({ level: process.env.API_TEST_LOG ?? 'silent' });
  const scripts: ScriptEngine = createScriptEngine({ timeoutMs: 500, memoryLimitMb: 32 });
  const runtime = new ChainRuntime({ services: { ...createNodeServices(logger, scripts), store }, maxNodeExecutionsPerMessage: 50 });
  const chains = new TenantChains(store, runtime, builtinRegistry(), { info() {}, warn() {} });
  const producer = new RuleEngineProducer({ redisUrl: redis.url, queues: QUEUES });
  const received: TbMsg[] = [];
  let consumer: RuleEngineConsumer | undefined;
  if (opts.consume) {
    consumer = new RuleEngineConsumer({
      redisUrl: redis.url,
      queues: QUEUES,
      logger: { info() {}, warn() {} },
      handler: async (msg) => {
        received.push(msg);
        return { status: 'success', nodeExecutions: 0 };
      },
    });
    await consumer.start();
  }
  const jwt = await createJwtService(store, opts.settings);
  const deps: ApiDeps = {
    store,
    chains,
    jwt,
    toRuleEngine: (msg) => producer.send(msg),
    logger,
    ...(opts.settings ? { settings: opts.settings } : {}),
    ...opts.extra,
  };
  const app = buildApiApp(deps);
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const world = await seed(store);

  const call = async (method: string, path: string, o: CallOptions = {}): Promise<ApiResponse> => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token !== undefined) headers['x-authorization'] = `Bearer ${o.token}`;
    let body: string | undefined;
    if (o.body !== undefined) {
      body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${address}${path}`, { method, headers, body });
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  };

  return {
    url: address,
    app,
    store,
    jwt,
    world,
    redis,
    received,
    deps,
    call,
    async login(user, password = PASSWORD) {
      const username = typeof user === 'string' ? user : user.email;
      const res = await call('POST', '/api/auth/login', { body: { username, password } });
      if (res.status !== 200) throw new Error(`login of ${username} failed: ${res.status} ${res.text}`);
      return (res.json as { token: string }).token;
    },
    async close() {
      await app.close();
      await consumer?.close();
      await producer.close();
      await runtime.close();
      scripts.dispose();
      connection.disconnect();
      await redis.stop();
    },
  };
}

async function seed(store: Store): Promise<World> {
  const sysadmin = await store.users.create({ email: 'sysadmin@thingsboard.org', authority: 'SYS_ADMIN', password: PASSWORD });
  const tenantA = await store.tenants.create({ title: 'Tenant A' });
  await store.deviceProfiles.create(tenantA.id.id, { name: 'default', default: true });
  const customerA1 = await store.customers.create(tenantA.id.id, { title: 'Customer A1' });
  const customerA2 = await store.customers.create(tenantA.id.id, { title: 'Customer A2' });
  const adminA = await store.users.create({ email: 'admin@a.example', authority: 'TENANT_ADMIN', tenantId: tenantA.id.id, password: PASSWORD, firstName: 'Ada' });
  const userA1 = await store.users.create({
    email: 'user@a1.example',
    authority: 'CUSTOMER_USER',
    tenantId: tenantA.id.id,
    customerId: customerA1.id.id,
    password: PASSWORD,
  });
  const deviceA1 = await store.devices.create(tenantA.id.id, { name: 'A1 thermostat', type: 'default', customerId: customerA1.id.id });
  const deviceA2 = await store.devices.create(tenantA.id.id, { name: 'A2 valve', type: 'default', customerId: customerA2.id.id });
  const deviceA3 = await store.devices.create(tenantA.id.id, { name: 'A3 spare', type: 'default' });
  const tenantB = await store.tenants.create({ title: 'Tenant B' });
  const adminB = await store.users.create({ email: 'admin@b.example', authority: 'TENANT_ADMIN', tenantId: tenantB.id.id, password: PASSWORD });
  const deviceB1 = await store.devices.create(tenantB.id.id, { name: 'B1 meter', type: 'default' });
  return { sysadmin, tenantA, adminA, customerA1, customerA2, userA1, deviceA1, deviceA2, deviceA3, tenantB, adminB, deviceB1 };
}

/** Checks the ThingsBoard error envelope and returns it. */
export function envelopeOf(res: ApiResponse): { status: number; message: string; errorCode: number; timestamp: number; [k: string]: unknown } {
  const body = res.json as { status: number; message: string; errorCode: number; timestamp: number };
  if (typeof body !== 'object' || body === null) throw new Error(`not a JSON envelope: ${res.status} ${res.text}`);
  if (body.status !== res.status) throw new Error(`envelope status ${body.status} != HTTP ${res.status}`);
  if (typeof body.timestamp !== 'number' || typeof body.errorCode !== 'number' || typeof body.message !== 'string') {
    throw new Error(`incomplete envelope: ${res.text}`);
  }
  return body;
}

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
