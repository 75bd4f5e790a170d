import { expect } from 'chai';
import { FAILURE, NodeConfigError, SUCCESS, type NodeOutput } from '../../../src/engine/node-api.js';
import type { ScriptEngine } from '../../../src/engine/script/index.js';
import type { TbMsg } from '../../../src/msg/tb-msg.js';
import { TbTransformMsgNode } from '../../../src/nodes/transform/TbTransformMsgNode.js';
import { createNode, relationsOf, runNode, testMsg, testServices } from '../../helpers/node-harness.js';
import { testScriptEngine } from '../../helpers/script-harness.js';

describe('TbTransformMsgNode', () => {
  let engine: ScriptEngine;
  before(() => {
    engine = testScriptEngine();
  });
  after(() => engine.dispose());

  const transform = (config: Record<string, unknown>) => createNode(TbTransformMsgNode, config, { services: testServices({ scripts: engine }) }).node;
  const js = (jsScript: string) => transform({ scriptLang: 'JS', jsScript });
  const msgsOf = (outputs: NodeOutput[]): TbMsg[] => outputs.map((o) => o.msg);
  const errorOf = (outputs: NodeOutput[]) => (outputs[0]?.kind === 'tell' ? outputs[0].error : undefined);

  it('has the catalogue identity and default configuration', () => {
    expect(TbTransformMsgNode.type).to.equal('org.thingsboard.rule.engine.transform.TbTransformMsgNode');
    expect(TbTransformMsgNode.category).to.equal('TRANSFORMATION');
    expect(TbTransformMsgNode.relations).to.deep.equal([SUCCESS, FAILURE]);
    expect(TbTransformMsgNode.defaultConfig).to.deep.equal({
      scriptLang: 'TBEL',
      jsScript: 'return {msg: msg, metadata: metadata, msgType: msgType};',
      tbelScript: 'return {msg: msg, metadata: metadata, msgType: msgType};',
    });
  });

  it('passes the message through with the default script, keeping its id', async () => {
    const msg = testMsg({ data: { temperature: 25, nested: { a: [1, 2] } } });
    const result = await runNode(transform({ ...TbTransformMsgNode.defaultConfig }), msg);
    expect(relationsOf(result)).to.deep.equal([SUCCESS]);
    const [out] = msgsOf(result.outputs);
    expect(out?.id).to.equal(msg.id);
    expect(JSON.parse(out?.data ?? '')).to.deep.equal({ temperature: 25, nested: { a: [1, 2] } });
    expect(out?.metaData).to.deep.equal(msg.metaData);
    expect(out?.type).to.equal(msg.type);
  });

  it('changes data, metadata and type', async () => {
    const node = js(
      'msg.temperature = (msg.temperature - 32) * 5 / 9; metadata.unit = "C"; return {msg: msg, metadata: metadata, msgType: "CONVERTED"};',
    );
    const [out] = msgsOf((await runNode(node, testMsg({ data: { temperature: 212 } }))).outputs);
    expect(out?.data).to.equal('{"temperature":100}');
    expect(out?.metaData.unit).to.equal('C');
    expect(out?.metaData.deviceName).to.equal('Thermostat');
    expect(out?.type).to.equal('CONVERTED');
  });

  it('keeps what the result leaves out, and an empty msgType', async () => {
    const msg = testMsg();
    const [onlyType] = msgsOf((await runNode(js('return {msgType: "NEW"};'), msg)).outputs);
    expect(onlyType?.data).to.equal(msg.data);
    expect(onlyType?.metaData).to.deep.equal(msg.metaData);
    const [emptyType] = msgsOf((await runNode(js('return {msg: {a: 1}, msgType: ""};'), msg)).outputs);
    expect(emptyType?.type).to.equal(msg.type);
    expect(emptyType?.data).to.equal('{"a":1}');
  });

  it('stringifies metadata values and drops nulls', async () => {
    const [out] = msgsOf((await runNode(js('return {metadata: {n: 1, b: true, o: {x: 1}, s: "s", gone: null}};'), testMsg())).outputs);
    expect(out?.metaData).to.deep.equal({ n: '1', b: 'true', o: '{"x":1}', s: 's' });
  });

  it('writes a string msg as JSON text', async () => {
    const [out] = msgsOf((await runNode(js('return {msg: "text"};'), testMsg())).outputs);
    expect(out?.data).to.equal('"text"');
  });

  it('makes one new message per element of a list, each on Success', async () => {
    const msg = testMsg();
    const result = await runNode(js('return [{msg: {i: 1}}, {msg: {i: 2}, msgType: "SECOND"}];'), msg);
    expect(result.outputs.map((o) => (o.kind === 'tell' ? o.relations : []))).to.deep.equal([[SUCCESS], [SUCCESS]]);
    const outs = msgsOf(result.outputs);
    expect(outs.map((m) => m.data)).to.deep.equal(['{"i":1}', '{"i":2}']);
    expect(outs.map((m) => m.type)).to.deep.equal([msg.type, 'SECOND']);
    expect(new Set([msg.id, ...outs.map((m) => m.id)]).size).to.equal(3);
  });

  it('fails an empty list', async () => {
    const outputs = (await runNode(js('return [];'), testMsg())).outputs;
    expect(relationsOf({ outputs, acked: false })).to.deep.equal([FAILURE]);
    expect(errorOf(outputs)).to.equal('Message or messages list are empty!');
  });

  it('fails a result that is not an object, a list holding one, or bad metadata', async () => {
    const cases: [string, string][] = [
      ['return "x";', 'Wrong result type: STRING'],
      ['return null;', 'Wrong result type: NULL'],
      ['return;', 'Wrong result type: MISSING'],
      ['return [{msg: {}}, 5];', 'Wrong result type: NUMBER'],
      ['return {metadata: [1]};', 'Wrong metadata type: ARRAY'],
    ];
    for (const [script, error] of cases) {
      const outputs = (await runNode(js(script), testMsg())).outputs;
      expect(relationsOf({ outputs, acked: false }), script).to.deep.equal([FAILURE]);
      expect(errorOf(outputs)).to.equal(error);
    }
  });

  it('sends a script error to Failure', async () => {
    const outputs = (await runNode(js('throw new Error("bad data");'), testMsg())).outputs;
    expect(relationsOf({ outputs, acked: false })).to.deep.equal([FAILURE]);
    expect(errorOf(outputs)).to.equal('bad data');
  });

  it('keeps a __proto__ key in the result from reaching any prototype', async () => {
    const node = js('return JSON.parse(\'{"msg": {"__proto__": {"polluted": 1}}, "metadata": {"__proto__": "x", "k": "v"}}\');');
    const [out] = msgsOf((await runNode(node, testMsg())).outputs);
    expect(out?.data).to.equal('{"__proto__":{"polluted":1}}');
    expect(out?.metaData.k).to.equal('v');
    expect(Object.getPrototypeOf(out?.metaData)).to.equal(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
  });

  it('reads a missing scriptLang as JS', async () => {
    const node = transform({ jsScript: 'return {msg: {lang: "js"}};', tbelScript: 'return {msg: {lang: "tbel"}};' });
    expect(msgsOf((await runNode(node, testMsg())).outputs)[0]?.data).to.equal('{"lang":"js"}');
  });

  it('runs the monitoring chain TBEL transforms', async () => {
    const stamp = transform({ scriptLang: 'TBEL', tbelScript: 'metadata.arrivalTs = Date.now();\nreturn {msg: msg, metadata: metadata, msgType: msgType};' });
    const [stamped] = msgsOf((await runNode(stamp, testMsg({ metaData: { ts: '1000' } }))).outputs);
    expect(Number(stamped?.metaData.arrivalTs)).to.be.above(1_600_000_000_000);
    const latency = transform({
      scriptLang: 'TBEL',
      tbelScript:
        'var arrivalLatency = metadata.arrivalTs - metadata.ts;\nvar processingTime = Date.now() - metadata.arrivalTs;\nmsg = {\n    arrivalLatency: arrivalLatency,\n    processingTime: processingTime\n};\nreturn {msg: msg, metadata: metadata, msgType: msgType};',
    });
    const [measured] = msgsOf((await runNode(latency, testMsg({ metaData: { ts: '1000', arrivalTs: '1250' } }))).outputs);
    expect(JSON.parse(measured?.data ?? '').arrivalLatency).to.equal(250);
  });

  it('uses TBEL map methods on msg and metadata', async () => {
    const node = transform({
      scriptLang: 'TBEL',
      tbelScript: 'msg.put("unit", "C");\nmsg.remove("humidity");\nmetadata.put("count", msg.size());\nreturn {msg: msg, metadata: metadata};',
    });
    const [out] = msgsOf((await runNode(node, testMsg({ data: { temperature: 1, humidity: 2 } }))).outputs);
    expect(JSON.parse(out?.data ?? '')).to.deep.equal({ temperature: 1, unit: 'C' });
    expect(out?.metaData.count).to.equal('2');
  });

  it('refuses a blank or broken script at creation', () => {
    expect(() => transform({ jsScript: '' })).to.throw(NodeConfigError).with.property('pointer', '/jsScript');
    expect(() => transform({ scriptLang: 'TBEL', tbelScript: 'var x = 1;\nvar y = new ArrayList();' })).to.throw(NodeConfigError, /line 2/);
  });
});
