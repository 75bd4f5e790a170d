import { expect } from 'chai';
import { TbMsgTypeSwitchNode } from '../../../src/nodes/filter/TbMsgTypeSwitchNode.js';
import { createNode, relationsOf, runNode, testMsg } from '../../helpers/node-harness.js';

describe('TbMsgTypeSwitchNode', () => {
  const { node } = createNode(TbMsgTypeSwitchNode, { version: 0 });

  const cases: [string, string][] = [
    ['POST_TELEMETRY_REQUEST', 'Post telemetry'],
    ['POST_ATTRIBUTES_REQUEST', 'Post attributes'],
    ['TO_SERVER_RPC_REQUEST', 'RPC Request from Device'],
    ['RPC_CALL_FROM_SERVER_TO_DEVICE', 'RPC Request to Device'],
    ['RPC_SUCCESSFUL', 'RPC Successful'],
    ['REST_API_REQUEST', 'REST API request'],
    ['ALARM_DELETE', 'Other'],
    ['MY_CUSTOM_TYPE', 'Other'],
  ];
  for (const [type, relation] of cases) {
    it(`routes ${type} to "${relation}"`, async () => {
      expect(relationsOf(await runNode(node, testMsg({ type })))).to.deep.equal([relation]);
    });
  }

  it('accepts a missing configuration (defaults)', () => {
    expect(createNode(TbMsgTypeSwitchNode, null).config).to.deep.equal({ version: 0 });
  });

  it('refuses a configuration that is not an object', () => {
    expect(() => createNode(TbMsgTypeSwitchNode, [] as unknown as Record<string, unknown>)).to.throw(/JSON object/);
  });
});
