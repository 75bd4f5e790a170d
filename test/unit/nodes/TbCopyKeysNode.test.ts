import { expect } from 'chai';
import { NodeConfigError, type NodeOutput } from '../../../src/engine/node-api.js';
import { TbCopyKeysNode } from '../../../src/nodes/transform/TbCopyKeysNode.js';
import { createNode, relationsOf, runNode, testMsg } from '../../helpers/node-harness.js';

function only(outputs: NodeOutput[]): NodeOutput {
  expect(outputs).to.have.length(1);
  return outputs[0] as NodeOutput;
}

describe('TbCopyKeysNode', () => {
  const msg = testMsg({
    data: JSON.stringify({ temperature: 25, name: 'T1', nested: { a: [1] }, flag: null, other: 1 }),
    metaData: { deviceName: 'Thermostat', deviceType: 'default', ts: '1700000000000' },
  });

  it('DATA: copies whole-matching data keys to metadata, non-strings as JSON text, keeping the id', async () => {
    const { node } = createNode(TbCopyKeysNode, { copyFrom: 'DATA', keys: ['temp.*', 'name', 'nested', 'flag', 'oth'] });
    const out = only((await runNode(node, msg)).outputs);
    expect(out.kind === 'tell' && out.relations).to.deep.equal(['Success']);
    expect(out.msg.id).to.equal(msg.id);
    expect(out.msg.data).to.equal(msg.data);
    expect(out.msg.metaData).to.deep.equal({
      ...msg.metaData,
      temperature: '25',
      name: 'T1',
      nested: '{"a":[1]}',
      flag: 'null',
    });
  });

  it('METADATA: copies matching metadata keys into the data as strings', async () => {
    const { node } = createNode(TbCopyKeysNode, { copyFrom: 'METADATA', keys: ['device.*', 'ts'] });
    const out = only((await runNode(node, msg)).outputs);
    expect(JSON.parse(out.msg.data)).to.deep.equal({
      ...(JSON.parse(msg.data) as object),
      deviceName: 'Thermostat',
      deviceType: 'default',
      ts: '1700000000000',
    });
    expect(out.msg.metaData).to.deep.equal(msg.metaData);
    expect(out.msg.id).to.equal(msg.id);
  });

  it('passes the same message when nothing matches or the data is not a JSON object', async () => {
    const { node } = createNode(TbCopyKeysNode, { copyFrom: 'DATA', keys: ['nope'] });
    expect(only((await runNode(node, msg)).outputs).msg).to.equal(msg);
    const md = createNode(TbCopyKeysNode, { copyFrom: 'METADATA', keys: ['.*'] }).node;
    const arrayMsg = testMsg({ data: '[1,2]' });
    expect(only((await runNode(md, arrayMsg)).outputs).msg).to.equal(arrayMsg);
  });

  it('sends data that is not JSON to Failure', async () => {
    const { node } = createNode(TbCopyKeysNode, { copyFrom: 'DATA', keys: ['.*'] });
    const result = await runNode(node, testMsg({ data: 'not json' }));
    expect(relationsOf(result)).to.deep.equal(['Failure']);
    expect(result.outputs[0]).to.have.property('error').that.matches(/not a valid JSON/);
  });

  it('has the catalogue defaults (v2)', () => {
    expect(createNode(TbCopyKeysNode, null).config).to.deep.equal({ copyFrom: 'DATA', keys: [] });
    expect(TbCopyKeysNode.defaultConfig).to.deep.equal({ copyFrom: 'DATA', keys: [] });
    expect(TbCopyKeysNode.version).to.equal(2);
    expect(TbCopyKeysNode.relations).to.deep.equal(['Success', 'Failure']);
  });

  describe('upgrades', () => {
    it('0: fromMetadata true/false → copyFrom METADATA/DATA', () => {
      const v0 = (fromMetadata: unknown) =>
        createNode(TbCopyKeysNode, { fromMetadata, keys: ['a'] }, { configurationVersion: 0 }).config;
      expect(v0(true)).to.deep.equal({ copyFrom: 'METADATA', keys: ['a'] });
      expect(v0(false)).to.deep.equal({ copyFrom: 'DATA', keys: ['a'] });
      expect(v0('true')).to.deep.equal({ copyFrom: 'METADATA', keys: ['a'] });
    });

    it('0: keeps a config without fromMetadata', () => {
      expect(createNode(TbCopyKeysNode, { copyFrom: 'METADATA', keys: [] }, { configurationVersion: 0 }).config).to.deep.equal({
        copyFrom: 'METADATA',
        keys: [],
      });
    });

    it('0: refuses a fromMetadata that is not a boolean', () => {
      expect(() => createNode(TbCopyKeysNode, { fromMetadata: 'maybe' }, { configurationVersion: 0 })).to.throw(
        /upgrade from version 0 failed: property 'fromMetadata' has unexpected value/,
      );
    });

    it('1: fromMetadata "METADATA"/"DATA" → copyFrom; an existing copyFrom wins', () => {
      const v1 = (cfg: Record<string, unknown>) => createNode(TbCopyKeysNode, cfg, { configurationVersion: 1 }).config;
      expect(v1({ fromMetadata: 'METADATA', keys: [] })).to.deep.equal({ copyFrom: 'METADATA', keys: [] });
      expect(v1({ fromMetadata: 'DATA', keys: [] })).to.deep.equal({ copyFrom: 'DATA', keys: [] });
      expect(v1({ copyFrom: 'METADATA', keys: [] })).to.deep.equal({ copyFrom: 'METADATA', keys: [] });
      expect(() => v1({ fromMetadata: true, keys: [] })).to.throw(/upgrade from version 1 failed.*Allowed values: METADATA or DATA/);
    });
  });

  it('refuses wrong config types and invalid regexes', () => {
    expect(() => createNode(TbCopyKeysNode, { copyFrom: 'BODY' })).to.throw(/copyFrom.*must be one of/);
    expect(() => createNode(TbCopyKeysNode, { keys: 'a' })).to.throw(/keys.*must be array/);
    expect(() => createNode(TbCopyKeysNode, { keys: ['ok', '(bad'] })).to.throw(NodeConfigError, /keys\[1\] "\(bad" is not a valid regular expression/);
  });
});
