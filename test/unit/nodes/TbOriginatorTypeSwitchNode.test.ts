import { expect } from 'chai';
import type { EntityType } from '../../../src/msg/entity.js';
import { TbOriginatorTypeSwitchNode } from '../../../src/nodes/filter/TbOriginatorTypeSwitchNode.js';
import { createNode, relationsOf, runNode, testMsg } from '../../helpers/node-harness.js';

describe('TbOriginatorTypeSwitchNode', () => {
  const { node } = createNode(TbOriginatorTypeSwitchNode, { version: 0 });

  const cases: [EntityType, string][] = [
    ['DEVICE', 'Device'],
    ['ASSET', 'Asset'],
    ['ENTITY_VIEW', 'Entity View'],
    ['RULE_CHAIN', 'Rule chain'],
    ['TENANT', 'Tenant'],
    ['EDGE', 'Edge'],
  ];
  for (const [entityType, relation] of cases) {
    it(`routes ${entityType} to "${relation}"`, async () => {
      const msg = testMsg({ originator: { entityType, id: 'x-1' } });
      expect(relationsOf(await runNode(node, msg))).to.deep.equal([relation]);
      expect(TbOriginatorTypeSwitchNode.relations).to.include(relation);
    });
  }

  it('sends an unknown originator type to Failure', async () => {
    const msg = testMsg({ originator: { entityType: 'GADGET' as EntityType, id: 'x-1' } });
    const result = await runNode(node, msg);
    expect(relationsOf(result)).to.deep.equal(['Failure']);
    expect(result.outputs[0]).to.have.property('error').that.matches(/GADGET/);
  });

  it('accepts a missing configuration (defaults)', () => {
    expect(createNode(TbOriginatorTypeSwitchNode, null).config).to.deep.equal({ version: 0 });
    expect(TbOriginatorTypeSwitchNode.relations).to.include('Failure');
  });

  it('refuses a wrong config type', () => {
    expect(() => createNode(TbOriginatorTypeSwitchNode, { version: 'x' })).to.throw(/must be integer/);
  });
});
