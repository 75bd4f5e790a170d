import { expect } from 'chai';
import { TbOriginatorTypeFilterNode } from '../../../src/nodes/filter/TbOriginatorTypeFilterNode.js';
import { createNode, relationsOf, runNode, testMsg } from '../../helpers/node-harness.js';

describe('TbOriginatorTypeFilterNode', () => {
  const asset = testMsg({ originator: { entityType: 'ASSET', id: 'a-1' } });

  it('routes a listed originator type to True and another to False', async () => {
    const { node } = createNode(TbOriginatorTypeFilterNode, { originatorTypes: ['DEVICE', 'ENTITY_VIEW'] });
    expect(relationsOf(await runNode(node, testMsg()))).to.deep.equal(['True']);
    expect(relationsOf(await runNode(node, asset))).to.deep.equal(['False']);
  });

  it('has the catalogue defaults (DEVICE)', async () => {
    const { node, config } = createNode(TbOriginatorTypeFilterNode, {});
    expect(config).to.deep.equal({ originatorTypes: ['DEVICE'] });
    expect(relationsOf(await runNode(node, testMsg()))).to.deep.equal(['True']);
    expect(TbOriginatorTypeFilterNode.relations).to.deep.equal(['True', 'False', 'Failure']);
  });

  it('refuses an unknown entity type', () => {
    expect(() => createNode(TbOriginatorTypeFilterNode, { originatorTypes: ['DEVICE', 'GADGET'] })).to.throw(
      /originatorTypes\/1.*must be one of/,
    );
    expect(() => createNode(TbOriginatorTypeFilterNode, { originatorTypes: 'DEVICE' })).to.throw(/must be array/);
  });
});
