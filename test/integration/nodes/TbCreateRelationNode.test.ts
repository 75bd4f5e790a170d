import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { JsonObject, NodeOutput } from '../../../src/engine/node-api.js';
import type { EntityId } from '../../../src/msg/entity.js';
import { TbCreateRelationNode } from '../../../src/nodes/action/TbCreateRelationNode.js';
import type { TbMsg } from '../../../src/msg/tb-msg.js';
import { createNode, relationsOf, runNode, testServices, expectStoreNeeded } from '../../helpers/node-harness.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';

describe('TbCreateRelationNode (create relation)', () => {
  let fx: StoreFixture;
  let tenantId: string;
  before(async () => {
    fx = await startStoreFixture();
    tenantId = fx.tenant.id.id;
  });
  after(() => fx.close());

  const tracker = (): EntityId => ({ entityType: 'DEVICE', id: randomUUID() });
  const make = (config: JsonObject, configurationVersion?: number) => createNode(TbCreateRelationNode, config, { configurationVersion, services: fx.services });
  const run = async (config: JsonObject, msg: TbMsg) => {
    const made = make(config);
    return runNode(made.node, msg, made.services);
  };
  const only = (outputs: readonly NodeOutput[]) => {
    const o = outputs[0];
    if (o?.kind !== 'tell') throw new Error('expected one tell output');
    return o;
  };
  const exists = async (from: EntityId, to: EntityId, type: string) => (await fx.store.relations.get(tenantId, from, to, type)) !== null;

  it('has the catalogue defaults', () => {
    expect(TbCreateRelationNode.defaultConfig).to.deep.equal({
      direction: 'FROM',
      relationType: 'Contains',
      entityNamePattern: '',
      createEntityIfNotExists: false,
      removeCurrentRelations: false,
      changeOriginatorToRelatedEntity: false,
    });
    expect(make({ entityType: 'DEVICE' }).config).to.deep.equal({ ...TbCreateRelationNode.defaultConfig, entityType: 'DEVICE' });
  });

  it('DEVICE by name: FROM makes originator → target, TO makes target → originator; patterns in name and type', async () => {
    const origin = tracker();
    const msg = fx.msg({ originator: origin, data: '{"zone":"A"}', metaData: { target: fx.device.name } });
    const from = await run({ entityType: 'DEVICE', entityNamePattern: '${target}', relationType: 'In$[zone]' }, msg);
    expect(relationsOf(from)).to.deep.equal(['Success']);
    expect(only(from.outputs).msg).to.equal(msg);
    expect(await exists(origin, fx.device.id, 'InA')).to.equal(true);
    await run({ entityType: 'DEVICE', entityNamePattern: fx.device.name, direction: 'TO', relationType: 'Manages' }, msg);
    expect(await exists(fx.device.id, origin, 'Manages')).to.equal(true);
    expect(await exists(origin, fx.device.id, 'Manages')).to.equal(false);
    // An existing relation is Success, not a second one.
    expect(relationsOf(await run({ entityType: 'DEVICE', entityNamePattern: '${target}', relationType: 'In$[zone]' }, msg))).to.deep.equal(['Success']);
    expect(await fx.store.relations.findByFrom(tenantId, origin)).to.have.length(1);
  });

  it('a missing target is a Failure unless createEntityIfNotExists (DEVICE with its profile, CUSTOMER)', async () => {
    const origin = tracker();
    const msg = fx.msg({ originator: origin, metaData: { site: 'North', kind: 'gateway' } });
    const missing = await run({ entityType: 'DEVICE', entityNamePattern: 'GW ${site}' }, msg);
    expect(only(missing.outputs).error).to.equal("Device with name 'GW North' doesn't exist!");
    expect(only((await run({ entityType: 'CUSTOMER', entityNamePattern: 'Nobody' }, msg)).outputs).error).to.equal("Customer with title 'Nobody' doesn't exist!");

    expect(relationsOf(await run({ entityType: 'DEVICE', entityNamePattern: 'GW ${site}', entityTypePattern: '${kind}', createEntityIfNotExists: true }, msg))).to.deep.equal([
      'Success',
    ]);
    const gw = await fx.store.devices.findByName(tenantId, 'GW North');
    expect(gw?.type).to.equal('gateway');
    const profile = await fx.store.deviceProfiles.findByName(tenantId, 'gateway');
    expect(gw?.deviceProfileId).to.deep.equal(profile?.id);
    expect(await exists(origin, gw!.id, 'Contains')).to.equal(true);
    // Found the second time, not created again.
    await run({ entityType: 'DEVICE', entityNamePattern: 'GW ${site}', entityTypePattern: 'other', createEntityIfNotExists: true }, msg);
    expect((await fx.store.devices.findByName(tenantId, 'GW North'))?.id).to.deep.equal(gw?.id);
    // Without a profile name: the default type.
    await run({ entityType: 'DEVICE', entityNamePattern: 'Plain', createEntityIfNotExists: true }, msg);
    expect((await fx.store.devices.findByName(tenantId, 'Plain'))?.type).to.equal('default');

    expect(relationsOf(await run({ entityType: 'CUSTOMER', entityNamePattern: 'Site ${site}', createEntityIfNotExists: true, direction: 'TO' }, msg))).to.deep.equal([
      'Success',
    ]);
    const customer = await fx.store.customers.findByTitle(tenantId, 'Site North');
    expect(customer).to.not.equal(null);
    expect(await exists(customer!.id, origin, 'Contains')).to.equal(true);
  });

  it('TENANT is the message tenant; CUSTOMER by title; USER by e-mail within the tenant', async () => {
    const origin = tracker();
    const msg = fx.msg({ originator: origin });
    await run({ entityType: 'TENANT', direction: 'TO', relationType: 'Owns' }, msg);
    expect(await exists(fx.tenant.id, origin, 'Owns')).to.equal(true);
    await run({ entityType: 'CUSTOMER', entityNamePattern: fx.customer.title, relationType: 'Assigned' }, msg);
    expect(await exists(origin, fx.customer.id, 'Assigned')).to.equal(true);
    const user = await fx.store.users.create({ email: 'ops@example.com', authority: 'TENANT_ADMIN', tenantId });
    await run({ entityType: 'USER', entityNamePattern: 'ops@example.com', relationType: 'Notifies' }, msg);
    expect(await exists(origin, user.id, 'Notifies')).to.equal(true);
    const other = await fx.store.tenants.create({ title: 'Other tenant' });
    await fx.store.users.create({ email: 'them@example.com', authority: 'TENANT_ADMIN', tenantId: other.id.id });
    const foreign = await run({ entityType: 'USER', entityNamePattern: 'them@example.com' }, msg);
    expect(only(foreign.outputs).error).to.equal("User with email 'them@example.com' doesn't exist!");
  });

  it('ASSET and the other unkept types are accepted but each message fails with the reason', async () => {
    const result = await run({ entityType: 'ASSET', entityNamePattern: 'Building' }, fx.msg({ originator: tracker() }));
    expect(relationsOf(result)).to.deep.equal(['Failure']);
    expect(only(result.outputs).error).to.equal('Entity type ASSET is not supported by rpc-chains: it keeps no asset entities');
  });

  it('removeCurrentRelations replaces the relations of that type and direction only', async () => {
    const origin = tracker();
    const zoneA = await fx.store.devices.create(tenantId, { name: `Zone A ${origin.id}` });
    const zoneB = await fx.store.devices.create(tenantId, { name: `Zone B ${origin.id}` });
    const keep: EntityId = { entityType: 'ASSET', id: randomUUID() };
    await fx.store.relations.save(tenantId, { from: origin, to: zoneA.id, type: 'InZone' });
    await fx.store.relations.save(tenantId, { from: origin, to: keep, type: 'Uses' });
    await fx.store.relations.save(tenantId, { from: keep, to: origin, type: 'InZone' });
    const result = await run({ entityType: 'DEVICE', entityNamePattern: zoneB.name, relationType: 'InZone', removeCurrentRelations: true }, fx.msg({ originator: origin }));
    expect(relationsOf(result)).to.deep.equal(['Success']);
    expect(await exists(origin, zoneA.id, 'InZone')).to.equal(false);
    expect(await exists(origin, zoneB.id, 'InZone')).to.equal(true);
    expect(await exists(origin, keep, 'Uses')).to.equal(true);
    expect(await exists(keep, origin, 'InZone')).to.equal(true);
  });

  it('changeOriginatorToRelatedEntity sends the message on from the target (same id)', async () => {
    const msg = fx.msg({ originator: tracker() });
    const result = await run({ entityType: 'DEVICE', entityNamePattern: fx.device.name, changeOriginatorToRelatedEntity: true }, msg);
    const out = only(result.outputs).msg;
    expect(out.originator).to.deep.equal(fx.device.id);
    expect(out.id).to.equal(msg.id);
  });

  it('upgrades v0 only when entityCacheExpiration is present: the key goes and the direction flips', () => {
    const v0 = { direction: 'FROM', relationType: 'Contains', entityType: 'DEVICE', entityNamePattern: 'x', entityCacheExpiration: 300 };
    expect(make(v0, 0).config).to.deep.equal({ ...TbCreateRelationNode.defaultConfig, direction: 'TO', entityType: 'DEVICE', entityNamePattern: 'x' });
    expect(make({ ...v0, direction: 'TO' }, 0).config.direction).to.equal('FROM');
    const { entityCacheExpiration: _gone, ...noCache } = v0;
    expect(make(noCache, 0).config.direction).to.equal('FROM');
    expect(() => make({ entityType: 'DEVICE', entityCacheExpiration: 1 }, 0)).to.throw("property to update: 'direction' doesn't exists in configuration!");
    expect(() => make({ ...v0, direction: 'BOTH' }, 0)).to.throw("property to update: 'direction' has invalid value!");
  });

  it('refuses unsupported entity types at creation; needs the store; Failure without a tenant', async () => {
    const text = "Only TENANT ,CUSTOMER ,USER ,DASHBOARD ,ASSET ,DEVICE ,ENTITY_VIEW ,EDGE types are allowed.";
    expect(() => make({})).to.throw(`Unsupported entity type 'null'! ${text}`);
    expect(() => make({ entityType: 'ALARM' })).to.throw(`Unsupported entity type 'ALARM'! ${text}`);
    await expectStoreNeeded(TbCreateRelationNode, { entityType: 'DEVICE' }, { services: testServices() });
    const made = make({ entityType: 'TENANT' });
    const noTenant = await runNode(made.node, { ...fx.msg(), tenantId: null }, made.services);
    expect(only(noTenant.outputs).error).to.match(/has no tenantId/);
  });
});
