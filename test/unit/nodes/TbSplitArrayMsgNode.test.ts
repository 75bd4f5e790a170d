import { expect } from 'chai';
import { TbSplitArrayMsgNode } from '../../../src/nodes/transform/TbSplitArrayMsgNode.js';
import { createNode, relationsOf, runNode, testMsg } from '../../helpers/node-harness.js';

describe('TbSplitArrayMsgNode', () => {
  const { node } = createNode(TbSplitArrayMsgNode, { version: 0 });

  it('sends one Success message per element, with new ids and the original type and metadata', async () => {
    const msg = testMsg({ data: JSON.stringify([{ t: 1 }, 2, 'three', null]) });
    const { outputs } = await runNode(node, msg);
    expect(outputs.map((o) => (o.kind === 'tell' ? o.relations : []))).to.deep.equal([['Success'], ['Success'], ['Success'], ['Success']]);
    expect(outputs.map((o) => o.msg.data)).to.deep.equal(['{"t":1}', '2', '"three"', 'null']);
    const ids = new Set(outputs.map((o) => o.msg.id));
    expect(ids.size).to.equal(4);
    expect(ids.has(msg.id)).to.equal(false);
    for (const o of outputs) {
      expect(o.msg.type).to.equal(msg.type);
      expect(o.msg.metaData).to.deep.equal(msg.metaData);
    }
  });

  it('keeps the message id for a one-element array', async () => {
    const msg = testMsg({ data: '[{"t":1}]' });
    const { outputs } = await runNode(node, msg);
    expect(outputs).to.have.length(1);
    expect(outputs[0]?.msg.id).to.equal(msg.id);
    expect(outputs[0]?.msg.data).to.equal('{"t":1}');
  });

  it('ends the message with no output for an empty array', async () => {
    const result = await runNode(node, testMsg({ data: '[]' }));
    expect(result.outputs).to.deep.equal([]);
  });

  it('sends data that is not a JSON array to Failure', async () => {
    for (const [data, error] of [
      ['{"a":1}', 'Msg data is not a JSON Array!'],
      ['nope', 'Msg data is not a valid JSON!'],
    ]) {
      const result = await runNode(node, testMsg({ data }));
      expect(relationsOf(result)).to.deep.equal(['Failure']);
      expect(result.outputs[0]).to.have.property('error', error);
    }
  });

  it('has the catalogue defaults and refuses a wrong config type', () => {
    expect(createNode(TbSplitArrayMsgNode, null).config).to.deep.equal({ version: 0 });
    expect(TbSplitArrayMsgNode.relations).to.deep.equal(['Success', 'Failure']);
    expect(() => createNode(TbSplitArrayMsgNode, { version: [] })).to.throw(/must be integer/);
  });
});
