import { expect } from 'chai';
import { NodeConfigError, type NodeOutput } from '../../../src/engine/node-api.js';
import { TbDeleteKeysNode } from '../../../src/nodes/transform/TbDeleteKeysNode.js';
import { createNode, relationsOf, runNode, testMsg } from '../../helpers/node-harness.js';

function only(outputs: NodeOutput[]): NodeOutput {
  expect(outputs).to.have.length(1);
  return outputs[0] as NodeOutput;
}

describe('TbDeleteKeysNode', () => {
  const msg = testMsg({ data: JSON.stringify({ temperature: 25, temp2: 1, humidity: 3 }), metaData: { deviceName: 'T1', deviceType: 'x', ts: '1' } });

  it('DATA: deletes whole-matching top-level data keys, keeping the id', async () => {
    const { node } = createNode(TbDeleteKeysNode, { deleteFrom: 'DATA', keys: ['temp.*', 'humid'] });
    const out = only((await runNode(node, msg)).outputs);
    expect(out.kind === 'tell' && out.relations).to.deep.equal(['Success']);
    expect(JSON.parse(out.msg.data)).to.deep.equal({ humidity: 3 });
    expect(out.msg.id).to.equal(msg.id);
    expect(out.msg.metaData).to.deep.equal(msg.metaData);
  });

  it('METADATA: deletes matching metadata keys', async () => {
    const { node } = createNode(TbDeleteKeysNode, { deleteFrom: 'METADATA', keys: ['device.*'] });
    const out = only((await runNode(node, msg)).outputs);
    expect(out.msg.metaData).to.deep.equal({ ts: '1' });
    expect(out.msg.data).to.equal(msg.data);
  });

  it('passes the same message when nothing matches or the data is not a JSON object', async () => {
    const { node } = createNode(TbDeleteKeysNode, { keys: ['nope'] });
    expect(only((await runNode(node, msg)).outputs).msg).to.equal(msg);
    const text = testMsg({ data: '"just text"' });
    expect(only((await runNode(createNode(TbDeleteKeysNode, { keys: ['.*'] }).node, text)).outputs).msg).to.equal(text);
  });

  it('sends data that is not JSON to Failure', async () => {
    const { node } = createNode(TbDeleteKeysNode, { keys: ['.*'] });
    const result = await runNode(node, testMsg({ data: '' }));
    expect(relationsOf(result)).to.deep.equal(['Failure']);
    expect(result.outputs[0]).to.have.property('error').that.matches(/not a valid JSON/);
  });

  it('has the catalogue defaults (v2)', () => {
    expect(createNode(TbDeleteKeysNode, null).config).to.deep.equal({ deleteFrom: 'DATA', keys: [] });
    expect(TbDeleteKeysNode.defaultConfig).to.deep.equal({ deleteFrom: 'DATA', keys: [] });
    expect(TbDeleteKeysNode.relations).to.deep.equal(['Success', 'Failure']);
  });

  it('upgrades 0: fromMetadata → deleteFrom', () => {
    expect(createNode(TbDeleteKeysNode, { fromMetadata: true, keys: ['a'] }, { configurationVersion: 0 }).config).to.deep.equal({
      deleteFrom: 'METADATA',
      keys: ['a'],
    });
    expect(createNode(TbDeleteKeysNode, { fromMetadata: false, keys: [] }, { configurationVersion: 0 }).config).to.deep.equal({
      deleteFrom: 'DATA',
      keys: [],
    });
  });

  it('upgrades 1: dataToFetch → deleteFrom; an existing deleteFrom wins', () => {
    const v1 = (cfg: Record<string, unknown>) => createNode(TbDeleteKeysNode, cfg, { configurationVersion: 1 }).config;
    expect(v1({ dataToFetch: 'METADATA', keys: [] })).to.deep.equal({ deleteFrom: 'METADATA', keys: [] });
    expect(v1({ deleteFrom: 'METADATA', dataToFetch: 'DATA', keys: [] })).to.deep.equal({
      deleteFrom: 'METADATA',
      dataToFetch: 'DATA',
      keys: [],
    });
    expect(() => v1({ dataToFetch: 'ATTRIBUTES' })).to.throw(/property 'dataToFetch' has unexpected value/);
  });

  it('refuses wrong config types and invalid regexes', () => {
    expect(() => createNode(TbDeleteKeysNode, { deleteFrom: 'X' })).to.throw(/deleteFrom.*must be one of/);
    expect(() => createNode(TbDeleteKeysNode, { keys: [1] })).to.throw(/must be string/);
    expect(() => createNode(TbDeleteKeysNode, { keys: ['[a-'] })).to.throw(NodeConfigError, /keys\[0\]/);
  });
});
