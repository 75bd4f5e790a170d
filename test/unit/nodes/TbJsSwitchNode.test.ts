import { expect } from 'chai';
import { FAILURE, NodeConfigError, type NodeOutput } from '../../../src/engine/node-api.js';
import type { ScriptEngine } from '../../../src/engine/script/index.js';
import { TbJsSwitchNode } from '../../../src/nodes/filter/TbJsSwitchNode.js';
import { createNode, relationsOf, runNode, testMsg, testServices } from '../../helpers/node-harness.js';
import { testScriptEngine } from '../../helpers/script-harness.js';

describe('TbJsSwitchNode', () => {
  let engine: ScriptEngine;
  before(() => {
    engine = testScriptEngine();
  });
  after(() => engine.dispose());

  const switchNode = (config: Record<string, unknown>) => createNode(TbJsSwitchNode, config, { services: testServices({ scripts: engine }) }).node;
  const errorOf = (outputs: NodeOutput[]) => (outputs[0]?.kind === 'tell' ? outputs[0].error : undefined);

  it('has the catalogue identity: script-named relations plus Failure', () => {
    expect(TbJsSwitchNode.type).to.equal('org.thingsboard.rule.engine.filter.TbJsSwitchNode');
    expect(TbJsSwitchNode.uiName).to.equal('switch');
    expect(TbJsSwitchNode.customRelations).to.equal(true);
    expect(TbJsSwitchNode.relations).to.deep.equal([FAILURE]);
    expect(TbJsSwitchNode.defaultConfig.scriptLang).to.equal('TBEL');
  });

  for (const lang of ['TBEL', 'JS'] as const) {
    it(`routes with the default ${lang} script`, async () => {
      const node = switchNode({ ...TbJsSwitchNode.defaultConfig, scriptLang: lang });
      expect(relationsOf(await runNode(node, testMsg({ type: 'POST_TELEMETRY_REQUEST' })))).to.deep.equal(['two']);
      expect(relationsOf(await runNode(node, testMsg({ type: 'POST_ATTRIBUTES_REQUEST' })))).to.deep.equal(['one', 'nine']);
    });
  }

  it('routes on a single relation name', async () => {
    const node = switchNode({ jsScript: 'return msg.temperature > 20 ? "Hot" : "Cold";' });
    expect(relationsOf(await runNode(node, testMsg({ data: { temperature: 30 } })))).to.deep.equal(['Hot']);
  });

  it('sends one output on every distinct relation, keeping the message', async () => {
    const msg = testMsg();
    const result = await runNode(switchNode({ jsScript: 'return ["a", "b", "a"];' }), msg);
    expect(result.outputs).to.have.length(1);
    expect(relationsOf(result)).to.deep.equal(['a', 'b']);
    expect(result.outputs[0]?.msg).to.equal(msg);
  });

  it('routes nowhere on an empty list', async () => {
    expect((await runNode(switchNode({ jsScript: 'return [];' }), testMsg())).outputs).to.deep.equal([]);
  });

  it('reads a missing scriptLang as JS', async () => {
    const node = switchNode({ jsScript: 'return "js";', tbelScript: 'return "tbel";' });
    expect(relationsOf(await runNode(node, testMsg()))).to.deep.equal(['js']);
  });

  it('builds relations in TBEL with list methods', async () => {
    const node = switchNode({ scriptLang: 'TBEL', tbelScript: 'var r = [];\nif (metadata.deviceType.equals("default")) { r.add("Default"); }\nr' });
    expect(relationsOf(await runNode(node, testMsg()))).to.deep.equal(['Default']);
  });

  it('sends other results to Failure', async () => {
    for (const [script, type] of [['return 1;', 'NUMBER'], ['return ["a", 2];', 'NUMBER'], ['return {a: "b"};', 'OBJECT'], ['return null;', 'NULL']]) {
      const outputs = (await runNode(switchNode({ jsScript: script }), testMsg())).outputs;
      expect(relationsOf({ outputs, acked: false })).to.deep.equal([FAILURE]);
      expect(errorOf(outputs)).to.equal(`Wrong result type: ${type}`);
    }
  });

  it('sends a script error to Failure', async () => {
    const outputs = (await runNode(switchNode({ jsScript: 'return msg.a.b;' }), testMsg())).outputs;
    expect(relationsOf({ outputs, acked: false })).to.deep.equal([FAILURE]);
    expect(errorOf(outputs)).to.match(/undefined/);
  });

  it('refuses a blank or broken script at creation', () => {
    expect(() => switchNode({ scriptLang: 'TBEL', tbelScript: '' })).to.throw(NodeConfigError).with.property('pointer', '/tbelScript');
    expect(() => switchNode({ jsScript: 'return [;' })).to.throw(NodeConfigError, /line 1/);
  });
});
