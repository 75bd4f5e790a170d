// The dashboard against the real system, in one process, as the composition root wires it: a
// throw-away Redis, the Store, the rule-engine queues (producer + consumer) running the chains with
// tracing on, the device RPC service, the MQTT transport, the REST API with the RPC routes and the
// dashboard plugin; devices are the project's simulator over MQTT. And Debian's Chromium driven by
// playwright-core.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import pino from 'pino';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { Subject } from 'rxjs';
import { buildApiApp } from '../../../src/api/app.js';
import { createJwtService } from '../../../src/api/auth/create-jwt-service.js';
import type { JwtService } from '../../../src/api/auth/jwt.js';
import { dashboardPlugin } from '../../../src/api/routes/dashboard.js';
import { rpcApiPlugin } from '../../../src/api/routes/rpc.js';
import { SHIPPED_ROOT_CHAIN } from '../../../src/app/demo.js';
import { sessionsOf } from '../../../src/dashboard/live-events.js';
import type { NodeServices } from '../../../src/engine/node-api.js';
import { ChainRuntime } from '../../../src/engine/runtime.js';
import { createScriptEngine } from '../../../src/engine/script/index.js';
import { newMsg, type TbMsg } from '../../../src/msg/tb-msg.js';
import { builtinRegistry } from '../../../src/nodes/index.js';
import { parseQueueConfig } from '../../../src/queue/queue-config.js';
import { RuleEngineConsumer, RuleEngineProducer, ServiceBus } from '../../../src/queue/index.js';
import { TenantChains } from '../../../src/rule-engine/tenant-chains.js';
import { DeviceRpcService } from '../../../src/rpc/device-rpc-service.js';
import { RestRpcCalls } from '../../../src/rpc/rest-rpc.js';
import { runSimulator, type Simulator } from '../../../src/simulator/index.js';
import type { DeviceState } from '../../../src/simulator/behaviour.js';
import type { Customer } from '../../../src/store/customers.js';
import type { Device } from '../../../src/store/devices.js';
import { Store } from '../../../src/store/store.js';
import type { Tenant } from '../../../src/store/tenants.js';
import type { User } from '../../../src/store/users.js';
import { DeviceAuth } from '../../../src/transport/device-auth.js';
import { MqttTransport } from '../../../src/transport/mqtt/mqtt-transport.js';
import { SessionRegistry } from '../../../src/transport/session-registry.js';
import { DEFAULT_TRANSPORT_LIMITS, type TransportContext } from '../../../src/transport/transport-api.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';

export const PASSWORD = 'dashboard-Pa55';
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = fileURLToPath(new URL('../../artifacts/', import.meta.url));
export const DESKTOP = { width: 1280, height: 800 } as const;
export const PHONE = { width: 390, height: 844 } as const;

/** One small queue, so the consumer starts quickly. */
const QUEUES = [
  parseQueueConfig({
    name: 'Main',
    topic: 'tb_rule_engine.main',
    partitions: 1,
    packProcessingTimeout: 5000,
    submitStrategy: { type: 'BURST', batchSize: 100 },
    processingStrategy: { type: 'SKIP_ALL_FAILURES', retries: 0, failurePercentage: 0, pauseBetweenRetries: 0.05, maxPauseBetweenRetries: 0.05 },
  }),
];

export interface World {
  readonly tenant: Tenant;
  readonly admin: User;
  readonly customer: Customer;
  readonly customerUser: User;
  /** Of the customer; a simulator connects it at start. */
  readonly boiler: Device;
  /** Never connected. */
  readonly greenhouse: Device;
  /** Twelve more, for search and paging. */
  readonly sensors: readonly Device[];
  readonly otherTenant: Tenant;
  readonly otherAdmin: User;
  readonly otherDevice: Device;
}

export interface DashboardFixture {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly jwt: JwtService;
  readonly chains: TenantChains;
  readonly world: World;
  /** Connects a device with the simulator (MQTT); closing it disconnects the device. */
  connect(device: Device, initialState?: Partial<DeviceState>): Promise<Simulator>;
  /** The simulator of a connected device. */
  simulator(device: Device): Simulator | undefined;
  disconnect(device: Device): Promise<void>;
  /** Puts a device message on the rule-engine queue, as a transport does; resolves once the chain ran it. */
  deviceMessage(device: Device, type: string, data: unknown): Promise<void>;
  close(): Promise<void>;
}

export interface FixtureOptions {
  /** Import the shipped root chain (RPC call request/reply) as the tenant's root. Default true. */
  readonly shippedRoot?: boolean;
}

export async function startDashboard(opts: FixtureOptions = {}): Promise<DashboardFixture> {
  const stops: (() => unknown)[] = [];
  const stopAll = async () => {
    for (const fn of stops.splice(0).reverse()) await fn();
  };
  const server: TestRedis = await startTestRedis();
  stops.push(() => server.stop());
  try {
    const redis = new Redis(server.url);
    stops.push(() => redis.disconnect());
    const store = new Store(redis);
    const logger = pino({ level: process.env.API_TEST_LOG ?? 'silent' });
    const quiet = { info: (t: string) => logger.info(t), warn: (t: string) => logger.warn(t), error: (t: string) => logger.error(t), debug: (t: string) => logger.debug(t) };

    const bus = new ServiceBus({ redisUrl: server.url, serviceId: 'dashboard-e2e', logger: quiet });
    await bus.start();
    stops.push(() => bus.close());
    const producer = new RuleEngineProducer({ redis, queues: QUEUES });
    stops.push(() => producer.close());
    const toRuleEngine = (msg: TbMsg) => producer.send(msg);
    const sessions = new SessionRegistry({ redis, bus, logger: quiet });
    stops.push(() => sessions.dispose());

    // The dashboard's RPC status stream: the RPC_* events the RPC service queues, seen on their way.
    const rpcEvents = new Subject<TbMsg>();
    const rpc = new DeviceRpcService({
      redis,
      bus,
      sessions,
      store,
      logger: quiet,
      // A short minimum timeout: offline devices answer 504 in a test's time, not after 5 s.
      settings: { recoveryIntervalMs: 0, restMinTimeoutMs: 500 },
      toRuleEngine: async (msg) => {
        if (msg.type.startsWith('RPC_')) rpcEvents.next(msg);
        await producer.send(msg);
      },
    });
    await rpc.start();
    stops.push(() => rpc.close());

    const scripts = createScriptEngine({ timeoutMs: 1000, memoryLimitMb: 32 });
    stops.push(() => scripts.dispose());
    const services: NodeServices = { scripts, store, serviceId: bus.serviceId, logger: quiet, now: () => Date.now(), rpc };
    const runtime = new ChainRuntime({ services, maxNodeExecutionsPerMessage: 100, enqueue: toRuleEngine });
    runtime.trace.enabled = true;
    stops.push(() => runtime.close());
    const chains = new TenantChains(store, runtime, builtinRegistry(), quiet);

    const ran = new Map<string, () => void>();
    const consumer = new RuleEngineConsumer({
      redisUrl: server.url,
      queues: QUEUES,
      consumerId: bus.serviceId,
      logger: quiet,
      handler: (msg, ctx) => {
        const outcome = runtime.process(msg, { onAck: ctx.onAck });
        void outcome.then(() => ran.get(msg.id)?.());
        return outcome;
      },
    });
    await consumer.start();
    stops.push(() => consumer.close());

    const transportCtx: TransportContext = { serviceId: bus.serviceId, store, toRuleEngine, rpc, limits: DEFAULT_TRANSPORT_LIMITS, logger: quiet };
    const mqtt = new MqttTransport(transportCtx, { port: 0, host: '127.0.0.1', sessions, auth: new DeviceAuth(store) });
    const mqttPort = await mqtt.start();
    stops.push(() => mqtt.close());

    const calls = new RestRpcCalls(bus, toRuleEngine);
    stops.push(() => calls.close());
    const jwt = await createJwtService(store);
    const app = buildApiApp({
      store,
      chains,
      jwt,
      toRuleEngine,
      logger,
      plugins: [
        rpcApiPlugin({ store, rpc, calls, settings: { restMinTimeoutMs: 500 } }),
        {
          name: 'dashboard',
          plugin: dashboardPlugin({ trace$: runtime.trace.events$, rpcEvents$: rpcEvents, sessions: sessionsOf(sessions), store, connectionPollMs: 150, rebuildOnChange: false }),
        },
      ],
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    stops.push(() => app.close());
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

    const world = await seed(store);
    if (opts.shippedRoot ?? true) await chains.importChain(world.tenant.id.id, JSON.parse(await readFile(SHIPPED_ROOT_CHAIN, 'utf8')) as unknown, { root: true });

    const simulators = new Map<string, Simulator>();
    stops.push(async () => {
      for (const sim of simulators.values()) await sim.close();
    });
    const tokenOf = async (device: Device) => (await store.credentials.findByDeviceId(device.tenantId.id, device.id.id))?.credentialsId as string;
    const waitConnected = async (device: Device, connected: boolean) => {
      const deadline = Date.now() + 5000;
      while (((await sessions.locateAll(device.id.id)).length > 0) !== connected) {
        if (Date.now() > deadline) throw new Error(`${device.name} did not ${connected ? 'connect' : 'disconnect'}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const fixture: DashboardFixture = {
      url,
      app,
      store,
      jwt,
      chains,
      world,
      async connect(device, initialState) {
        const sim = await runSimulator({ token: await tokenOf(device), protocol: 'mqtt', port: mqttPort, print: () => {}, initialState });
        simulators.set(device.id.id, sim);
        await waitConnected(device, true);
        return sim;
      },
      simulator: (device) => simulators.get(device.id.id),
      async disconnect(device) {
        await simulators.get(device.id.id)?.close();
        simulators.delete(device.id.id);
        await waitConnected(device, false);
      },
      async deviceMessage(device, type, data) {
        const msg = newMsg({
          type,
          originator: { entityType: 'DEVICE', id: device.id.id },
          tenantId: device.tenantId.id,
          customerId: device.customerId.id,
          data: JSON.stringify(data),
          metaData: { deviceName: device.name, deviceType: device.type },
        });
        const done = new Promise<void>((resolve) => ran.set(msg.id, resolve));
        await toRuleEngine(msg);
        await done;
        ran.delete(msg.id);
      },
      close: stopAll,
    };
    await fixture.connect(world.boiler);
    return fixture;
  } catch (e) {
    await stopAll();
    throw e;
  }
}

async function seed(store: Store): Promise<World> {
  const tenant = await store.tenants.create({ title: 'Acme Greenhouses' });
  await store.deviceProfiles.create(tenant.id.id, { name: 'default', default: true });
  const admin = await store.users.create({ email: 'admin@acme.example', authority: 'TENANT_ADMIN', tenantId: tenant.id.id, password: PASSWORD, firstName: 'Ada' });
  const customer = await store.customers.create(tenant.id.id, { title: 'North Farm' });
  const customerUser = await store.users.create({ email: 'user@north.example', authority: 'CUSTOMER_USER', tenantId: tenant.id.id, customerId: customer.id.id, password: PASSWORD });
  const sensors: Device[] = [];
  // A few ms apart: the list is sorted by createdTime (ms), newest first.
  const tick = () => new Promise((r) => setTimeout(r, 3));
  for (let i = 1; i <= 12; i++) {
    sensors.push(await store.devices.create(tenant.id.id, { name: `Sensor ${String(i).padStart(2, '0')}`, type: 'default', label: 'row A' }));
    await tick();
  }
  const greenhouse = await store.devices.create(tenant.id.id, { name: 'Greenhouse vent', type: 'default' });
  await tick();
  const boiler = await store.devices.create(tenant.id.id, { name: 'Boiler', type: 'default', label: 'basement', customerId: customer.id.id });
  for (const d of [...sensors, greenhouse, boiler]) await store.credentials.save(tenant.id.id, d.id.id);
  const otherTenant = await store.tenants.create({ title: 'Other tenant' });
  await store.deviceProfiles.create(otherTenant.id.id, { name: 'default', default: true });
  const otherAdmin = await store.users.create({ email: 'admin@other.example', authority: 'TENANT_ADMIN', tenantId: otherTenant.id.id, password: PASSWORD });
  const otherDevice = await store.devices.create(otherTenant.id.id, { name: 'Foreign meter', type: 'default' });
  return { tenant, admin, customer, customerUser, boiler, greenhouse, sensors, otherTenant, otherAdmin, otherDevice };
}

// --- browser ------------------------------------------------------------------------------------

export function chromiumMissingReason(): string | null {
  return existsSync(CHROMIUM) ? null : `${CHROMIUM} is missing (Debian: apt-get install chromium)`;
}

export interface Browser {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console errors and failed requests the page saw (a test asserts there are none). */
  readonly problems: string[];
  close(): Promise<void>;
}

export async function openBrowser(viewport: { width: number; height: number } = DESKTOP): Promise<Browser> {
  const userDataDir = await mkdtemp(join(tmpdir(), 'rpc-chains-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('console', (m) => {
    // Failed HTTP calls are part of the tests (401, 504, ...): the page shows them itself.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return {
    context,
    page,
    problems,
    async close() {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

export async function signIn(page: Page, url: string, email: string, password = PASSWORD): Promise<void> {
  await page.goto(`${url}/`);
  await page.fill('input[name=username]', email);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('header.top .user-email');
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `dashboard-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Widest element overflow: 0 when nothing makes the page scroll sideways. */
export async function horizontalOverflow(page: Page): Promise<{ overflow: number; culprits: string[] }> {
  // A string, not a function: the root tsconfig has no DOM types.
  return page.evaluate(`(() => {
    const width = document.documentElement.clientWidth;
    const culprits = [];
    for (const el of document.querySelectorAll('body *')) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > width + 1 && !el.closest('.zoom-box.actual')) {
        culprits.push((el.tagName.toLowerCase()) + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : '') + ' right=' + Math.round(r.right));
      }
    }
    return { overflow: document.documentElement.scrollWidth - width, culprits: culprits.slice(0, 10) };
  })()`);
}

/** Waits until `selector` matches `n` elements (waitForFunction would need eval, which the CSP forbids). */
export async function waitForCount(page: Page, selector: string, n: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let count = -1;
  while (Date.now() < deadline) {
    count = await page.locator(selector).count();
    if (count === n) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`expected ${n} × ${selector}, found ${count}`);
}

/** Waits until the element's text is `text` (or matches it). */
export async function waitForText(page: Page, selector: string, text: string | RegExp, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last: string | null = null;
  while (Date.now() < deadline) {
    last = await page.locator(selector).first().textContent({ timeout: 1000 }).catch(() => null);
    if (last !== null && (typeof text === 'string' ? last === text : text.test(last))) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`expected ${selector} to read ${String(text)}, it reads ${JSON.stringify(last)}`);
}
