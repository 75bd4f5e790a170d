// The composition root: builds every part a process runs from the settings, in order, and
// stops them in reverse. `rpc-chains start` and the end-to-end tests both start the system here.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Settings } from '../config/settings.js';
import { createRedis } from '../redis/connection.js';
import { DeviceStateService } from '../device-state/device-state-service.js';
import { createTrackedDocCache } from '../store/tracked-doc-cache.js';
import { Store } from '../store/store.js';
import { ServiceBus } from '../queue/service-bus.js';
import { RuleEngineProducer } from '../queue/producer.js';
import { RuleEngineConsumer } from '../queue/consumer.js';
import { DEFAULT_QUEUES } from '../queue/queue-config.js';
import { createScriptEngine } from '../engine/script/index.js';
import type { ScriptEngine } from '../engine/script/script-api.js';
import { ChainRuntime } from '../engine/runtime.js';
import type { NodeServices } from '../engine/node-api.js';
import { builtinRegistry } from '../nodes/index.js';
import { TenantChains } from '../rule-engine/tenant-chains.js';
import type { TbMsg } from '../msg/tb-msg.js';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { buildApiApp, createJwtService, type ApiPlugin } from '../api/index.js';
import { readFile } from 'node:fs/promises';
import { SHIPPED_ROOT_CHAIN } from './demo.js';
import type { AddressInfo } from 'node:net';
import { DeviceAuth } from '../transport/device-auth.js';
import { SessionRegistry } from '../transport/session-registry.js';
import { DEFAULT_TRANSPORT_LIMITS, type TransportContext } from '../transport/transport-api.js';
import { httpDeviceApi } from '../transport/http/http-device-api.js';
import { CoapTransport } from '../transport/coap/coap-transport.js';
import { MqttTransport } from '../transport/mqtt/mqtt-transport.js';
import { DeviceRpcService, RestRpcCalls, RpcCleanupService, rpcSettingsFromEnv, type DeviceRpcApi } from '../rpc/index.js';
import { performance } from 'node:perf_hooks';
import { rpcApiPlugin } from '../api/routes/rpc.js';
import { Metrics, Readiness, healthApiPlugin, startHealthServer } from '../observability/index.js';
import { dashboardPlugin } from '../api/routes/dashboard.js';
import { sessionsOf } from '../dashboard/live-events.js';
import { Subject } from 'rxjs';

/** Chains were changed by some process: every rule-engine process reloads that tenant. */
export const CHAINS_CHANGED_TOPIC = 'rule-engine.chains.changed';

export interface RunningSystem {
  readonly serviceId: string;
  readonly store: Store;
  readonly bus: ServiceBus;
  readonly producer: RuleEngineProducer;
  readonly runtime: ChainRuntime;
  readonly chains: TenantChains;
  /** Sends a message to the rule-engine queues (what transports and the API call). */
  toRuleEngine(msg: TbMsg): Promise<void>;
  /** The REST API's port (api role); with transport but not api, the HTTP device API's; else null. */
  readonly httpPort: number | null;
  /** The MQTT transport's port (transport role), else null. */
  readonly mqttPort: number | null;
  /** The CoAP transport's UDP port (transport role), else null. */
  readonly coapPort: number | null;
  readonly sessions: SessionRegistry;
  readonly rpc: DeviceRpcService;
  /** The REST API app (api role), for tests that call it in-process. */
  readonly api: FastifyInstance | null;
  /** Tells every process that a tenant's chains changed. */
  announceChainsChanged(tenantId: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startSystem(settings: Settings, redisUrl: string, logger: Logger): Promise<RunningSystem> {
  const serviceId = settings.serviceId ?? `rpc-chains-${randomUUID().slice(0, 8)}`;
  const stops: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    for (const fn of stops.reverse()) {
      try {
        await fn();
      } catch (e) {
        logger.warn(`stopping: ${(e as Error).message}`);
      }
    }
  };
  try {
    const redis: Redis = createRedis(redisUrl, { role: 'client', connectionName: `rpc-chains:${serviceId}`, logger });
    stops.push(() => redis.disconnect());
    await redis.ping();
    // Users and devices read by every REST call come from memory while Redis says they are unchanged.
    const docCache = createTrackedDocCache(redisUrl, { connectionName: `rc-doc-cache:${serviceId}`, logger });
    if (docCache) {
      stops.push(() => docCache.close());
      await docCache.start();
    }
    const store = new Store(redis, { docReader: docCache });

    const bus = new ServiceBus({ redisUrl, serviceId, logger, info: JSON.stringify({ roles: settings.roles, pid: process.pid }) });
    await bus.start();
    stops.push(() => bus.close());

    // Operators' view: metrics on a private registry, readiness per role.
    const metrics = new Metrics({ redis, queues: settings.roles.includes('rule-engine') ? DEFAULT_QUEUES : [], defaultLabels: { service: serviceId } });
    metrics.start();
    stops.push(() => metrics.close());
    const readiness = new Readiness({ redis, bus, roles: settings.roles });
    if (settings.healthPort !== undefined) {
      const health = await startHealthServer(settings.healthPort, { host: settings.host, readiness, metrics });
      // Pushed early, so closed late: it answers 503 while the rest stops.
      stops.push(() => health.close());
    }

    const producer = new RuleEngineProducer({ redis, queues: DEFAULT_QUEUES });
    stops.push(() => producer.close());
    const toRuleEngine = (msg: TbMsg) => producer.send(msg);

    // Device sessions are known across processes through Redis and the bus; the RPC service
    // talks to them, and stops after the consumer (in-flight messages may still use it).
    const sessions = new SessionRegistry({ redis, bus, logger });
    stops.push(() => sessions.dispose());
    const auth = new DeviceAuth(store);
    const rpcSettings = rpcSettingsFromEnv();
    // RPC_* events also feed the dashboard's live persistent-RPC table.
    const rpcEvents$ = new Subject<TbMsg>();
    stops.push(() => rpcEvents$.complete());
    const rpcToRuleEngine = (msg: TbMsg) => {
      if (msg.type.startsWith('RPC_')) rpcEvents$.next(msg);
      return toRuleEngine(msg);
    };
    const rpc = new DeviceRpcService({ redis, bus, sessions, toRuleEngine: rpcToRuleEngine, store, settings: rpcSettings, logger, onStatus: (status) => metrics.rpcStatus(status) });
    await rpc.start();
    stops.push(() => rpc.close());
    const rpcCleanup = new RpcCleanupService({ store, repo: rpc.repo, settings: rpcSettings, logger });
    rpcCleanup.start();
    stops.push(() => rpcCleanup.stop());

    const deviceState = new DeviceStateService({ redis, store, toRuleEngine, inactivityTimeoutMs: settings.inactivityTimeoutMs, logger });
    deviceState.start();
    stops.push(() => deviceState.stop());

    const scripts: ScriptEngine = createScriptEngine({ timeoutMs: settings.scriptTimeoutMs, memoryLimitMb: settings.scriptMemoryMb });
    stops.push(() => scripts.dispose());
    // Rule nodes write through a connection that waits for Redis to come back instead of failing:
    // a save that failed fast during a Redis restart would be a message skipped by the queue's
    // processing strategy, i.e. an acknowledged message lost. A save that waits too long times the
    // pack out, and timed-out messages are retried.
    const nodeRedis = createRedis(redisUrl, { role: 'worker', connectionName: `rpc-chains-nodes:${serviceId}`, logger });
    stops.push(() => nodeRedis.disconnect());
    const services: NodeServices = {
      scripts,
      store: new Store(nodeRedis),
      serviceId,
      rpc: timedRpc(rpc, metrics),
      toRuleEngine,
      devices: sessions,
      deviceState,
      logger: { info: (t) => logger.info(t), warn: (t) => logger.warn(t), error: (t) => logger.error(t) },
      now: () => Date.now(),
    };
    const runtime = new ChainRuntime({
      services,
      maxNodeExecutionsPerMessage: settings.maxRuleNodeExecutionsPerMessage,
      // A queued continuation keeps a client-side request open (it is not "unreplied" yet).
      enqueue: async (msg) => {
        await rpc.noteClientRpcContinuation(msg);
        await producer.send(msg);
      },
    });
    runtime.trace.enabled = settings.trace;
    metrics.watchTrace(runtime.trace);
    stops.push(() => runtime.close());
    const chains = new TenantChains(store, runtime, builtinRegistry(), logger);
    const reloadTenant = (tenantId: string) => void chains.loadTenant(tenantId).catch((e: Error) => logger.warn(`reloading the chains of tenant ${tenantId}: ${e.message}`));

    if (settings.roles.includes('rule-engine')) {
      // Listen before loading: a change announced while loadAll runs must not be missed.
      const offChanged = bus.on<{ tenantId: string }>(CHAINS_CHANGED_TOPIC, ({ tenantId }) => reloadTenant(tenantId));
      stops.push(offChanged);
      await chains.loadAll();
      const consumer = new RuleEngineConsumer({
        redisUrl,
        queues: DEFAULT_QUEUES,
        consumerId: serviceId,
        logger,
        handler: metrics.instrumentHandler((msg, ctx) => {
          const outcome = runtime.process(msg, { onAck: ctx.onAck });
          // A client-side request that no reply node answered gets "no reply from rule chain" at
          // once (beyond-thingsboard #6). Only on success: a failure may still be retried.
          void outcome.then((o) => (o.status === 'success' ? rpc.answerUnrepliedClientRpc(msg) : undefined)).catch((e: Error) => logger.warn(`client-side RPC answer: ${e.message}`));
          return outcome;
        }),
        onMsgFailure: (msg, error, queueName) => logger.warn(`queue ${queueName}: message ${msg.id} (${msg.type}) failed: ${error}`),
      });
      await consumer.start();
      // Packs this process adds to a shared queue run here when the consumer has room.
      producer.setLocalConsumer(consumer);
      metrics.watchConsumer(consumer);
      readiness.markStarted('rule-engine');
      // Stop taking messages first, so in-flight ones finish with everything else still up.
      stops.push(() => consumer.close());
    } else {
      // Only rule-engine processes run chains. Another process holds only what its own imports
      // loaded: it reloads just those tenants, so that a tenant deleted elsewhere leaves it too.
      stops.push(bus.on<{ tenantId: string }>(CHAINS_CHANGED_TOPIC, ({ tenantId }) => (chains.isLoaded(tenantId) ? reloadTenant(tenantId) : undefined)));
    }

    const transportCtx: TransportContext = {
      serviceId,
      store,
      // Connectivity events pass through the device state service, which keeps `active` and the
      // last*Time attributes and forwards the events ThingsBoard would.
      toRuleEngine: (msg) => deviceState.record(msg),
      rpc,
      limits: { ...DEFAULT_TRANSPORT_LIMITS, clientSideRpcTimeoutMs: settings.clientSideRpcTimeoutMs, inactivityTimeoutMs: settings.inactivityTimeoutMs },
      logger,
    };
    let coapPort: number | null = null;
    let mqttPort: number | null = null;
    if (settings.roles.includes('transport')) {
      const mqtt = new MqttTransport(transportCtx, { port: settings.mqttPort, host: settings.host, sessions, auth, ackTimeoutMs: settings.mqttTimeoutMs });
      mqttPort = await mqtt.start();
      stops.push(() => mqtt.close());
      logger.info(`MQTT device API on ${settings.host}:${mqttPort}`);
      const coap = new CoapTransport(transportCtx, { port: settings.coapPort, host: settings.host, sessions, auth, timeoutMs: settings.coapTimeoutMs });
      coapPort = await coap.start();
      stops.push(() => coap.close());
      stops.push(() => sessions.closeAll('the server is stopping'));
      logger.info(`CoAP device API on udp ${settings.host}:${coapPort}`);
      metrics.watchSessions(() => sessions.countByProtocol());
      readiness.markStarted('transport');
    }

    let api: FastifyInstance | null = null;
    let httpPort: number | null = null;
    if (settings.roles.includes('transport') && !settings.roles.includes('api')) {
      // A transport process without the api role serves the HTTP device API (and the health routes)
      // on HTTP_PORT by itself: devices keep ThingsBoard's /api/v1/{token}/... paths.
      const deviceApi = Fastify({ loggerInstance: logger, logController: new LogController({ disableRequestLogging: true }) });
      await deviceApi.register(httpDeviceApi(transportCtx, { sessions, auth }));
      await deviceApi.register(healthApiPlugin({ readiness, metrics }).plugin);
      await deviceApi.listen({ port: settings.httpPort, host: settings.host });
      stops.push(() => deviceApi.close());
      httpPort = (deviceApi.server.address() as AddressInfo).port;
      logger.info(`HTTP device API on http://${settings.host}:${httpPort}`);
    }
    /** Tells the other processes (the rule-engine ones reload) that a tenant's chains changed here. */
    const announced = async <T>(result: T, tenantId: string): Promise<T> => {
      try {
        for (const id of await bus.aliveServices()) if (id !== serviceId) await bus.send(id, CHAINS_CHANGED_TOPIC, { tenantId });
      } catch (e) {
        logger.warn(`announcing the chains of tenant ${tenantId}: ${(e as Error).message}`);
      }
      return result;
    };
    if (settings.roles.includes('api')) {
      const jwt = await createJwtService(store);
      const plugins: ApiPlugin[] = [];
      // ThingsBoard serves the HTTP device API on the API port.
      if (settings.roles.includes('transport')) plugins.push({ plugin: httpDeviceApi(transportCtx, { sessions, auth }), name: 'HTTP device API' });
      // A persistent call whose answer is lost gets {"rpcId"} once its RPC is stored (or a clear error).
      const calls = new RestRpcCalls(bus, toRuleEngine, { isStored: (deviceId, rpcId) => rpc.repo.exists(deviceId, rpcId) });
      stops.push(() => calls.close());
      plugins.push(rpcApiPlugin({ store, rpc, calls, settings: rpcSettings }));
      plugins.push(healthApiPlugin({ readiness, metrics }));
      plugins.push({ name: 'dashboard', plugin: dashboardPlugin({ trace$: runtime.trace.events$, rpcEvents$, sessions: sessionsOf(sessions), store }) });
      api = buildApiApp({
        store,
        // Chains changed here are reloaded by the rule-engine processes too.
        chains: {
          importChain: async (...args) => announced(await chains.importChain(...args), args[0]),
          setRoot: async (...args) => announced(await chains.setRoot(...args), args[0]),
          unloadTenant: async (tenantId) => announced(await chains.unloadTenant(tenantId), tenantId),
        },
        jwt,
        toRuleEngine,
        logger,
        plugins,
        // A shared-attribute change reaches the device's sessions on their attribute-update topic.
        onSharedAttributesChanged: (_tenantId, deviceId, values) => sessions.pushAttributeUpdate(deviceId, { shared: values }),
        onSharedAttributesDeleted: (_tenantId, deviceId, keys) => sessions.pushAttributeUpdate(deviceId, { deleted: keys }),
        defaultRootChain: JSON.parse(await readFile(SHIPPED_ROOT_CHAIN, 'utf8')) as unknown,
      });
      await api.listen({ port: settings.httpPort, host: settings.host });
      const app = api;
      stops.push(() => app.close());
      httpPort = (api.server.address() as AddressInfo).port;
      logger.info(`REST API on http://${settings.host}:${httpPort}`);
      readiness.markStarted('api');
    }
    // The last pushed runs first on shutdown: say "not ready" before anything closes.
    stops.push(() => readiness.markStopping());

    return {
      serviceId,
      httpPort,
      mqttPort,
      coapPort,
      sessions,
      rpc,
      api,
      store,
      bus,
      producer,
      runtime,
      chains,
      toRuleEngine,
      async announceChainsChanged(tenantId: string) {
        for (const id of await bus.aliveServices()) await bus.send(id, CHAINS_CHANGED_TOPIC, { tenantId });
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The RPC service as nodes see it, with each command's round trip recorded in the latency histogram. */
function timedRpc(rpc: DeviceRpcApi, metrics: Metrics): DeviceRpcApi {
  return {
    sendToDevice: async (request) => {
      const started = performance.now();
      const outcome = await rpc.sendToDevice(request);
      metrics.observeRpcLatency((performance.now() - started) / 1000, request.persisted ? 'persistent' : request.oneway ? 'oneway' : 'twoway');
      return outcome;
    },
    sendToServerRpcReply: (...args) => rpc.sendToServerRpcReply(...args),
    answerRestCall: (...args) => rpc.answerRestCall(...args),
    expectClientRpcContinuation: (...args) => rpc.expectClientRpcContinuation(...args),
  };
}
