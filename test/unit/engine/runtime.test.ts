import { expect } from 'chai';
import { defineNode, tell, tellFailure, tellSuccess, type RuleNodeDefinition } from '../../../src/engine/node-api.js';
import { importChain } from '../../../src/engine/importer/import-chain.js';
import { linkChains } from '../../../src/engine/importer/link-chains.js';
import type { ImportedChain } from '../../../src/engine/importer/chain-model.js';
import { ChainImportError } from '../../../src/engine/importer/chain-model.js';
import { NodeRegistry } from '../../../src/engine/registry.js';
import { ChainRuntime, type BranchEnd } from '../../../src/engine/runtime.js';
import type { TraceEvent } from '../../../src/engine/trace.js';
import { transformMsg, type TbMsg } from '../../../src/msg/tb-msg.js';
import { TbMsgTypeSwitchNode } from '../../../src/nodes/filter/TbMsgTypeSwitchNode.js';
import { TbRuleChainInputNode } from '../../../src/nodes/flow/TbRuleChainInputNode.js';
import { TbRuleChainOutputNode } from '../../../src/nodes/flow/TbRuleChainOutputNode.js';
import { chainDoc } from '../../helpers/chain-builder.js';
import { testMsg, testServices } from '../../helpers/node-harness.js';

// Small test nodes: they exercise the runtime, not ThingsBoard behaviour.
const Tag = defineNode<{ tag: string }>({
  type: 'test.Tag',
  category: 'TRANSFORMATION',
  uiName: 'tag',
  version: 0,
  relations: ['Success'],
  configSchema: { type: 'object', properties: { tag: { type: 'string', default: 'x' } } },
  defaultConfig: { tag: 'x' },
  create: (config) => ({
    onMsg: (msg) => tellSuccess(transformMsg(msg, { metaData: { ...msg.metaData, path: `${msg.metaData.path ?? ''}${config.tag}` } })),
  }),
});
const AsyncTag = defineNode<{ tag: string; delayMs: number }>({
  type: 'test.AsyncTag',
  category: 'TRANSFORMATION',
  uiName: 'async tag',
  version: 0,
  relations: ['Success'],
  configSchema: { type: 'object', properties: { tag: { type: 'string', default: 'a' }, delayMs: { type: 'integer', default: 5 } } },
  defaultConfig: { tag: 'a', delayMs: 5 },
  create: (config) => ({
    onMsg: async (msg) => {
      await new Promise((r) => setTimeout(r, config.delayMs));
      return tellSuccess(transformMsg(msg, { metaData: { ...msg.metaData, path: `${msg.metaData.path ?? ''}${config.tag}` } }));
    },
  }),
});
const Fail = defineNode<{ how: string }>({
  type: 'test.Fail',
  category: 'ACTION',
  uiName: 'fail',
  version: 0,
  relations: ['Failure'],
  configSchema: { type: 'object', properties: { how: { enum: ['tell', 'throw', 'reject'], default: 'tell' } } },
  defaultConfig: { how: 'tell' },
  create: (config) => ({
    onMsg: (msg) => {
      if (config.how === 'throw') throw new Error('boom (thrown)');
      if (config.how === 'reject') return Promise.reject(new Error('boom (rejected)'));
      return tellFailure(msg, 'boom (told)');
    },
  }),
});
const Both = defineNode<{ version?: number }>({
  type: 'test.Both',
  category: 'FILTER',
  uiName: 'both',
  version: 0,
  relations: ['A', 'B'],
  configSchema: { type: 'object' },
  defaultConfig: {},
  create: () => ({ onMsg: (msg) => tell(msg, 'A', 'B') }),
});
const Acker = defineNode<{ version?: number }>({
  type: 'test.Acker',
  category: 'FLOW',
  uiName: 'acker',
  version: 0,
  relations: ['Success'],
  configSchema: { type: 'object' },
  defaultConfig: {},
  create: () => ({
    onMsg: (msg, ctx) => {
      ctx.ack();
      return tellSuccess(msg);
    },
  }),
});

const Later = defineNode<{ version?: number }>({
  type: 'test.Later',
  category: 'ACTION',
  uiName: 'later',
  version: 0,
  relations: ['Success'],
  configSchema: { type: 'object' },
  defaultConfig: {},
  create: () => ({
    onMsg: async (msg, ctx) => {
      ctx.ack();
      await ctx.enqueueForTellNext(transformMsg(msg, { metaData: { ...msg.metaData, path: `${msg.metaData.path ?? ''}L` } }), 'Success');
      return undefined;
    },
  }),
});

/** What ctx.hasConnection answered, per relation asked. */
const asked: Record<string, boolean | undefined> = {};
const Asks = defineNode<{ version?: number }>({
  type: 'test.Asks',
  category: 'ACTION',
  uiName: 'asks',
  version: 0,
  relations: ['Success', 'Failure'],
  configSchema: { type: 'object' },
  defaultConfig: {},
  create: () => ({
    onMsg: (msg, ctx) => {
      for (const r of ['Success', 'success', 'Failure']) asked[r] = ctx.hasConnection?.(r);
      return undefined;
    },
  }),
});

const sunk: TbMsg[] = [];
const Sink = defineNode<{ version?: number }>({
  type: 'test.Sink',
  category: 'ACTION',
  uiName: 'sink',
  version: 0,
  relations: [],
  configSchema: { type: 'object' },
  defaultConfig: {},
  create: () => ({
    onMsg: (msg) => {
      sunk.push(msg);
      return undefined;
    },
  }),
});

const registry = new NodeRegistry([
  Asks,
  Later,
  Sink,
  Tag,
  AsyncTag,
  Fail,
  Both,
  Acker,
  TbMsgTypeSwitchNode,
  TbRuleChainInputNode,
  TbRuleChainOutputNode,
] as RuleNodeDefinition<unknown>[]);

function load(docs: { name: string; doc: unknown }[], max = 50): { runtime: ChainRuntime; chains: ImportedChain[] } {
  const imported = docs.map(({ name, doc }) => {
    const r = importChain(doc, { source: `${name}.json`, registry });
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    return r.chain;
  });
  const linked = linkChains(imported);
  if (linked.issues.length > 0) throw new Error(JSON.stringify(linked.issues));
  const runtime = new ChainRuntime({ services: testServices(), maxNodeExecutionsPerMessage: max });
  runtime.load(linked.chains);
  return { runtime, chains: linked.chains };
}

async function run(runtime: ChainRuntime, chainId: string) {
  const ends: BranchEnd[] = [];
  const outcome = await runtime.process(testMsg(), { chainId, onBranchEnd: (e) => ends.push(e) });
  return { outcome, ends, paths: ends.map((e) => e.msg.metaData.path ?? '').sort() };
}

describe('ChainRuntime', () => {
  it('follows connections by relation type, case-insensitively', async () => {
    const doc = chainDoc('c', [{ type: 'org.thingsboard.rule.engine.filter.TbMsgTypeSwitchNode', name: 'switch' }, { type: 'test.Tag', name: 't', configuration: { tag: 'T' } }], [[0, 1, 'POST TELEMETRY']]);
    const { runtime, chains } = load([{ name: 'c', doc }]);
    const { outcome, paths } = await run(runtime, chains[0].id);
    expect(outcome.status).to.equal('success');
    expect(paths).to.deep.equal(['T']);
  });

  it('treats the v2.0 relation "RPC Request" as "RPC Request from Device"', async () => {
    const doc = chainDoc('c', [{ type: 'org.thingsboard.rule.engine.filter.TbMsgTypeSwitchNode', name: 'switch' }, { type: 'test.Tag', name: 't', configuration: { tag: 'R' } }], [[0, 1, 'RPC Request']]);
    const { runtime, chains } = load([{ name: 'c', doc }]);
    const ends: BranchEnd[] = [];
    await runtime.process(testMsg({ type: 'TO_SERVER_RPC_REQUEST' }), { chainId: chains[0].id, onBranchEnd: (e) => ends.push(e) });
    expect(ends.map((e) => e.msg.metaData.path)).to.deep.equal(['R']);
  });

  it('clones on fan-out (new ids) and is done only when every branch, async ones included, has ended', async () => {
    const doc = chainDoc(
      'c',
      [
        { type: 'test.Tag', name: 'start', configuration: { tag: 's' } },
        { type: 'test.AsyncTag', name: 'slow', configuration: { tag: 'L', delayMs: 30 } },
        { type: 'test.AsyncTag', name: 'fast', configuration: { tag: 'F', delayMs: 1 } },
        { type: 'test.Tag', name: 'sync', configuration: { tag: 'S' } },
      ],
      [[0, 1, 'Success'], [0, 2, 'Success'], [0, 3, 'Success']],
    );
    const { runtime, chains } = load([{ name: 'c', doc }]);
    const msg = testMsg();
    const ends: BranchEnd[] = [];
    const outcome = await runtime.process(msg, { chainId: chains[0].id, onBranchEnd: (e) => ends.push(e) });
    expect(outcome).to.deep.equal({ status: 'success', nodeExecutions: 4 });
    expect(ends.map((e) => e.msg.metaData.path).sort()).to.deep.equal(['sF', 'sL', 'sS']);
    const ids = new Set(ends.map((e) => e.msg.id));
    expect(ids.size).to.equal(3);
    expect(ids.has(msg.id)).to.equal(false);
  });

  it('keeps the message id on a single connection', async () => {
    const doc = chainDoc('c', [{ type: 'test.Tag', name: 'a' }, { type: 'test.Tag', name: 'b' }], [[0, 1, 'Success']]);
    const { runtime, chains } = load([{ name: 'c', doc }]);
    const msg = testMsg();
    const ends: BranchEnd[] = [];
    await runtime.process(msg, { chainId: chains[0].id, onBranchEnd: (e) => ends.push(e) });
    expect(ends[0].msg.id).to.equal(msg.id);
  });

  it('sends one output on several relations to every matching connection', async () => {
    const doc = chainDoc('c', [{ type: 'test.Both', name: 'both' }, { type: 'test.Tag', name: 'a', configuration: { tag: 'A' } }, { type: 'test.Tag', name: 'b', configuration: { tag: 'B' } }], [[0, 1, 'A'], [0, 2, 'B']]);
    const { runtime, chains } = load([{ name: 'c', doc }]);
    expect((await run(runtime, chains[0].id)).paths).to.deep.equal(['A', 'B']);
  });

  for (const how of ['tell', 'throw', 'reject']) {
    it(`marks the message failed when Failure (${how}) has no connection, and follows Failure when it has one`, async () => {
      const unconnected = chainDoc('u', [{ type: 'test.Fail', name: 'f', configuration: { how } }], []);
      const connected = chainDoc('k', [{ type: 'test.Fail', name: 'f', configuration: { how } }, { type: 'test.Tag', name: 'handler', configuration: { tag: 'H' } }], [[0, 1, 'Failure']]);
      const { runtime, chains } = load([{ name: 'u', doc: unconnected }, { name: 'k', doc: connected }]);
      const failed = await run(runtime, chains[0].id);
      expect(failed.outcome.status).to.equal('failure');
      if (failed.outcome.status === 'failure') expect(failed.outcome.error).to.match(/node "f": boom/);
      const handled = await run(runtime, chains[1].id);
      expect(handled.outcome.status).to.equal('success');
      expect(handled.ends[0].msg.metaData.error).to.match(/boom/);
    });
  }

  it('ends an unconnected non-failure relation quietly', async () => {
    const doc = chainDoc('c', [{ type: 'test.Both', name: 'both' }], []);
    const { runtime, chains } = load([{ name: 'c', doc }]);
    const r = await run(runtime, chains[0].id);
    expect(r.outcome.status).to.equal('success');
    expect(r.ends[0].relations).to.deep.equal(['A', 'B']);
  });

  it('stops a message after the per-message node limit and names the nodes it went through', async () => {
    // A binary fan-out tree: 1 + 2 + 4 + 8 nodes run for 4 levels.
    const nodes = Array.from({ length: 15 }, (_, i) => ({ type: 'test.Tag', name: `n${i}` }));
    const conns: [number, number, string][] = [];
    for (let i = 0; i < 7; i++) conns.push([i, 2 * i + 1, 'Success'], [i, 2 * i + 2, 'Success']);
    const { runtime, chains } = load([{ name: 'tree', doc: chainDoc('tree', nodes, conns) }], 10);
    const r = await run(runtime, chains[0].id);
    expect(r.outcome.status).to.equal('failure');
    if (r.outcome.status === 'failure') {
      expect(r.outcome.error).to.match(/Message is processed by more than 10 rule nodes!/);
      expect(r.outcome.error).to.match(/"tree"\/"n\d+"/);
    }
  });

  it('runs nested chains through rule chain input and output nodes, with a return stack', async () => {
    const inner = chainDoc('Inner', [{ type: 'test.Tag', name: 'in', configuration: { tag: 'i' } }, { type: 'org.thingsboard.rule.engine.flow.TbRuleChainOutputNode', name: 'Done' }], [[0, 1, 'Success']]);
    const outer = chainDoc(
      'Outer',
      [
        { type: 'test.Tag', name: 'o1', configuration: { tag: 'o' } },
        { type: 'org.thingsboard.rule.engine.flow.TbRuleChainInputNode', name: 'Inner', configuration: { ruleChainId: 'b0000000-0000-0000-0000-000000000000' }, configurationVersion: 1 },
        { type: 'test.Tag', name: 'after', configuration: { tag: 'A' } },
      ],
      [[0, 1, 'Success'], [1, 2, 'done']],
    );
    const { runtime, chains } = load([{ name: 'outer', doc: outer }, { name: 'inner', doc: inner }]);
    const r = await run(runtime, chains[0].id);
    expect(r.outcome.status).to.equal('success');
    expect(r.paths).to.deep.equal(['oiA']);
  });

  it('fails a message that loops across chains, naming the loop', async () => {
    const a = chainDoc('A', [{ type: 'org.thingsboard.rule.engine.flow.TbRuleChainInputNode', name: 'B', configuration: { ruleChainId: 'x' } }], []);
    const b = chainDoc('B', [{ type: 'org.thingsboard.rule.engine.flow.TbRuleChainInputNode', name: 'A', configuration: { ruleChainId: 'y' } }], []);
    const { runtime, chains } = load([{ name: 'a', doc: a }, { name: 'b', doc: b }]);
    const r = await run(runtime, chains[0].id);
    expect(r.outcome.status).to.equal('failure');
    if (r.outcome.status === 'failure') expect(r.outcome.error).to.match(/rule chain loop: "A"\/"B" → "B"\/"A" → "A"/);
  });

  it('emits trace events only when tracing is on', async () => {
    const doc = chainDoc('c', [{ type: 'test.Tag', name: 'a' }, { type: 'test.Fail', name: 'f' }], [[0, 1, 'Success']]);
    const { runtime, chains } = load([{ name: 'c', doc }]);
    const events: TraceEvent[] = [];
    runtime.trace.events$.subscribe((e) => events.push(e));
    await run(runtime, chains[0].id);
    expect(events).to.have.length(0);
    runtime.trace.enabled = true;
    await run(runtime, chains[0].id);
    expect(events.map((e) => [e.nodeName, e.relations.join()])).to.deep.equal([['a', 'Success'], ['f', 'Failure']]);
    expect(events[1].error).to.equal('boom (told)');
    expect(events[0].durationMs).to.be.a('number');
  });

  it('lets a node acknowledge early, once, while processing goes on', async () => {
    const doc = chainDoc('c', [{ type: 'test.Acker', name: 'ack' }, { type: 'test.AsyncTag', name: 'later', configuration: { delayMs: 20 } }], [[0, 1, 'Success']]);
    const { runtime, chains } = load([{ name: 'c', doc }]);
    const order: string[] = [];
    const done = runtime.process(testMsg(), { chainId: chains[0].id, onAck: () => order.push('ack') }).then(() => order.push('done'));
    await done;
    expect(order).to.deep.equal(['ack', 'done']);
  });

  it('tells a node which of its relations are connected now (relations match case-insensitively)', async () => {
    const doc = chainDoc('c', [{ type: 'test.Asks', name: 'asks' }, { type: 'test.Sink', name: 'sink' }], [[0, 1, 'Success']]);
    const { runtime, chains } = load([{ name: 'c', doc }]);
    await run(runtime, chains[0].id);
    expect(asked).to.deep.equal({ Success: true, success: true, Failure: false });
  });

  it('resumes a message a node sends on later after that node (in memory, without queues), inside nested chains too', async () => {
    const inner = chainDoc('Inner', [{ type: 'test.Later', name: 'later' }, { type: 'org.thingsboard.rule.engine.flow.TbRuleChainOutputNode', name: 'Back' }], [[0, 1, 'Success']]);
    const outer = chainDoc('Outer', [
      { type: 'org.thingsboard.rule.engine.flow.TbRuleChainInputNode', name: 'Inner', configuration: { ruleChainId: 'z' } },
      { type: 'test.Sink', name: 'after' },
    ], [[0, 1, 'Back']]);
    const { runtime, chains } = load([{ name: 'outer', doc: outer }, { name: 'inner', doc: inner }]);
    sunk.length = 0;
    const acks: string[] = [];
    const first = await runtime.process(testMsg(), { chainId: chains[0].id, onAck: () => acks.push('ack') });
    expect(first.status).to.equal('success');
    expect(acks).to.deep.equal(['ack']);
    for (let i = 0; i < 50 && sunk.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(sunk.map((m) => m.metaData.path)).to.deep.equal(['L']);
  });

  it('routes messages to the root chain of their tenant', async () => {
    const a = chainDoc('A', [{ type: 'test.Tag', name: 'a', configuration: { tag: 'a' } }], []);
    const b = chainDoc('B', [{ type: 'test.Tag', name: 'b', configuration: { tag: 'b' } }], []);
    const { runtime, chains } = load([{ name: 'a', doc: a }, { name: 'b', doc: b }]);
    runtime.setRootChain(chains[0].id, 'tenant-a');
    runtime.setRootChain(chains[1].id, 'tenant-b');
    const ends: BranchEnd[] = [];
    await runtime.process(testMsg({ tenantId: 'tenant-b' }), { onBranchEnd: (e) => ends.push(e) });
    await runtime.process(testMsg({ tenantId: 'tenant-a' }), { onBranchEnd: (e) => ends.push(e) });
    expect(ends.map((e) => e.msg.metaData.path)).to.deep.equal(['b', 'a']);
    const none = await runtime.process(testMsg({ tenantId: 'tenant-c' }));
    expect(none.status === 'failure' && none.error).to.match(/no root rule chain is set for tenant tenant-c/);
  });

  it('gives nodes ids that follow from the chain id, so a reloaded chain keeps them', () => {
    const doc = chainDoc('c', [{ type: 'test.Tag', name: 'a' }, { type: 'test.Tag', name: 'b' }], []);
    const one = importChain(doc, { source: 'c', registry, chainId: '11111111-1111-1111-1111-111111111111' });
    const two = importChain(doc, { source: 'c', registry, chainId: '11111111-1111-1111-1111-111111111111' });
    if (!one.ok || !two.ok) throw new Error('import failed');
    expect(one.chain.nodes.map((n) => n.id)).to.deep.equal(two.chain.nodes.map((n) => n.id));
    expect(one.chain.nodes[0].id).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(one.chain.nodes[0].id).to.not.equal(one.chain.nodes[1].id);
  });

  it('answers a message for an unknown chain with a failure, not a hang', async () => {
    const { runtime } = load([]);
    const outcome = await runtime.process(testMsg());
    expect(outcome.status).to.equal('failure');
  });

  it('refuses to load a chain whose rule chain node points nowhere', () => {
    const doc = chainDoc('c', [{ type: 'org.thingsboard.rule.engine.flow.TbRuleChainInputNode', name: 'Nowhere', configuration: { ruleChainId: 'missing' } }], []);
    const r = importChain(doc, { source: 'c.json', registry });
    if (!r.ok) throw new Error('import failed');
    const runtime = new ChainRuntime({ services: testServices(), maxNodeExecutionsPerMessage: 0 });
    expect(() => runtime.load([r.chain])).to.throw(ChainImportError, /c\.json: \/metadata\/nodes\/0\/configuration\/ruleChainId \(node #0 "Nowhere"\): rule chain missing is not loaded/);
  });
});
