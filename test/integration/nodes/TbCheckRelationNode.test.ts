import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { JsonObject, NodeOutput } from '../../../src/engine/node-api.js';
import type { EntityId } from '../../../src/msg/entity.js';
import { TbCheckRelationNode } from '../../../src/nodes/filter/TbCheckRelationNode.js';
import { createNode, relationsOf, runNode, testServices, expectStoreNeeded } from '../../helpers/node-harness.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';

describe('TbCheckRelationNode (check relation presence)', () => {
  let fx: StoreFixture;
  let tenantId: string;
  // asset --Contains--> device --Uses--> sensor
  const device: EntityId = { entityType: 'DEVICE', id: randomUUID() };
  const asset: EntityId = { entityType: 'ASSET', id: randomUUID() };
  const sensor: EntityId = { entityType: 'DEVICE', id: randomUUID() };

  before(async () => {
    fx = await startStoreFixture();
    tenantId = fx.tenant.id.id;
    await fx.store.relations.save(tenantId, { from: asset, to: device, type: 'Contains' });
    await fx.store.relations.save(tenantId, { from: device, to: sensor, type: 'Uses' });
  });
  after(() => fx.close());

  const make = (config: JsonObject, configurationVersion?: number) => createNode(TbCheckRelationNode, config, { configurationVersion, services: fx.services });
  const check = async (config: JsonObject, originator: EntityId = device, configurationVersion?: number) => {
    const made = make(config, configurationVersion);
    return runNode(made.node, fx.msg({ originator }), made.services);
  };
  const errorOf = (outputs: readonly NodeOutput[]) => (outputs[0]?.kind === 'tell' ? outputs[0].error : undefined);

  it('has the catalogue defaults; a missing checkForSingleEntity reads false in a v1 config', () => {
    expect(TbCheckRelationNode.defaultConfig).to.deep.equal({ direction: 'FROM', relationType: 'Contains', checkForSingleEntity: true });
    expect(make({}).config).to.deep.equal({ direction: 'FROM', relationType: 'Contains', checkForSingleEntity: false });
  });

  it('single entity: FROM = originator → entity, TO = entity → originator', async () => {
    const single = (direction: string, relationType: string, e: EntityId) => ({ direction, relationType, checkForSingleEntity: true, entityType: e.entityType, entityId: e.id });
    expect(relationsOf(await check(single('FROM', 'Uses', sensor)))).to.deep.equal(['True']);
    expect(relationsOf(await check(single('TO', 'Uses', sensor)))).to.deep.equal(['False']);
    expect(relationsOf(await check(single('TO', 'Contains', asset)))).to.deep.equal(['True']);
    expect(relationsOf(await check(single('FROM', 'Contains', asset)))).to.deep.equal(['False']);
    // The type is exact, not a pattern.
    expect(relationsOf(await check(single('FROM', 'uses', sensor)))).to.deep.equal(['False']);
  });

  it('any entity: a relation of the type in the direction', async () => {
    expect(relationsOf(await check({ direction: 'FROM', relationType: 'Uses' }))).to.deep.equal(['True']);
    expect(relationsOf(await check({ direction: 'TO', relationType: 'Uses' }))).to.deep.equal(['False']);
    expect(relationsOf(await check({ direction: 'TO', relationType: 'Uses' }, sensor))).to.deep.equal(['True']);
    expect(relationsOf(await check({ direction: 'FROM', relationType: 'Contains' }))).to.deep.equal(['False']);
    // entityType/entityId are ignored in this mode.
    expect(relationsOf(await check({ direction: 'TO', relationType: 'Contains', entityType: 'DEVICE', entityId: randomUUID() }))).to.deep.equal(['True']);
  });

  it('v0 → v1 flips the direction', async () => {
    // v0 FROM meant entity → originator: asset Contains device, seen from the device.
    const old = { direction: 'FROM', relationType: 'Contains', entityType: 'ASSET', entityId: asset.id };
    expect(make(old, 0).config).to.deep.equal({ ...old, direction: 'TO', checkForSingleEntity: true });
    expect(relationsOf(await check(old, device, 0))).to.deep.equal(['True']);
    expect(make({ ...old, direction: 'TO', checkForSingleEntity: false }, 0).config).to.include({ direction: 'FROM', checkForSingleEntity: false });
  });

  it('v0 without checkForSingleEntity keeps the 2.x meaning: single entity when one is named', async () => {
    const named = make({ direction: 'TO', relationType: 'Uses', entityType: 'DEVICE', entityId: sensor.id }, 0);
    expect(named.config).to.include({ direction: 'FROM', checkForSingleEntity: true });
    // An unrelated entity named: False (ThingsBoard today would say True: "any Uses relation").
    const other = { direction: 'TO', relationType: 'Uses', entityType: 'DEVICE', entityId: randomUUID() };
    expect(relationsOf(await check(other, device, 0))).to.deep.equal(['False']);
    expect(make({ direction: 'TO', relationType: 'Uses' }, 0).config).to.include({ checkForSingleEntity: false });
  });

  it('the v0 upgrade refuses a missing or bad direction', () => {
    expect(() => make({ relationType: 'Contains' }, 0)).to.throw("property to update: 'direction' doesn't exists in configuration!");
    expect(() => make({ direction: 'UP' }, 0)).to.throw("property to update: 'direction' has invalid value!");
  });

  it('refuses a single-entity check without an entity or with a bad type; needs the store', async () => {
    expect(() => make({ checkForSingleEntity: true })).to.throw('Entity should be specified!');
    expect(() => make({ checkForSingleEntity: true, entityType: 'THING', entityId: 'x' })).to.throw(/entityType "THING"/);
    expect(() => make({ direction: 'SIDEWAYS' })).to.throw(/must be one of/);
    await expectStoreNeeded(TbCheckRelationNode, {}, { services: testServices() });
  });

  it('Failure without a tenant; relations of another tenant are not seen', async () => {
    const made = make({ direction: 'FROM', relationType: 'Uses' });
    const noTenant = await runNode(made.node, { ...fx.msg({ originator: device }), tenantId: null }, made.services);
    expect(relationsOf(noTenant)).to.deep.equal(['Failure']);
    expect(errorOf(noTenant.outputs)).to.match(/has no tenantId/);
    const elsewhere = await runNode(made.node, { ...fx.msg({ originator: device }), tenantId: randomUUID() }, made.services);
    expect(relationsOf(elsewhere)).to.deep.equal(['False']);
  });
});
