import { expect } from 'chai';
import { FAILURE, NodeConfigError, type NodeOutput } from '../../../src/engine/node-api.js';
import type { ScriptEngine } from '../../../src/engine/script/index.js';
import { TbJsFilterNode } from '../../../src/nodes/filter/TbJsFilterNode.js';
import { createNode, relationsOf, runNode, testMsg, testServices } from '../../helpers/node-harness.js';
import { testScriptEngine } from '../../helpers/script-harness.js';

describe('TbJsFilterNode', () => {
  let engine: ScriptEngine;
  before(() => {
    engine = testScriptEngine();
  });
  after(() => engine.dispose());

  const filter = (config: Record<string, unknown>) => createNode(TbJsFilterNode, config, { services: testServices({ scripts: engine }) }).node;
  const errorOf = (outputs: NodeOutput[]) => (outputs[0]?.kind === 'tell' ? outputs[0].error : undefined);

  it('has the catalogue identity and default configuration', () => {
    expect(TbJsFilterNode.type).to.equal('org.thingsboard.rule.engine.filter.TbJsFilterNode');
    expect(TbJsFilterNode.category).to.equal('FILTER');
    expect(TbJsFilterNode.relations).to.deep.equal(['True', 'False', 'Failure']);
    expect(TbJsFilterNode.defaultConfig).to.deep.equal({
      scriptLang: 'TBEL',
      jsScript: 'return msg.temperature > 20;',
      tbelScript: 'return msg.temperature > 20;',
    });
  });

  it('routes with the default (TBEL) configuration', async () => {
    const node = filter({ ...TbJsFilterNode.defaultConfig });
    expect(relationsOf(await runNode(node, testMsg({ data: { temperature: 25 } })))).to.deep.equal(['True']);
    expect(relationsOf(await runNode(node, testMsg({ data: { temperature: 15 } })))).to.deep.equal(['False']);
  });

  it('routes with a JS script', async () => {
    const node = filter({ scriptLang: 'JS', jsScript: "return typeof msg.temperature !== 'undefined' && metadata.deviceName === 'Thermostat';" });
    expect(relationsOf(await runNode(node, testMsg()))).to.deep.equal(['True']);
    expect(relationsOf(await runNode(node, testMsg({ data: { humidity: 1 } })))).to.deep.equal(['False']);
  });

  it('runs the public monitoring chain TBEL filter', async () => {
    const node = filter({ scriptLang: 'TBEL', tbelScript: 'var a = "a";\nvar b = "b";\nreturn a.equals("a") && b.equals("b");', jsScript: '' });
    expect(relationsOf(await runNode(node, testMsg()))).to.deep.equal(['True']);
  });

  it('reads a missing or null scriptLang as JS', async () => {
    const both = { jsScript: 'return true;', tbelScript: 'return false;' };
    expect(relationsOf(await runNode(filter(both), testMsg()))).to.deep.equal(['True']);
    expect(relationsOf(await runNode(filter({ ...both, scriptLang: null }), testMsg()))).to.deep.equal(['True']);
    expect(relationsOf(await runNode(filter({ ...both, scriptLang: 'TBEL' }), testMsg()))).to.deep.equal(['False']);
  });

  it('passes msgType to the script', async () => {
    const node = filter({ jsScript: "return msgType === 'POST_ATTRIBUTES_REQUEST';" });
    expect(relationsOf(await runNode(node, testMsg({ type: 'POST_ATTRIBUTES_REQUEST' })))).to.deep.equal(['True']);
  });

  it('sends a non-boolean result to Failure', async () => {
    for (const [script, type] of [['return "true";', 'STRING'], ['return 1;', 'NUMBER'], ['return null;', 'NULL'], ['var x = 1;', 'MISSING'], ['return {};', 'OBJECT']]) {
      const outputs = (await runNode(filter({ jsScript: script }), testMsg())).outputs;
      expect(outputs.map((o) => (o.kind === 'tell' ? o.relations : []))).to.deep.equal([[FAILURE]]);
      expect(errorOf(outputs)).to.equal(`Wrong result type: ${type}`);
    }
  });

  it('sends an exception and a timeout to Failure with the reason', async () => {
    const thrown = (await runNode(filter({ jsScript: 'throw new Error("no temperature");' }), testMsg())).outputs;
    expect(relationsOf({ outputs: thrown, acked: false })).to.deep.equal([FAILURE]);
    expect(errorOf(thrown)).to.equal('no temperature');
    const looping = (await runNode(filter({ scriptLang: 'TBEL', tbelScript: 'while (true) {}' }), testMsg())).outputs;
    expect(errorOf(looping)).to.match(/timed out/);
  });

  it('refuses a blank script at creation, pointing at it', () => {
    expect(() => filter({ jsScript: '  ' })).to.throw(NodeConfigError).with.property('pointer', '/jsScript');
    expect(() => filter({})).to.throw(NodeConfigError).with.property('pointer', '/jsScript');
    expect(() => filter({ scriptLang: 'TBEL', jsScript: 'return true;', tbelScript: null })).to.throw(NodeConfigError).with.property('pointer', '/tbelScript');
  });

  it('refuses a script that does not compile, naming the line', () => {
    expect(() => filter({ jsScript: 'var a = 1;\nreturn a >;' }))
      .to.throw(NodeConfigError, /line 2/)
      .with.property('pointer', '/jsScript');
    expect(() => filter({ scriptLang: 'TBEL', tbelScript: 'var m = new java.util.HashMap();' })).to.throw(NodeConfigError, /line 1/);
  });

  it('refuses an unknown scriptLang', () => {
    expect(() => filter({ scriptLang: 'PYTHON', jsScript: 'return true;' })).to.throw(/invalid config/);
  });
});
