import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { JsonObject, NodeOutput } from '../../../src/engine/node-api.js';
import type { EntityId } from '../../../src/msg/entity.js';
import type { TbMsg } from '../../../src/msg/tb-msg.js';
import { TbDeleteRelationNode } from '../../../src/nodes/action/TbDeleteRelationNode.js';
import { createNode, relationsOf, runNode, testServices, expectStoreNeeded } from '../../helpers/node-harness.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';

describe('TbDeleteRelationNode (delete relation)', () => {
  let fx: StoreFixture;
  let tenantId: string;
  before(async () => {
    fx = await startStoreFixture();
    tenantId = fx.tenant.id.id;
  });
  after(() => fx.close());

  const make = (config: JsonObject, configurationVersion?: number) => createNode(TbDeleteRelationNode, config, { configurationVersion, services: fx.services });
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

  /** origin --Contains--> fx.device, origin --Contains--> other, origin --Uses--> other, parent --Contains--> origin */
  const seed = async () => {
    const origin: EntityId = { entityType: 'DEVICE', id: randomUUID() };
    const other: EntityId = { entityType: 'ASSET', id: randomUUID() };
    const parent: EntityId = { entityType: 'ASSET', id: randomUUID() };
    await fx.store.relations.save(tenantId, { from: origin, to: fx.device.id, type: 'Contains' });
    await fx.store.relations.save(tenantId, { from: origin, to: other, type: 'Contains' });
    await fx.store.relations.save(tenantId, { from: origin, to: other, type: 'Uses' });
    await fx.store.relations.save(tenantId, { from: parent, to: origin, type: 'Contains' });
    return { origin, other, parent };
  };

  it('has the catalogue defaults', () => {
    expect(TbDeleteRelationNode.defaultConfig).to.deep.equal({ deleteForSingleEntity: false, direction: 'FROM', relationType: 'Contains', entityNamePattern: '' });
    expect(make({}).config).to.deep.equal(TbDeleteRelationNode.defaultConfig);
  });

  it('deletes every relation of the type in the direction (FROM), leaving the others', async () => {
    const { origin, other, parent } = await seed();
    const msg = fx.msg({ originator: origin });
    const result = await run({}, msg);
    expect(relationsOf(result)).to.deep.equal(['Success']);
    expect(only(result.outputs).msg).to.equal(msg);
    expect(await exists(origin, fx.device.id, 'Contains')).to.equal(false);
    expect(await exists(origin, other, 'Contains')).to.equal(false);
    expect(await exists(origin, other, 'Uses')).to.equal(true);
    expect(await exists(parent, origin, 'Contains')).to.equal(true);
    // Nothing left to delete: still Success.
    expect(relationsOf(await run({}, msg))).to.deep.equal(['Success']);
  });

  it('TO deletes the relations pointing at the originator; the type may be a pattern', async () => {
    const { origin, parent } = await seed();
    await run({ direction: 'TO', relationType: '${rel}' }, fx.msg({ originator: origin, metaData: { rel: 'Contains' } }));
    expect(await exists(parent, origin, 'Contains')).to.equal(false);
    expect(await exists(origin, fx.device.id, 'Contains')).to.equal(true);
  });

  it('deleteForSingleEntity deletes only the relation with the named target', async () => {
    const { origin, other } = await seed();
    const msg = fx.msg({ originator: origin, data: JSON.stringify({ target: fx.device.name }) });
    const result = await run({ deleteForSingleEntity: true, entityType: 'DEVICE', entityNamePattern: '$[target]' }, msg);
    expect(relationsOf(result)).to.deep.equal(['Success']);
    expect(await exists(origin, fx.device.id, 'Contains')).to.equal(false);
    expect(await exists(origin, other, 'Contains')).to.equal(true);
    // The relation is gone already: Success.
    expect(relationsOf(await run({ deleteForSingleEntity: true, entityType: 'DEVICE', entityNamePattern: '$[target]' }, msg))).to.deep.equal(['Success']);
    // TO with the tenant as the far end.
    await fx.store.relations.save(tenantId, { from: fx.tenant.id, to: origin, type: 'Owns' });
    await run({ deleteForSingleEntity: true, entityType: 'TENANT', direction: 'TO', relationType: 'Owns' }, msg);
    expect(await exists(fx.tenant.id, origin, 'Owns')).to.equal(false);
  });

  it('a target that does not exist is a Failure (never created)', async () => {
    const { origin } = await seed();
    const result = await run({ deleteForSingleEntity: true, entityType: 'DEVICE', entityNamePattern: 'Ghost' }, fx.msg({ originator: origin }));
    expect(only(result.outputs).error).to.equal("Device with name 'Ghost' doesn't exist!");
    expect(await fx.store.devices.findByName(tenantId, 'Ghost')).to.equal(null);
  });

  it('checks the entity type only for single-entity deletes', () => {
    expect(() => make({ deleteForSingleEntity: true })).to.throw(/^Unsupported entity type 'null'!/);
    expect(() => make({ deleteForSingleEntity: true, entityType: 'RULE_CHAIN' })).to.throw(/^Unsupported entity type 'RULE_CHAIN'!/);
    expect(() => make({ entityType: 'RULE_CHAIN' })).to.not.throw();
  });

  it('upgrades v0 with entityCacheExpiration: the key goes and the direction flips', () => {
    expect(make({ direction: 'FROM', relationType: 'Contains', entityCacheExpiration: 300, deleteForSingleEntity: false }, 0).config).to.deep.equal({
      ...TbDeleteRelationNode.defaultConfig,
      direction: 'TO',
    });
    expect(make({ direction: 'TO', relationType: 'Contains' }, 0).config.direction).to.equal('TO');
    expect(() => make({ direction: 7, entityCacheExpiration: 300 }, 0)).to.throw("property to update: 'direction' has invalid value!");
  });

  it('needs the store; Failure without a tenant', async () => {
    await expectStoreNeeded(TbDeleteRelationNode, {}, { services: testServices() });
    const made = make({});
    const noTenant = await runNode(made.node, { ...fx.msg(), tenantId: null }, made.services);
    expect(relationsOf(noTenant)).to.deep.equal(['Failure']);
    expect(only(noTenant.outputs).error).to.match(/has no tenantId/);
  });
});
