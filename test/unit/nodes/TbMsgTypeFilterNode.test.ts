import { expect } from 'chai';
import { TbMsgTypeFilterNode } from '../../../src/nodes/filter/TbMsgTypeFilterNode.js';
import { createNode, relationsOf, runNode, testMsg } from '../../helpers/node-harness.js';

describe('TbMsgTypeFilterNode', () => {
  it('routes a listed type to True and another to False', async () => {
    const { node } = createNode(TbMsgTypeFilterNode, { messageTypes: ['POST_TELEMETRY_REQUEST', 'MY_TYPE'] });
    expect(relationsOf(await runNode(node, testMsg({ type: 'POST_TELEMETRY_REQUEST' })))).to.deep.equal(['True']);
    expect(relationsOf(await runNode(node, testMsg({ type: 'MY_TYPE' })))).to.deep.equal(['True']);
    expect(relationsOf(await runNode(node, testMsg({ type: 'POST_ATTRIBUTES_REQUEST' })))).to.deep.equal(['False']);
  });

  it('matches the type exactly (case-sensitive)', async () => {
    const { node } = createNode(TbMsgTypeFilterNode, { messageTypes: ['MY_TYPE'] });
    expect(relationsOf(await runNode(node, testMsg({ type: 'my_type' })))).to.deep.equal(['False']);
  });

  it('has the catalogue defaults', async () => {
    const { node, config } = createNode(TbMsgTypeFilterNode, null);
    expect(config).to.deep.equal(TbMsgTypeFilterNode.defaultConfig);
    expect(relationsOf(await runNode(node, testMsg({ type: 'TO_SERVER_RPC_REQUEST' })))).to.deep.equal(['True']);
    expect(TbMsgTypeFilterNode.relations).to.deep.equal(['True', 'False', 'Failure']);
  });

  it('refuses messageTypes that is not a list of strings', () => {
    expect(() => createNode(TbMsgTypeFilterNode, { messageTypes: 'POST_TELEMETRY_REQUEST' })).to.throw(/messageTypes.*must be array/);
    expect(() => createNode(TbMsgTypeFilterNode, { messageTypes: [1] })).to.throw(/must be string/);
  });
});
