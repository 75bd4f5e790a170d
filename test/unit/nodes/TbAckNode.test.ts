import { expect } from 'chai';
import { TbAckNode } from '../../../src/nodes/flow/TbAckNode.js';
import { createNode, relationsOf, runNode, testMsg } from '../../helpers/node-harness.js';

describe('TbAckNode', () => {
  it('acks the message and passes it on unchanged through Success', async () => {
    const { node } = createNode(TbAckNode, null);
    const msg = testMsg();
    const result = await runNode(node, msg);
    expect(result.acked).to.equal(true);
    expect(relationsOf(result)).to.deep.equal(['Success']);
    expect(result.outputs[0]?.msg).to.equal(msg);
  });

  it('has the catalogue defaults and relations', () => {
    expect(createNode(TbAckNode, {}).config).to.deep.equal({ version: 0 });
    expect(TbAckNode.defaultConfig).to.deep.equal({ version: 0 });
    expect(TbAckNode.relations).to.deep.equal(['Success', 'Failure']);
  });

  it('refuses a wrong config type', () => {
    expect(() => createNode(TbAckNode, { version: 'x' })).to.throw(/must be integer/);
  });
});
