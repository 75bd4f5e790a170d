import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { TbDeviceTypeSwitchNode } from '../../../src/nodes/filter/TbDeviceTypeSwitchNode.js';
import { createNode, expectStoreNeeded, relationsOf, runNode, testServices } from '../../helpers/node-harness.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';

describe('TbDeviceTypeSwitchNode (device profile switch)', () => {
  let fx: StoreFixture;
  before(async () => {
    fx = await startStoreFixture();
  });
  after(() => fx.close());

  const make = () => createNode(TbDeviceTypeSwitchNode, {}, { services: fx.services });

  it('routes on the name of the device profile the device points to', async () => {
    const tenantId = fx.tenant.id.id;
    const profile = await fx.store.deviceProfiles.create(tenantId, { name: 'Smart valve' });
    const valve = await fx.store.devices.create(tenantId, { name: 'Valve 7', type: 'Smart valve', deviceProfileId: profile.id.id });
    const made = make();
    const result = await runNode(made.node, fx.msg({ originator: valve.id }), made.services);
    expect(relationsOf(result)).to.deep.equal(['Smart valve']);
    expect(result.outputs[0]?.msg.originator).to.deep.equal(valve.id);
  });

  it('a device without a profile id routes on its type, which is its profile name', async () => {
    const made = make();
    expect(relationsOf(await runNode(made.node, fx.msg(), made.services))).to.deep.equal([fx.device.type]);
  });

  it("Failure with ThingsBoard's texts for another originator type and for an unknown device", async () => {
    const made = make();
    const customer = await runNode(made.node, fx.msg({ originator: fx.customer.id }), made.services);
    expect(relationsOf(customer)).to.deep.equal(['Failure']);
    expect(customer.outputs[0]).to.include({ error: "Unsupported originator type: CUSTOMER! Only 'DEVICE' type is allowed." });
    const ghostId = randomUUID();
    const ghost = await runNode(made.node, fx.msg({ originator: { entityType: 'DEVICE', id: ghostId } }), made.services);
    expect(relationsOf(ghost)).to.deep.equal(['Failure']);
    expect(ghost.outputs[0]).to.include({ error: `Device profile for entity id: ${ghostId} wasn't found!` });
  });

  it('declares custom relations and needs the store', async () => {
    expect(TbDeviceTypeSwitchNode.customRelations).to.equal(true);
    await expectStoreNeeded(TbDeviceTypeSwitchNode, {}, { services: testServices() });
  });
});
