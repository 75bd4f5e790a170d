// /metrics from a real Redis, producer, consumer and chain runtime: queue depths, per-queue and
// per-node counts, RPC series, sessions, Redis round trip and process metrics.
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { defineNode, tellFailure, tellSuccess, type RuleNodeDefinition } from '../../../src/engine/node-api.js';
import { importChain } from '../../../src/engine/importer/import-chain.js';
import { NodeRegistry } from '../../../src/engine/registry.js';
import { ChainRuntime } from '../../../src/engine/runtime.js';
import { TraceHub } from '../../../src/engine/trace.js';
import { TbMsgTypeSwitchNode } from '../../../src/nodes/filter/TbMsgTypeSwitchNode.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { Readiness, startHealthServer, type HealthServer } from '../../../src/observability/health.js';
import { RuleEngineConsumer } from '../../../src/queue/consumer.js';
import { chainHandler } from '../../../src/queue/pack.js';
import { RuleEngineProducer } from '../../../src/queue/producer.js';
import { ServiceBus } from '../../../src/queue/service-bus.js';
import { createRedis } from '../../../src/redis/connection.js';
import { chainDoc } from '../../helpers/chain-builder.js';
import { testServices } from '../../helpers/node-harness.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { deviceMsg, FAST, queue, silent, waitFor } from '../queue/queue-helpers.js';
import { parseProm, select, sum, value, type Sample } from './prom-text.js';

describe('observability: /metrics', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let client: Redis;
  let bus: ServiceBus;
  let runtime: ChainRuntime;
  let metrics: Metrics;
  let consumer: RuleEngineConsumer;
  let producer: RuleEngineProducer;
  let server: HealthServer;
  const q = queue({ name: 'Main', partitions: 2, processingStrategy: { type: 'RETRY_FAILED', retries: 2 } });
  const seen = new Set<string>();

  // Fails messages whose seq is a multiple of 3 the first time: RETRY_FAILED brings them back once.
  const FlakySink = defineNode<{ version?: number }>({
    type: 'test.FlakySink',
    category: 'ACTION',
    uiName: 'flaky sink',
    version: 0,
    relations: ['Success', 'Failure'],
    configSchema: { type: 'object' },
    defaultConfig: {},
    create: () => ({
      onMsg: (msg) => {
        const first = !seen.has(msg.id);
        seen.add(msg.id);
        if (first && (JSON.parse(msg.data) as { seq: number }).seq % 3 === 0) return tellFailure(msg, 'first time fails');
        return tellSuccess(msg);
      },
    }),
  });

  const scrape = async (): Promise<{ samples: Sample[]; contentType: string | null }> => {
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(res.status).to.equal(200);
    return { samples: parseProm(await res.text()), contentType: res.headers.get('content-type') };
  };

  before(async () => {
    redis = await startTestRedis();
    client = createRedis(redis.url, { role: 'client', logger: silent });
    bus = new ServiceBus({ redisUrl: redis.url, logger: silent });
    await bus.start();
    const registry = new NodeRegistry([TbMsgTypeSwitchNode, FlakySink] as RuleNodeDefinition<unknown>[]);
    const doc = chainDoc(
      'root',
      [
        { type: 'org.thingsboard.rule.engine.filter.TbMsgTypeSwitchNode', name: 'switch' },
        { type: 'test.FlakySink', name: 'sink' },
      ],
      [[0, 1, 'Post telemetry']],
    );
    const imported = importChain(doc, { source: 'root.json', registry });
    if (!imported.ok) throw new Error(JSON.stringify(imported.issues));
    runtime = new ChainRuntime({ services: testServices(), maxNodeExecutionsPerMessage: 50 });
    runtime.load([imported.chain]);
    runtime.setRootChain(imported.chain.id, 'tenant-1');
    runtime.trace.enabled = true;

    metrics = new Metrics({ redis: client, queues: [q], pingIntervalMs: 100, defaultLabels: { service: 'metrics-test' } });
    metrics.start();
    metrics.watchTrace(runtime.trace);
    metrics.watchSessions(() => ({ mqtt: 2, coap: 1 }));
    consumer = new RuleEngineConsumer({ redisUrl: redis.url, queues: [q], handler: metrics.instrumentHandler(chainHandler(runtime)), logger: silent, ...FAST });
    metrics.watchConsumer(consumer);
    producer = new RuleEngineProducer({ redis: client, queues: [q] });
    server = await startHealthServer(0, { host: '127.0.0.1', metrics, readiness: new Readiness({ redis: client, bus, roles: [] }) });
  });

  after(async () => {
    await server?.close();
    await consumer?.close();
    await producer?.close();
    await metrics?.close();
    await runtime?.close();
    await bus?.close();
    client?.disconnect();
    await redis?.stop();
  });

  it('shows the packs waiting in each partition before a consumer takes them', async () => {
    await Promise.all(Array.from({ length: 30 }, (_, i) => producer.send(deviceMsg(`dev-${i % 4}`, i))));
    const { samples, contentType } = await scrape();
    expect(contentType).to.match(/^text\/plain; version=0\.0\.4/);
    for (const partition of ['0', '1']) {
      for (const state of ['waiting', 'active', 'delayed', 'failed']) {
        expect(select(samples, 'rule_engine_queue_depth', { queue: 'Main', partition, state })).to.have.length(1);
      }
    }
    const waiting = sum(samples, 'rule_engine_queue_depth', { queue: 'Main', state: 'waiting' });
    // 30 messages sent in one turn: at least one pack per used partition, never more packs than messages.
    expect(waiting).to.be.within(1, 30);
    expect(sum(samples, 'rule_engine_queue_depth', { state: 'active' })).to.equal(0);
  });

  it('counts attempts per queue, consumer totals and node steps once the messages are processed', async () => {
    await consumer.start();
    await waitFor('all processed', () => consumer.stats().succeeded === 30);
    const { samples } = await scrape();
    expect(value(samples, 'rule_engine_messages_processed_total', { queue: 'Main' })).to.equal(30);
    expect(value(samples, 'rule_engine_messages_failed_total', { queue: 'Main' })).to.equal(10);
    expect(value(samples, 'rule_engine_messages_retried_total', { queue: 'Main' })).to.equal(10);

    expect(value(samples, 'rule_engine_consumer_messages_total', { result: 'succeeded' })).to.equal(30);
    expect(value(samples, 'rule_engine_consumer_messages_total', { result: 'failed' })).to.equal(10);
    expect(value(samples, 'rule_engine_consumer_messages_total', { result: 'skipped' })).to.equal(0);
    expect(value(samples, 'rule_engine_consumer_packs_total')).to.be.within(1, 30);

    expect(sum(samples, 'rule_engine_queue_depth', { state: 'waiting' })).to.equal(0);
    expect(sum(samples, 'rule_engine_queue_depth', { state: 'active' })).to.equal(0);

    expect(value(samples, 'rule_node_messages_total', { chain: 'root', node: 'switch', relation: 'Post telemetry' })).to.equal(40);
    expect(value(samples, 'rule_node_messages_total', { chain: 'root', node: 'sink', relation: 'Success' })).to.equal(30);
    expect(value(samples, 'rule_node_messages_total', { chain: 'root', node: 'sink', relation: 'Failure' })).to.equal(10);
    expect(value(samples, 'rule_node_duration_seconds_count', { chain: 'root', node: 'sink' })).to.equal(40);
    const seconds = value(samples, 'rule_node_duration_seconds_sum', { chain: 'root', node: 'sink' });
    expect(seconds).to.be.greaterThan(0).and.lessThan(1);
    expect(value(samples, 'rule_node_duration_seconds_bucket', { chain: 'root', node: 'sink', le: '+Inf' })).to.equal(40);
    // Every series carries the default labels.
    expect(select(samples, 'rule_engine_messages_processed_total')[0].labels.service).to.equal('metrics-test');
  });

  it('cumulates consumer totals across scrapes instead of adding them again', async () => {
    const { samples } = await scrape();
    expect(value(samples, 'rule_engine_consumer_messages_total', { result: 'succeeded' })).to.equal(30);
  });

  it('has the RPC series, with every status from 0', async () => {
    metrics.rpcStatus('QUEUED');
    metrics.rpcStatus('SUCCESSFUL');
    metrics.rpcStatus('SUCCESSFUL');
    metrics.observeRpcLatency(0.12, 'twoway');
    metrics.observeRpcLatency(0.004, 'oneway');
    const { samples } = await scrape();
    expect(value(samples, 'rpc_status_total', { status: 'SUCCESSFUL' })).to.equal(2);
    expect(value(samples, 'rpc_status_total', { status: 'QUEUED' })).to.equal(1);
    expect(value(samples, 'rpc_status_total', { status: 'TIMEOUT' })).to.equal(0);
    expect(select(samples, 'rpc_status_total')).to.have.length(8);
    expect(value(samples, 'rpc_latency_seconds_count', { kind: 'twoway' })).to.equal(1);
    expect(value(samples, 'rpc_latency_seconds_bucket', { kind: 'twoway', le: '0.1' })).to.equal(0);
    expect(value(samples, 'rpc_latency_seconds_bucket', { kind: 'twoway', le: '0.25' })).to.equal(1);
    expect(value(samples, 'rpc_latency_seconds_bucket', { kind: 'oneway', le: '0.005' })).to.equal(1);
  });

  it('has sessions per transport, the Redis round trip and the process metrics', async () => {
    await waitFor('a PING', async () => select((await scrape()).samples, 'redis_up').some((s) => s.value === 1));
    const { samples } = await scrape();
    expect(value(samples, 'transport_sessions', { transport: 'mqtt' })).to.equal(2);
    expect(value(samples, 'transport_sessions', { transport: 'coap' })).to.equal(1);
    expect(value(samples, 'redis_up')).to.equal(1);
    expect(value(samples, 'redis_rtt_seconds')).to.be.greaterThan(0).and.lessThan(0.5);
    expect(value(samples, 'process_cpu_user_seconds_total')).to.be.greaterThan(0);
    expect(value(samples, 'process_resident_memory_bytes')).to.be.greaterThan(1e6);
    expect(select(samples, 'nodejs_eventloop_lag_seconds')).to.have.length(1);
  });

  it('reports Redis down, and no stale queue depths, while Redis is away', async () => {
    await redis.kill();
    try {
      await waitFor('redis_up 0', async () => value((await scrape()).samples, 'redis_up') === 0);
      const started = Date.now();
      const { samples } = await scrape();
      expect(Date.now() - started).to.be.lessThan(5000);
      expect(Number.isNaN(value(samples, 'redis_rtt_seconds'))).to.equal(true);
      expect(select(samples, 'rule_engine_queue_depth')).to.have.length(0);
    } finally {
      await redis.restart();
    }
    await waitFor('redis_up 1', async () => value((await scrape()).samples, 'redis_up') === 1);
    await waitFor('queue depths back', async () => select((await scrape()).samples, 'rule_engine_queue_depth').length === 8);
  });

  it('caps the chain/node label sets; the rest is counted as "(other)"', async () => {
    const hub = new TraceHub();
    const capped = new Metrics({ processMetrics: false, maxNodeSeries: 2 });
    capped.watchTrace(hub);
    const step = (nodeName: string, relations: string[]) =>
      hub.emit({ msgId: 'm', msgType: 'T', originatorId: 'o', chainId: 'c', chainName: 'big', nodeId: nodeName, nodeName, nodeType: 't', relations, durationMs: 0.2, ts: 0 });
    for (let i = 0; i < 5; i++) step(`n${i}`, ['Success']);
    step('n0', []);
    const samples = parseProm(await capped.text());
    expect(value(samples, 'rule_node_messages_total', { chain: 'big', node: 'n0', relation: 'Success' })).to.equal(1);
    expect(value(samples, 'rule_node_messages_total', { chain: 'big', node: 'n0', relation: '(none)' })).to.equal(1);
    expect(value(samples, 'rule_node_messages_total', { chain: 'big', node: 'n1', relation: 'Success' })).to.equal(1);
    expect(value(samples, 'rule_node_messages_total', { chain: '(other)', node: '(other)', relation: 'Success' })).to.equal(3);
    expect(value(samples, 'rule_node_duration_seconds_count', { chain: '(other)', node: '(other)' })).to.equal(3);
    expect(select(samples, 'rule_node_duration_seconds_count')).to.have.length(3);
    await capped.close();
  });
});
