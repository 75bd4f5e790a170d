import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { FAILURE, NodeConfigError, SUCCESS, type RuleNode } from '../../../src/engine/node-api.js';
import { prepareNodeConfig } from '../../../src/engine/importer/node-config.js';
import type { ScriptEngine } from '../../../src/engine/script/index.js';
import { TbMsgGeneratorNode } from '../../../src/nodes/action/TbMsgGeneratorNode.js';
import { createNode, relationsOf, runNode, testMsg, testServices } from '../../helpers/node-harness.js';
import { testScriptEngine } from '../../helpers/script-harness.js';

/** Polls until `done` holds (timers may run late on a busy machine). */
async function waitFor(done: () => boolean, timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await sleep(5);
  }
}

const COUNTER = 'return {msg: {n: (prevMsg.n || 0) + 1}, metadata: {step: "" + ((prevMsg.n || 0) + 1)}, msgType: "GENERATED"};';

describe('TbMsgGeneratorNode', () => {
  let engine: ScriptEngine;
  const nodes: RuleNode[] = [];
  before(() => {
    engine = testScriptEngine();
  });
  after(() => engine.dispose());
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.destroy?.();
  });

  const generator = (config: Record<string, unknown>, opts: { queueName?: string | null; configurationVersion?: number } = {}) => {
    const created = createNode(TbMsgGeneratorNode, config, { ...opts, services: testServices({ scripts: engine }) });
    nodes.push(created.node);
    return created;
  };

  it('has the catalogue identity and default configuration', () => {
    expect(TbMsgGeneratorNode.type).to.equal('org.thingsboard.rule.engine.debug.TbMsgGeneratorNode');
    expect(TbMsgGeneratorNode.category).to.equal('ACTION');
    expect(TbMsgGeneratorNode.uiName).to.equal('generator');
    expect(TbMsgGeneratorNode.version).to.equal(2);
    expect(TbMsgGeneratorNode.relations).to.deep.equal([SUCCESS, FAILURE]);
    const script =
      'var msg = { temp: 42, humidity: 77 };\nvar metadata = { data: 40 };\nvar msgType = "POST_TELEMETRY_REQUEST";\n\nreturn { msg: msg, metadata: metadata, msgType: msgType };';
    expect(TbMsgGeneratorNode.defaultConfig).to.deep.equal({
      msgCount: 0,
      periodInSeconds: 1,
      originatorType: 'RULE_NODE',
      scriptLang: 'TBEL',
      jsScript: script,
      tbelScript: script,
    });
  });

  it('runs the default TBEL script each period and sends its message from the node, in the node queue', async () => {
    const { enqueued } = generator({ ...TbMsgGeneratorNode.defaultConfig, periodInSeconds: 0.03 }, { queueName: 'HighPriority' });
    await waitFor(() => enqueued.length >= 2);
    const [first, second] = enqueued;
    expect(first.relations).to.deep.equal([SUCCESS]);
    expect(first.msg.type).to.equal('POST_TELEMETRY_REQUEST');
    expect(JSON.parse(first.msg.data)).to.deep.equal({ temp: 42, humidity: 77 });
    expect(first.msg.metaData).to.deep.equal({ data: '40' });
    expect(first.msg.originator).to.deep.equal({ entityType: 'RULE_NODE', id: 'node-1' });
    expect(first.msg.queueName).to.equal('HighPriority');
    expect(second.msg.id).to.not.equal(first.msg.id);
  });

  it('hands the previous message to the script and stops after msgCount messages', async () => {
    const { enqueued } = generator({ msgCount: 3, periodInSeconds: 0.02, scriptLang: 'JS', jsScript: COUNTER });
    await waitFor(() => enqueued.length >= 3);
    await sleep(60);
    expect(enqueued.map((e) => JSON.parse(e.msg.data) as unknown)).to.deep.equal([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(enqueued.map((e) => e.msg.metaData.step)).to.deep.equal(['1', '2', '3']);
    expect(enqueued.every((e) => e.msg.type === 'GENERATED' && e.msg.queueName === 'Main')).to.equal(true);
  });

  it('sends the tick on Failure with the reason when the script fails, counting it', async () => {
    const { enqueued } = generator({ msgCount: 2, periodInSeconds: 0.02, scriptLang: 'JS', jsScript: 'throw new Error("boom");' });
    await waitFor(() => enqueued.length >= 2);
    await sleep(50);
    expect(enqueued).to.have.length(2);
    expect(enqueued[0].relations).to.deep.equal([FAILURE]);
    expect(enqueued[0].msg.metaData.error).to.match(/boom/);
    expect(enqueued[0].msg.originator).to.deep.equal({ entityType: 'RULE_NODE', id: 'node-1' });
  });

  it('sends from the configured originator', async () => {
    const id = '7e57d004-0000-4000-8000-000000000001';
    const { enqueued } = generator({ ...TbMsgGeneratorNode.defaultConfig, periodInSeconds: 0.02, originatorType: 'DEVICE', originatorId: id });
    await waitFor(() => enqueued.length >= 1);
    expect(enqueued[0].msg.originator).to.deep.equal({ entityType: 'DEVICE', id });
  });

  it('needs an originator id for entity originators, and refuses unsupported types', () => {
    expect(() => generator({ ...TbMsgGeneratorNode.defaultConfig, originatorType: 'DEVICE' }))
      .to.throw(NodeConfigError, 'Originator entity must be selected.')
      .with.property('pointer', '/originatorId');
    expect(() => generator({ ...TbMsgGeneratorNode.defaultConfig, originatorType: 'ALARM', originatorId: 'x' })).to.throw(/originatorType/);
  });

  it('takes no input: a message sent to it fails', async () => {
    const { node } = generator({ ...TbMsgGeneratorNode.defaultConfig, periodInSeconds: 60 });
    const result = await runNode(node, testMsg());
    expect(relationsOf(result)).to.deep.equal([FAILURE]);
  });

  it('stops when destroyed', async () => {
    const { node, enqueued } = generator({ ...TbMsgGeneratorNode.defaultConfig, periodInSeconds: 0.02 });
    await node.destroy?.();
    await sleep(60);
    expect(enqueued).to.deep.equal([]);
  });

  describe('upgrade', () => {
    const v0 = { msgCount: 0, periodInSeconds: 1, queueName: 'HighPriority', jsScript: COUNTER };

    it('v0: keeps the old queueName for the node and sets a RULE_NODE originator', () => {
      const prepared = prepareNodeConfig(TbMsgGeneratorNode, { ...v0, originatorType: null, originatorId: null }, 0);
      expect(prepared).to.deep.equal({ ok: true, config: { ...v0, originatorType: 'RULE_NODE' } });
    });

    it('v0 queueName is used when the node has none, and the node queueName wins', async () => {
      const fromConfig = generator({ ...v0, periodInSeconds: 0.02 }, { configurationVersion: 0 });
      const fromNode = generator({ ...v0, periodInSeconds: 0.02 }, { configurationVersion: 0, queueName: 'Main' });
      await waitFor(() => fromConfig.enqueued.length >= 1 && fromNode.enqueued.length >= 1);
      expect(fromConfig.enqueued[0].msg.queueName).to.equal('HighPriority');
      expect(fromNode.enqueued[0].msg.queueName).to.equal('Main');
    });

    it('v1: keeps a complete originator, replaces an incomplete one', () => {
      const complete = { msgCount: 0, periodInSeconds: 1, jsScript: COUNTER, originatorType: 'DEVICE', originatorId: 'dev-1' };
      expect(prepareNodeConfig(TbMsgGeneratorNode, complete, 1)).to.deep.equal({ ok: true, config: complete });
      const typeOnly = prepareNodeConfig(TbMsgGeneratorNode, { msgCount: 0, periodInSeconds: 1, originatorType: 'TENANT', jsScript: COUNTER }, 1);
      expect(prepared(typeOnly).originatorType).to.equal('RULE_NODE');
    });
  });
});

function prepared<C>(result: { ok: true; config: C } | { ok: false; problems: unknown[] }): C {
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config;
}
