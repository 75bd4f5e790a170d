import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { JsonObject } from '../../../src/engine/node-api.js';
import { TbDeviceProfileNode } from '../../../src/nodes/action/TbDeviceProfileNode.js';
import { createNode, relationsOf, runNode, testServices, expectStoreNeeded } from '../../helpers/node-harness.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';

describe('TbDeviceProfileNode (device profile, deprecated)', () => {
  let fx: StoreFixture;
  before(async () => {
    fx = await startStoreFixture();
  });
  after(() => fx.close());

  const make = (config: JsonObject = {}, configurationVersion?: number) => createNode(TbDeviceProfileNode, config, { configurationVersion, services: fx.services });

  it('has the catalogue defaults and relations', () => {
    expect(TbDeviceProfileNode.defaultConfig).to.deep.equal({ persistAlarmRulesState: false, fetchAlarmRulesStateOnStart: false });
    expect(make().config).to.deep.equal(TbDeviceProfileNode.defaultConfig);
    expect(TbDeviceProfileNode.relations).to.deep.equal(['Alarm Created', 'Alarm Updated', 'Alarm Severity Updated', 'Alarm Cleared', 'Success', 'Failure']);
  });

  it('sends every message of a known device, and of other originators, to Success unchanged (no alarm rules evaluated)', async () => {
    const made = make();
    for (const msg of [fx.msg(), fx.msg({ type: 'POST_ATTRIBUTES_REQUEST' }), fx.msg({ originator: fx.customer.id }), fx.msg({ originator: { entityType: 'DEVICE', id: randomUUID() }, type: 'ENTITY_DELETED' })]) {
      const result = await runNode(made.node, msg, made.services);
      expect(relationsOf(result)).to.deep.equal(['Success']);
      expect(result.outputs[0]?.msg).to.equal(msg);
    }
  });

  it('ends the branch for a device that no longer exists, as ThingsBoard acknowledges it', async () => {
    const made = make();
    const result = await runNode(made.node, fx.msg({ originator: { entityType: 'DEVICE', id: randomUUID() } }), made.services);
    expect(result.outputs).to.deep.equal([]);
    expect(fx.services.logs.some((l) => l.startsWith('INFO Device was not found!'))).to.equal(true);
  });

  it('Failure for a device message without a tenant; needs the store', async () => {
    const made = make();
    const result = await runNode(made.node, { ...fx.msg(), tenantId: null }, made.services);
    expect(relationsOf(result)).to.deep.equal(['Failure']);
    await expectStoreNeeded(TbDeviceProfileNode, {}, { services: testServices() });
  });

  it('upgrades v0: persistAlarmRulesState false → fetchAlarmRulesStateOnStart false', () => {
    expect(make({ persistAlarmRulesState: false, fetchAlarmRulesStateOnStart: true }, 0).config).to.deep.equal({ persistAlarmRulesState: false, fetchAlarmRulesStateOnStart: false });
    expect(make({ persistAlarmRulesState: true, fetchAlarmRulesStateOnStart: true }, 0).config).to.deep.equal({ persistAlarmRulesState: true, fetchAlarmRulesStateOnStart: true });
    expect(make({ fetchAlarmRulesStateOnStart: true }, 0).config.fetchAlarmRulesStateOnStart).to.equal(true);
  });
});
