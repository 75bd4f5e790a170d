import { expect } from 'chai';
import { TbCheckMessageNode } from '../../../src/nodes/filter/TbCheckMessageNode.js';
import { createNode, relationsOf, runNode, testMsg } from '../../helpers/node-harness.js';

describe('TbCheckMessageNode', () => {
  const msg = testMsg({ data: JSON.stringify({ temperature: 25, nested: { humidity: 1 } }), metaData: { deviceName: 'T1' } });

  it('checkAllKeys: True only when all data and metadata keys are present', async () => {
    const all = (messageNames: string[], metadataNames: string[]) =>
      createNode(TbCheckMessageNode, { messageNames, metadataNames, checkAllKeys: true }).node;
    expect(relationsOf(await runNode(all(['temperature', 'nested'], ['deviceName']), msg))).to.deep.equal(['True']);
    expect(relationsOf(await runNode(all(['temperature', 'humidity'], ['deviceName']), msg))).to.deep.equal(['False']);
    expect(relationsOf(await runNode(all(['temperature'], ['deviceType']), msg))).to.deep.equal(['False']);
    // Nothing to check: everything present.
    expect(relationsOf(await runNode(all([], []), msg))).to.deep.equal(['True']);
  });

  it('any key: True when one listed key is present', async () => {
    const any = (messageNames: string[], metadataNames: string[]) =>
      createNode(TbCheckMessageNode, { messageNames, metadataNames, checkAllKeys: false }).node;
    expect(relationsOf(await runNode(any(['humidity'], ['deviceName']), msg))).to.deep.equal(['True']);
    expect(relationsOf(await runNode(any(['temperature'], ['nope']), msg))).to.deep.equal(['True']);
    expect(relationsOf(await runNode(any(['humidity'], ['nope']), msg))).to.deep.equal(['False']);
    expect(relationsOf(await runNode(any([], []), msg))).to.deep.equal(['False']);
  });

  it('treats data that is not a JSON object as having no data keys', async () => {
    const { node } = createNode(TbCheckMessageNode, { messageNames: ['a'], metadataNames: [], checkAllKeys: true });
    for (const data of ['not json', '[1,2]', '"a"']) {
      expect(relationsOf(await runNode(node, testMsg({ data })))).to.deep.equal(['False']);
    }
    const any = createNode(TbCheckMessageNode, { messageNames: ['a'], metadataNames: ['deviceName'], checkAllKeys: false });
    expect(relationsOf(await runNode(any.node, testMsg({ data: 'not json' })))).to.deep.equal(['True']);
  });

  it('has the catalogue defaults; a missing checkAllKeys reads as false, as in ThingsBoard', () => {
    expect(TbCheckMessageNode.defaultConfig).to.deep.equal({ messageNames: [], metadataNames: [], checkAllKeys: true });
    expect(createNode(TbCheckMessageNode, null).config).to.deep.equal({ messageNames: [], metadataNames: [], checkAllKeys: false });
    expect(TbCheckMessageNode.relations).to.deep.equal(['True', 'False', 'Failure']);
  });

  it('refuses wrong config types', () => {
    expect(() => createNode(TbCheckMessageNode, { messageNames: 'a' })).to.throw(/messageNames.*must be array/);
    expect(() => createNode(TbCheckMessageNode, { checkAllKeys: 'yes' })).to.throw(/checkAllKeys.*must be boolean/);
  });
});
