import { expect } from 'chai';
import { FAILURE, NodeConfigError, SUCCESS, type NodeOutput } from '../../../src/engine/node-api.js';
import type { ScriptEngine } from '../../../src/engine/script/index.js';
import { DEFAULT_LOG_SCRIPT, TbLogNode } from '../../../src/nodes/action/TbLogNode.js';
import { createNode, relationsOf, runNode, testMsg, testServices } from '../../helpers/node-harness.js';
import { testScriptEngine } from '../../helpers/script-harness.js';

describe('TbLogNode', () => {
  let engine: ScriptEngine;
  before(() => {
    engine = testScriptEngine();
  });
  after(() => engine.dispose());

  /** A log node with its own services, so each test reads only its own log lines. */
  const logNode = (config: Record<string, unknown>) => {
    const services = testServices({ scripts: engine });
    const { node } = createNode(TbLogNode, config, { services });
    return { node, services };
  };
  const errorOf = (outputs: NodeOutput[]) => (outputs[0]?.kind === 'tell' ? outputs[0].error : undefined);

  it('has the catalogue identity and default configuration', () => {
    expect(TbLogNode.type).to.equal('org.thingsboard.rule.engine.action.TbLogNode');
    expect(TbLogNode.category).to.equal('ACTION');
    expect(TbLogNode.relations).to.deep.equal([SUCCESS, FAILURE]);
    expect(TbLogNode.defaultConfig).to.deep.equal({ scriptLang: 'TBEL', jsScript: DEFAULT_LOG_SCRIPT, tbelScript: DEFAULT_LOG_SCRIPT });
    expect(DEFAULT_LOG_SCRIPT).to.equal(
      "return '\\nIncoming message:\\n' + JSON.stringify(msg) + '\\nIncoming metadata:\\n' + JSON.stringify(metadata);",
    );
  });

  for (const lang of ['TBEL', 'JS'] as const) {
    it(`logs the default ${lang} script without running a script`, async () => {
      // The harness's default engine throws on compile: the default script must not need one.
      const services = testServices();
      const { node } = createNode(TbLogNode, { ...TbLogNode.defaultConfig, scriptLang: lang }, { services });
      const msg = testMsg({ data: '{"temperature": 25}', metaData: { deviceName: 'Thermostat' } });
      expect(relationsOf(await runNode(node, msg, services))).to.deep.equal([SUCCESS]);
      expect(services.logs).to.deep.equal(['INFO \nIncoming message:\n{"temperature": 25}\nIncoming metadata:\n{"deviceName":"Thermostat"}']);
    });
  }

  it('logs the string a JS script returns', async () => {
    const { node, services } = logNode({ scriptLang: 'JS', jsScript: "return 'temperature = ' + msg.temperature + ' on ' + metadata.deviceName;" });
    expect(relationsOf(await runNode(node, testMsg(), services))).to.deep.equal([SUCCESS]);
    expect(services.logs).to.deep.equal(['INFO temperature = 25 on Thermostat']);
  });

  it('reads a missing scriptLang as JS', async () => {
    const { node, services } = logNode({ jsScript: "return 'js';", tbelScript: "return 'tbel';" });
    await runNode(node, testMsg(), services);
    expect(services.logs).to.deep.equal(['INFO js']);
  });

  it('fails a JS script that does not return a string', async () => {
    const { node, services } = logNode({ jsScript: 'return {t: msg.temperature};' });
    const outputs = (await runNode(node, testMsg(), services)).outputs;
    expect(relationsOf({ outputs, acked: false })).to.deep.equal([FAILURE]);
    expect(errorOf(outputs)).to.equal('Wrong result type: OBJECT');
    expect(services.logs).to.deep.equal([]);
  });

  it('stringifies what a TBEL script returns', async () => {
    const { node, services } = logNode({ scriptLang: 'TBEL', tbelScript: 'return {"t": msg.temperature};' });
    expect(relationsOf(await runNode(node, testMsg(), services))).to.deep.equal([SUCCESS]);
    expect(services.logs).to.deep.equal(['INFO {"t":25}']);
  });

  it('logs a TBEL string built with Java-style methods', async () => {
    const { node, services } = logNode({ scriptLang: 'TBEL', tbelScript: '"device " + metadata.deviceName.toUpperCase() + " sent " + msg.keySet().size() + " keys"' });
    await runNode(node, testMsg(), services);
    expect(services.logs).to.deep.equal(['INFO device THERMOSTAT sent 1 keys']);
  });

  it('sends a script error to Failure without logging', async () => {
    const { node, services } = logNode({ jsScript: 'throw new Error("cannot format");' });
    const outputs = (await runNode(node, testMsg(), services)).outputs;
    expect(relationsOf({ outputs, acked: false })).to.deep.equal([FAILURE]);
    expect(errorOf(outputs)).to.equal('cannot format');
    expect(services.logs).to.deep.equal([]);
  });

  it('refuses a blank or broken script at creation', () => {
    expect(() => logNode({ jsScript: '' })).to.throw(NodeConfigError).with.property('pointer', '/jsScript');
    expect(() => logNode({ scriptLang: 'TBEL', tbelScript: '   ' })).to.throw(NodeConfigError).with.property('pointer', '/tbelScript');
    expect(() => logNode({ jsScript: "return 'a' +;" })).to.throw(NodeConfigError, /line 1/);
  });
});
