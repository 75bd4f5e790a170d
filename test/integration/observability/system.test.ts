// The whole system (startSystem) observed the way the composition root is to wire it: Metrics on
// the system's Redis connection, queues and trace stream; Readiness on its Redis and bus.
import { expect } from 'chai';
import pino from 'pino';
import { startSystem, type RunningSystem } from '../../../src/app/system.js';
import { newMsg } from '../../../src/msg/tb-msg.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { Readiness, startHealthServer, type HealthServer } from '../../../src/observability/health.js';
import { DEFAULT_QUEUES } from '../../../src/queue/queue-config.js';
import { chainDoc } from '../../helpers/chain-builder.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { testSettings } from '../../helpers/test-settings.js';
import { waitFor } from '../queue/queue-helpers.js';
import { parseProm, select, sum, type Sample } from './prom-text.js';

describe('observability: a running system', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let system: RunningSystem;
  let metrics: Metrics;
  let server: HealthServer;

  const scrape = async (): Promise<Sample[]> => parseProm(await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text());

  before(async () => {
    redis = await startTestRedis();
    system = await startSystem(testSettings({ trace: true, roles: ['rule-engine'] }), redis.url, pino({ level: 'silent' }));
    metrics = new Metrics({ redis: system.store.redis, queues: DEFAULT_QUEUES, pingIntervalMs: 200, defaultLabels: { service: system.serviceId } });
    metrics.start();
    metrics.watchTrace(system.runtime.trace);
    const readiness = new Readiness({ redis: system.store.redis, bus: system.bus, roles: ['rule-engine'] });
    readiness.markStarted('rule-engine');
    server = await startHealthServer(0, { host: '127.0.0.1', readiness, metrics });
  });
  after(async () => {
    await server?.close();
    await metrics?.close();
    await system?.stop();
    await redis?.stop();
  });

  it('is ready, and counts node steps and empties the queues after messages are sent', async () => {
    expect((await fetch(`http://127.0.0.1:${server.port}/readyz`)).status).to.equal(200);
    const tenant = await system.store.tenants.create({ title: 'Observed tenant' });
    const doc = chainDoc(
      'Observed root',
      [
        { type: 'org.thingsboard.rule.engine.filter.TbMsgTypeSwitchNode', name: 'switch' },
        { type: 'org.thingsboard.rule.engine.flow.TbAckNode', name: 'ack' },
      ],
      [[0, 1, 'Post telemetry']],
    );
    await system.chains.importChain(tenant.id.id, doc, { root: true });
    const total = 50;
    await Promise.all(
      Array.from({ length: total }, (_, i) =>
        system.toRuleEngine(newMsg({ type: 'POST_TELEMETRY_REQUEST', originator: { entityType: 'DEVICE', id: `device-${i % 5}` }, tenantId: tenant.id.id, data: JSON.stringify({ i }) })),
      ),
    );
    await waitFor('every message through the ack node', async () => sum(await scrape(), 'rule_node_messages_total', { chain: 'Observed root', node: 'ack' }) === total);
    const samples = await scrape();
    expect(sum(samples, 'rule_node_messages_total', { chain: 'Observed root', node: 'switch', relation: 'Post telemetry' })).to.equal(total);
    expect(sum(samples, 'rule_node_duration_seconds_count', { chain: 'Observed root' })).to.equal(2 * total);
    // 3 queues x 10 partitions x 4 states, all read; nothing left waiting.
    expect(select(samples, 'rule_engine_queue_depth')).to.have.length(120);
    await waitFor('queues drained', async () => sum(await scrape(), 'rule_engine_queue_depth', { state: 'waiting' }) + sum(await scrape(), 'rule_engine_queue_depth', { state: 'active' }) === 0);
    expect(select(samples, 'redis_up')[0].labels.service).to.equal(system.serviceId);
  });
});
