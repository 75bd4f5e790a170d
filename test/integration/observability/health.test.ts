// /healthz, /readyz and /metrics over real HTTP: standalone (HEALTH_PORT) and inside the REST API app.
import { expect } from 'chai';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { buildApiApp, createJwtService } from '../../../src/api/index.js';
import { ChainRuntime } from '../../../src/engine/runtime.js';
import { builtinRegistry } from '../../../src/nodes/index.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { healthApiPlugin, Readiness, startHealthServer, type HealthServer, type ReadinessReport } from '../../../src/observability/health.js';
import { ServiceBus } from '../../../src/queue/service-bus.js';
import { createRedis } from '../../../src/redis/connection.js';
import { TenantChains } from '../../../src/rule-engine/tenant-chains.js';
import { Store } from '../../../src/store/store.js';
import { testServices } from '../../helpers/node-harness.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { silent, waitFor } from '../queue/queue-helpers.js';
import { parseProm, value } from './prom-text.js';

async function get(port: number, path: string): Promise<{ status: number; body: unknown; text: string; type: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  const text = await res.text();
  const type = res.headers.get('content-type');
  return { status: res.status, text, type, body: type?.startsWith('application/json') ? (JSON.parse(text) as unknown) : undefined };
}

describe('observability: health endpoints', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let client: Redis;
  let bus: ServiceBus;

  before(async () => {
    redis = await startTestRedis();
    client = createRedis(redis.url, { role: 'client', logger: silent });
    bus = new ServiceBus({ redisUrl: redis.url, heartbeatTtlMs: 1500, logger: silent });
    await bus.start();
  });
  after(async () => {
    await bus?.close();
    client?.disconnect();
    await redis?.stop();
  });

  describe('standalone server (processes without the api role)', () => {
    let readiness: Readiness;
    let server: HealthServer;
    before(async () => {
      readiness = new Readiness({ redis: client, bus, roles: ['transport', 'rule-engine'] });
      server = await startHealthServer(0, { host: '127.0.0.1', readiness });
    });
    after(() => server?.close());

    it('GET /healthz: 200 {"status":"UP"}', async () => {
      const r = await get(server.port, '/healthz');
      expect(r.status).to.equal(200);
      expect(r.body).to.deep.equal({ status: 'UP' });
    });

    it('GET /readyz: 503 naming the roles not started yet, 200 once all have', async () => {
      let r = await get(server.port, '/readyz');
      expect(r.status).to.equal(503);
      let report = r.body as ReadinessReport;
      expect(report.status).to.equal('DOWN');
      expect(report.failing).to.deep.equal(['roles']);
      expect(report.checks.roles.detail).to.equal('not started: transport, rule-engine');
      expect(report.checks.redis.status).to.equal('UP');
      expect(report.checks.serviceBus.status).to.equal('UP');

      readiness.markStarted('transport');
      readiness.markStarted('rule-engine');
      r = await get(server.port, '/readyz');
      expect(r.status).to.equal(200);
      report = r.body as ReadinessReport;
      expect(report).to.deep.include({ status: 'UP', failing: [] });
      expect(report.checks.redis.rttMs).to.be.a('number').within(0, 1000);
    });

    it('GET /metrics is not served when the plugin has no Metrics', async () => {
      expect((await get(server.port, '/metrics')).status).to.equal(404);
    });

    it('GET /readyz: 503 while Redis is down (answering within the bound), 200 again after it is back', async () => {
      await redis.kill();
      try {
        const started = Date.now();
        const r = await get(server.port, '/readyz');
        expect(Date.now() - started).to.be.lessThan(3000);
        expect(r.status).to.equal(503);
        const report = r.body as ReadinessReport;
        expect(report.failing).to.include('redis');
        expect(report.failing).to.include('serviceBus');
        expect(report.checks.redis.status).to.equal('DOWN');
        // Alive all the same: restarting the process would not bring Redis back.
        expect((await get(server.port, '/healthz')).status).to.equal(200);
      } finally {
        await redis.restart();
      }
      await waitFor('ready again', async () => (await get(server.port, '/readyz')).status === 200, 20_000);
    });

    it('GET /readyz: 503 "stopping" once shutdown began', async () => {
      readiness.markStopping();
      const r = await get(server.port, '/readyz');
      expect(r.status).to.equal(503);
      expect((r.body as ReadinessReport).checks.roles).to.deep.equal({ status: 'DOWN', detail: 'stopping' });
    });

    it('runs extra checks', async () => {
      const extra = new Readiness({ redis: client, bus, roles: [] });
      extra.addCheck('scripts', () => 'isolate pool exhausted');
      const other = await startHealthServer(0, { host: '127.0.0.1', readiness: extra });
      try {
        const r = await get(other.port, '/readyz');
        expect(r.status).to.equal(503);
        expect((r.body as ReadinessReport).failing).to.deep.equal(['scripts']);
        expect((r.body as ReadinessReport).checks.scripts.detail).to.equal('isolate pool exhausted');
      } finally {
        await other.close();
      }
    });
  });

  describe('as an ApiPlugin of the REST API app', () => {
    let api: FastifyInstance;
    let metrics: Metrics;
    let runtime: ChainRuntime;
    let port: number;
    before(async () => {
      const logger = pino({ level: 'silent' });
      const store = new Store(client);
      runtime = new ChainRuntime({ services: testServices(), maxNodeExecutionsPerMessage: 50 });
      const readiness = new Readiness({ redis: client, bus, roles: ['api'] });
      metrics = new Metrics({ redis: client, pingIntervalMs: 100 });
      metrics.start();
      api = buildApiApp({
        store,
        chains: new TenantChains(store, runtime, builtinRegistry(), logger),
        jwt: await createJwtService(store),
        toRuleEngine: () => Promise.resolve(),
        logger,
        plugins: [healthApiPlugin({ readiness, metrics })],
      });
      await api.listen({ port: 0, host: '127.0.0.1' });
      port = (api.server.address() as AddressInfo).port;
      readiness.markStarted('api');
    });
    after(async () => {
      await api?.close();
      await metrics?.close();
      await runtime?.close();
    });

    it('serves the three routes without a token', async () => {
      expect((await get(port, '/healthz')).body).to.deep.equal({ status: 'UP' });
      expect((await get(port, '/readyz')).status).to.equal(200);
      const m = await get(port, '/metrics');
      expect(m.status).to.equal(200);
      expect(m.type).to.match(/^text\/plain; version=0\.0\.4/);
      const samples = parseProm(m.text);
      expect(value(samples, 'rpc_status_total', { status: 'SUCCESSFUL' })).to.equal(0);
      // An API route next to them still wants its token.
      expect((await get(port, '/api/tenants?pageSize=10&page=0')).status).to.equal(401);
    });

    it('keeps them out of the OpenAPI document', async () => {
      const doc = (await get(port, '/api/openapi.json')).body as { paths: Record<string, unknown> };
      expect(Object.keys(doc.paths)).to.not.include.members(['/healthz', '/readyz', '/metrics']);
      expect(Object.keys(doc.paths).length).to.be.greaterThan(10);
    });
  });
});
