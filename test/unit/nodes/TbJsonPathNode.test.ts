import { expect } from 'chai';
import { NodeConfigError, type NodeOutput } from '../../../src/engine/node-api.js';
import { TbJsonPathNode } from '../../../src/nodes/transform/TbJsonPathNode.js';
import { createNode, relationsOf, runNode, testMsg } from '../../helpers/node-harness.js';

function only(outputs: NodeOutput[]): NodeOutput {
  expect(outputs).to.have.length(1);
  return outputs[0] as NodeOutput;
}

describe('TbJsonPathNode', () => {
  const msg = testMsg({
    data: JSON.stringify({ a: { b: [1, 2, { c: 3 }] }, n: null, items: [{ x: 1 }, { x: 2 }], 'k.y': 'dot' }),
  });

  async function read(jsonPath: string, m = msg): Promise<NodeOutput> {
    return only((await runNode(createNode(TbJsonPathNode, { jsonPath }).node, m)).outputs);
  }

  it('passes the message through untouched for "$" (the default), even when data is not JSON', async () => {
    const { node, config } = createNode(TbJsonPathNode, null);
    expect(config).to.deep.equal({ jsonPath: '$' });
    const text = testMsg({ data: 'not json' });
    expect(only((await runNode(node, text)).outputs).msg).to.equal(text);
  });

  const definite: [string, unknown][] = [
    ['$.a.b[0]', 1],
    ['$.a.b[-1]', { c: 3 }],
    ["$['a']['b'][2].c", 3],
    ["$['k.y']", 'dot'],
    ['a.b', [1, 2, { c: 3 }]],
    ['$.n', null],
  ];
  for (const [path, value] of definite) {
    it(`definite path ${path} gives its value, keeping the id`, async () => {
      const out = await read(path);
      expect(out.kind === 'tell' && out.relations).to.deep.equal(['Success']);
      expect(JSON.parse(out.msg.data)).to.deep.equal(value);
      expect(out.msg.id).to.equal(msg.id);
    });
  }

  const indefinite: [string, unknown][] = [
    ['$.items[*].x', [1, 2]],
    ['$..c', [3]],
    ['$.items[?(@.x > 1)]', [{ x: 2 }]],
    ['$.a.b[0:2]', [1, 2]],
    ['$.items[*].nope', []],
  ];
  for (const [path, value] of indefinite) {
    it(`indefinite path ${path} gives the list of matches`, async () => {
      expect(JSON.parse((await read(path)).msg.data)).to.deep.equal(value);
    });
  }

  const notFound: [string, string][] = [
    ['$.zz', "No results for path: $['zz']"],
    ['$.zz.q', "Missing property in path $['zz']"],
    ['$.a.b[7]', "No results for path: $['a']['b'][7]"],
    ['$.n.q', "Expected to find an object with property ['q'] in path $['n'] but found 'null'"],
    ['$.a[0]', 'Filter: [0] can only be applied to arrays'],
  ];
  for (const [path, error] of notFound) {
    it(`path ${path} that finds nothing goes to Failure`, async () => {
      const out = await read(path);
      expect(out.kind === 'tell' && out.relations).to.deep.equal(['Failure']);
      expect(out.kind === 'tell' && out.error).to.include(error);
    });
  }

  it('sends data that is not JSON to Failure', async () => {
    const result = await runNode(createNode(TbJsonPathNode, { jsonPath: '$.a' }).node, testMsg({ data: '{' }));
    expect(relationsOf(result)).to.deep.equal(['Failure']);
  });

  it('refuses an invalid or unsupported path at create time, naming the key', () => {
    for (const jsonPath of ['', '$.a[', '$.a.', '$.a.length()', "$['a','b']"]) {
      expect(() => createNode(TbJsonPathNode, { jsonPath }), jsonPath).to.throw(NodeConfigError, /jsonPath/);
    }
    expect(() => createNode(TbJsonPathNode, { jsonPath: 5 })).to.throw(/jsonPath.*must be string/);
  });

  it('has the catalogue defaults', () => {
    expect(TbJsonPathNode.defaultConfig).to.deep.equal({ jsonPath: '$' });
    expect(TbJsonPathNode.relations).to.deep.equal(['Success', 'Failure']);
  });
});
