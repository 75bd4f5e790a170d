import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { FAILURE, SUCCESS, type EnqueueForTellNext, type NodeContext, type RuleNode } from '../../../src/engine/node-api.js';
import { prepareNodeConfig } from '../../../src/engine/importer/node-config.js';
import type { EntityId } from '../../../src/msg/entity.js';
import type { TbMsg } from '../../../src/msg/tb-msg.js';
import { deduplicationTiming, TbMsgDeduplicationNode } from '../../../src/nodes/transform/TbMsgDeduplicationNode.js';
import { createNode, relationsOf, runNode, testMsg, testServices, type Enqueued } from '../../helpers/node-harness.js';

/** Polls until `done` holds (timers may run late on a busy machine). */
async function waitFor(done: () => boolean, timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await sleep(5);
  }
}

const DEVICE_A: EntityId = { entityType: 'DEVICE', id: '0dd0a000-0000-4000-8000-00000000000a' };
const DEVICE_B: EntityId = { entityType: 'DEVICE', id: '0dd0b000-0000-4000-8000-00000000000b' };

describe('TbMsgDeduplicationNode', () => {
  const nodes: RuleNode[] = [];
  const dedup = (config: Record<string, unknown>, opts: { queueName?: string | null; configurationVersion?: number } = {}) => {
    const created = createNode(TbMsgDeduplicationNode, config, opts);
    nodes.push(created.node);
    return created;
  };
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.destroy?.();
  });

  /** Messages of one originator a few ms apart, with metadata ts now (the window is by metadata ts). */
  const burst = (originator: EntityId, values: number[]): TbMsg[] => {
    const now = Date.now();
    return values.map((v, i) => testMsg({ originator, data: { v }, metaData: { ts: String(now + i) } }));
  };

  /** A context whose enqueueForTellNext is `enqueue` (by default: into `sink`). */
  const contextOf = (sink: Enqueued[], onAck: () => void, enqueue?: EnqueueForTellNext): NodeContext => ({
    self: { id: 'node-1', name: 'dedup', type: TbMsgDeduplicationNode.type, chainId: 'chain-1', chainName: 'Test chain' },
    services: testServices(),
    ack: onAck,
    enqueueForTellNext:
      enqueue ??
      ((m, relations) => {
        sink.push({ msg: m, relations: typeof relations === 'string' ? [relations] : relations });
        return Promise.resolve();
      }),
  });

  /** Runs each message (each must be kept and acknowledged); returns what their contexts queue later. */
  const runAll = async (node: RuleNode, msgs: TbMsg[]): Promise<Enqueued[]> => {
    const enqueued: Enqueued[] = [];
    for (const msg of msgs) {
      let acked = false;
      expect(await node.onMsg(msg, contextOf(enqueued, () => (acked = true)))).to.equal(undefined);
      expect(acked).to.equal(true);
    }
    return enqueued;
  };

  it('has the catalogue identity and default configuration', () => {
    expect(TbMsgDeduplicationNode.type).to.equal('org.thingsboard.rule.engine.deduplication.TbMsgDeduplicationNode');
    expect(TbMsgDeduplicationNode.category).to.equal('TRANSFORMATION');
    expect(TbMsgDeduplicationNode.uiName).to.equal('deduplication');
    expect(TbMsgDeduplicationNode.version).to.equal(1);
    expect(TbMsgDeduplicationNode.relations).to.deep.equal([SUCCESS, FAILURE]);
    expect(TbMsgDeduplicationNode.defaultConfig).to.deep.equal({ interval: 60, strategy: 'FIRST', maxPendingMsgs: 100, maxRetries: 3 });
  });

  it('FIRST: acknowledges every message and sends a copy of the earliest at the end of the window', async () => {
    const { node } = dedup({ interval: 0.05, strategy: 'FIRST' });
    const msgs = burst(DEVICE_A, [1, 2, 3]);
    const out = await runAll(node, msgs);
    expect(out).to.deep.equal([]);
    await waitFor(() => out.length > 0);
    await sleep(70);
    expect(out).to.have.length(1);
    expect(out[0].relations).to.deep.equal([SUCCESS]);
    expect(out[0].msg.data).to.equal('{"v":1}');
    expect(out[0].msg.id).to.not.equal(msgs[0].id);
    expect(out[0].msg.queueName).to.equal('Main');
  });

  it('LAST: sends the latest by metadata ts, in the node queue', async () => {
    const { node } = dedup({ interval: 0.05, strategy: 'LAST' }, { queueName: 'HighPriority' });
    const msgs = burst(DEVICE_A, [1, 2, 3]);
    const out = await runAll(node, [msgs[2], msgs[0], msgs[1]]);
    await waitFor(() => out.length > 0);
    expect(out[0].msg.data).to.equal('{"v":3}');
    expect(out[0].msg.queueName).to.equal('HighPriority');
  });

  it('keeps a window per originator', async () => {
    const { node } = dedup({ interval: 0.05, strategy: 'FIRST' });
    const out = await runAll(node, [...burst(DEVICE_A, [1, 2]), ...burst(DEVICE_B, [10, 20])]);
    await waitFor(() => out.length >= 2);
    expect(out.map((e) => e.msg.data).sort()).to.deep.equal(['{"v":10}', '{"v":1}'].sort());
  });

  it('ALL: sends one new message of outMsgType with every {msg, metadata}', async () => {
    const { node, enqueued } = dedup({ interval: 0.05, strategy: 'ALL', outMsgType: 'BATCH' });
    const msgs = burst(DEVICE_A, [1, 2]);
    await runAll(node, msgs);
    await waitFor(() => enqueued.length > 0);
    const [out] = enqueued;
    expect(out.relations).to.deep.equal([SUCCESS]);
    expect(out.msg.type).to.equal('BATCH');
    expect(out.msg.originator).to.deep.equal(DEVICE_A);
    expect(Number(out.msg.metaData.ts)).to.be.closeTo(Date.now(), 1000);
    expect(JSON.parse(out.msg.data)).to.deep.equal(msgs.map((m) => ({ msg: JSON.parse(m.data) as unknown, metadata: m.metaData })));
  });

  it('ALL without outMsgType sends POST_TELEMETRY_REQUEST, as ThingsBoard fills it in', async () => {
    const { node, enqueued } = dedup({ interval: 0.03, strategy: 'ALL' });
    await runAll(node, burst(DEVICE_A, [1]));
    await waitFor(() => enqueued.length > 0);
    expect(enqueued[0].msg.type).to.equal('POST_TELEMETRY_REQUEST');
  });

  it('sends one message per ended window when messages span several', async () => {
    const { node, enqueued } = dedup({ interval: 0.05, strategy: 'ALL' });
    const old = Date.now() - 1000;
    const msgs = [0, 1, 60, 61, 200].map((d) => testMsg({ originator: DEVICE_A, data: { d }, metaData: { ts: String(old + d) } }));
    await runAll(node, msgs);
    await waitFor(() => enqueued.length >= 3);
    const windows = enqueued.map((e) => (JSON.parse(e.msg.data) as { msg: { d: number } }[]).map((x) => x.msg.d));
    expect(windows).to.deep.equal([[0, 1], [60, 61], [200]]);
  });

  it('fails messages beyond maxPendingMsgs for one originator', async () => {
    const { node } = dedup({ interval: 60, maxPendingMsgs: 2 });
    const [a, b, c] = burst(DEVICE_A, [1, 2, 3]);
    await runAll(node, [a, b]);
    const third = await runNode(node, c);
    expect(third.acked).to.equal(false);
    expect(relationsOf(third)).to.deep.equal([FAILURE]);
    const [out] = third.outputs;
    expect(out.kind === 'tell' ? out.error : '').to.equal(`[node-1] Max limit of pending messages reached for deduplication id: [${DEVICE_A.id}]`);
    // Another originator still has room.
    expect((await runNode(node, burst(DEVICE_B, [1])[0])).acked).to.equal(true);
  });

  it('tries a failed enqueue again maxRetries times, then drops it', async () => {
    const saved = deduplicationTiming.retryDelayMs;
    deduplicationTiming.retryDelayMs = 10;
    try {
      const services = testServices();
      const { node } = createNode(TbMsgDeduplicationNode, { interval: 0.03, maxRetries: 2 }, { services });
      nodes.push(node);
      let attempts = 0;
      const failing: EnqueueForTellNext = () => {
        attempts++;
        return Promise.reject(new Error('queue down'));
      };
      let acked = false;
      const ctx = contextOf([], () => (acked = true), failing);
      expect(await node.onMsg(burst(DEVICE_A, [1])[0], ctx)).to.equal(undefined);
      expect(acked).to.equal(true);
      await waitFor(() => attempts >= 3);
      await sleep(50);
      expect(attempts).to.equal(3);
      expect(services.logs.some((l) => l.startsWith('WARN') && l.includes('max retries [2] exhausted'))).to.equal(true);
    } finally {
      deduplicationTiming.retryDelayMs = saved;
    }
  });

  it('forgets its windows when destroyed', async () => {
    const { node } = dedup({ interval: 0.03 });
    const out = await runAll(node, burst(DEVICE_A, [1]));
    await node.destroy?.();
    await sleep(60);
    expect(out).to.deep.equal([]);
  });

  it('v0: keeps the old queueName for the node; the node queueName wins', async () => {
    const v0 = { interval: 0.03, strategy: 'FIRST', maxPendingMsgs: 100, maxRetries: 3, queueName: 'HighPriority' };
    expect(prepareNodeConfig(TbMsgDeduplicationNode, v0, 0)).to.deep.equal({ ok: true, config: v0 });
    const fromConfig = await runAll(dedup(v0, { configurationVersion: 0 }).node, burst(DEVICE_A, [1]));
    const fromNode = await runAll(dedup(v0, { configurationVersion: 0, queueName: 'Main' }).node, burst(DEVICE_A, [1]));
    await waitFor(() => fromConfig.length > 0 && fromNode.length > 0);
    expect(fromConfig[0].msg.queueName).to.equal('HighPriority');
    expect(fromNode[0].msg.queueName).to.equal('Main');
  });
});
