import { expect } from 'chai';
import { NodeConfigError, type NodeOutput } from '../../../src/engine/node-api.js';
import { TbRenameKeysNode } from '../../../src/nodes/transform/TbRenameKeysNode.js';
import { createNode, relationsOf, runNode, testMsg } from '../../helpers/node-harness.js';

function only(outputs: NodeOutput[]): NodeOutput {
  expect(outputs).to.have.length(1);
  return outputs[0] as NodeOutput;
}

describe('TbRenameKeysNode', () => {
  const msg = testMsg({ data: JSON.stringify({ temperatureCelsius: 25, nested: { temperatureCelsius: 1 } }), metaData: { deviceName: 'T1', ts: '1' } });

  it('DATA: renames exact top-level data keys, keeping the id', async () => {
    const { node } = createNode(TbRenameKeysNode, null);
    const out = only((await runNode(node, msg)).outputs);
    expect(out.kind === 'tell' && out.relations).to.deep.equal(['Success']);
    expect(JSON.parse(out.msg.data)).to.deep.equal({ nested: { temperatureCelsius: 1 }, temperature: 25 });
    expect(out.msg.id).to.equal(msg.id);
    expect(out.msg.metaData).to.deep.equal(msg.metaData);
  });

  it('METADATA: renames metadata keys; an existing target is overwritten', async () => {
    const { node } = createNode(TbRenameKeysNode, { renameIn: 'METADATA', renameKeysMapping: { deviceName: 'ts', nope: 'x' } });
    const out = only((await runNode(node, msg)).outputs);
    expect(out.msg.metaData).to.deep.equal({ ts: 'T1' });
    expect(out.msg.data).to.equal(msg.data);
  });

  it('keeps a key mapped to itself and passes the same message when nothing is renamed', async () => {
    const self = createNode(TbRenameKeysNode, { renameKeysMapping: { temperatureCelsius: 'temperatureCelsius' } }).node;
    expect(only((await runNode(self, msg)).outputs).msg).to.equal(msg);
    const { node } = createNode(TbRenameKeysNode, { renameKeysMapping: { nope: 'x' } });
    expect(only((await runNode(node, msg)).outputs).msg).to.equal(msg);
    const arrayMsg = testMsg({ data: '[1]' });
    expect(only((await runNode(node, arrayMsg)).outputs).msg).to.equal(arrayMsg);
  });

  it('sends data that is not JSON to Failure (DATA only)', async () => {
    const bad = testMsg({ data: '{oops' });
    const { node } = createNode(TbRenameKeysNode, null);
    expect(relationsOf(await runNode(node, bad))).to.deep.equal(['Failure']);
    const md = createNode(TbRenameKeysNode, { renameIn: 'METADATA', renameKeysMapping: { ts: 't' } }).node;
    expect(relationsOf(await runNode(md, bad))).to.deep.equal(['Success']);
  });

  it('has the catalogue defaults (v2)', () => {
    const expected = { renameIn: 'DATA', renameKeysMapping: { temperatureCelsius: 'temperature' } };
    expect(createNode(TbRenameKeysNode, {}).config).to.deep.equal(expected);
    expect(TbRenameKeysNode.defaultConfig).to.deep.equal(expected);
    expect(TbRenameKeysNode.relations).to.deep.equal(['Success', 'Failure']);
  });

  it('upgrades 0: fromMetadata → renameIn, and 1: fromMetadata "METADATA" → renameIn', () => {
    const mapping = { a: 'b' };
    expect(createNode(TbRenameKeysNode, { fromMetadata: true, renameKeysMapping: mapping }, { configurationVersion: 0 }).config).to.deep.equal({
      renameIn: 'METADATA',
      renameKeysMapping: mapping,
    });
    expect(createNode(TbRenameKeysNode, { fromMetadata: false, renameKeysMapping: mapping }, { configurationVersion: 0 }).config).to.deep.equal({
      renameIn: 'DATA',
      renameKeysMapping: mapping,
    });
    expect(createNode(TbRenameKeysNode, { fromMetadata: 'METADATA', renameKeysMapping: mapping }, { configurationVersion: 1 }).config).to.deep.equal({
      renameIn: 'METADATA',
      renameKeysMapping: mapping,
    });
    expect(() => createNode(TbRenameKeysNode, { fromMetadata: 1 }, { configurationVersion: 0 })).to.throw(/unexpected value: 1/);
  });

  it('refuses wrong config types and an empty mapping', () => {
    expect(() => createNode(TbRenameKeysNode, { renameIn: 'data' })).to.throw(/renameIn.*must be one of/);
    expect(() => createNode(TbRenameKeysNode, { renameKeysMapping: { a: 1 } })).to.throw(/renameKeysMapping\/a.*must be string/);
    expect(() => createNode(TbRenameKeysNode, { renameKeysMapping: {} })).to.throw(NodeConfigError, /at least one mapping entry/);
  });
});
