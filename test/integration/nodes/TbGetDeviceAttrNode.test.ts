import { expect } from 'chai';
import type { NodeOutput } from '../../../src/engine/node-api.js';
import type { EntityId } from '../../../src/msg/entity.js';
import { RELATED_DEVICE_NOT_FOUND, TbGetDeviceAttrNode } from '../../../src/nodes/enrichment/TbGetDeviceAttrNode.js';
import { createNode, runNode } from '../../helpers/node-harness.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';

type Tell = Extract<NodeOutput, { kind: 'tell' }>;

function only(outputs: NodeOutput[]): Tell {
  expect(outputs).to.have.length(1);
  const out = outputs[0] as NodeOutput;
  if (out.kind !== 'tell') throw new Error(`expected a tell, got ${out.kind}`);
  return out;
}

describe('TbGetDeviceAttrNode (store)', () => {
  let fx: StoreFixture;
  let n = 0;

  before(async () => {
    fx = await startStoreFixture();
  });
  after(() => fx.close());

  /** A device with a server attribute `serial` = its name. */
  async function device(type: string): Promise<EntityId> {
    const d = await fx.store.devices.create(fx.tenant.id.id, { name: `dev-${++n}-${type}`, type });
    await fx.store.attributes.save(d.id, 'SERVER_SCOPE', { serial: d.name });
    return d.id;
  }

  const relate = (from: EntityId, to: EntityId, type = 'Contains') => fx.store.relations.save(fx.tenant.id.id, { from, to, type });

  async function run(config: Record<string, unknown>, originator: EntityId, configurationVersion?: number) {
    const { node } = createNode(TbGetDeviceAttrNode, config, { services: fx.services, configurationVersion });
    const msg = fx.msg({ originator });
    return { msg, out: only((await runNode(node, msg)).outputs) };
  }

  const query = (q: Record<string, unknown>) => ({ direction: 'FROM', maxLevel: 1, relationType: 'Contains', deviceTypes: ['default'], ...q });

  it('has the catalogue definition and defaults (v1)', () => {
    const defaults = {
      clientAttributeNames: [],
      sharedAttributeNames: [],
      serverAttributeNames: [],
      latestTsKeyNames: [],
      tellFailureIfAbsent: true,
      getLatestValueWithTs: false,
      fetchTo: 'METADATA',
      deviceRelationsQuery: { direction: 'FROM', maxLevel: 1, relationType: 'Contains', deviceTypes: ['default'], fetchLastLevelOnly: false },
    };
    expect(TbGetDeviceAttrNode.type).to.equal('org.thingsboard.rule.engine.metadata.TbGetDeviceAttrNode');
    expect(TbGetDeviceAttrNode.category).to.equal('ENRICHMENT');
    expect(TbGetDeviceAttrNode.uiName).to.equal('related device attributes');
    expect(TbGetDeviceAttrNode.version).to.equal(1);
    expect(TbGetDeviceAttrNode.relations).to.deep.equal(['Success', 'Failure']);
    expect(TbGetDeviceAttrNode.defaultConfig).to.deep.equal(defaults);
    expect(createNode(TbGetDeviceAttrNode, {}, { services: fx.services }).config.deviceRelationsQuery).to.deep.equal(defaults.deviceRelationsQuery);
  });

  it('reads the first related device of an accepted type, oldest relation first', async () => {
    const origin = await device('gateway');
    const sensor = await device('sensor');
    const first = await device('default');
    const second = await device('default');
    await relate(origin, sensor);
    await relate(origin, first);
    await relate(origin, second);
    await fx.store.attributes.save(first, 'CLIENT_SCOPE', { fw: 'v1' });
    await fx.store.timeseries.save(first, { ts: 1000, values: { temperature: 20 } });

    const { msg, out } = await run(
      { serverAttributeNames: ['serial'], clientAttributeNames: ['fw'], latestTsKeyNames: ['temperature'], deviceRelationsQuery: query({}) },
      origin,
    );
    expect(out.relations).to.deep.equal(['Success']);
    expect(out.msg.id).to.equal(msg.id);
    expect(out.msg.originator).to.deep.equal(origin);
    const firstDoc = await fx.store.devices.findById(fx.tenant.id.id, first.id);
    expect(out.msg.metaData).to.include({ ss_serial: firstDoc?.name, cs_fw: 'v1', temperature: '20' });

    const both = await run({ serverAttributeNames: ['serial'], deviceRelationsQuery: query({ deviceTypes: ['sensor', 'default'] }) }, origin);
    const sensorDoc = await fx.store.devices.findById(fx.tenant.id.id, sensor.id);
    expect(both.out.msg.metaData.ss_serial).to.equal(sensorDoc?.name);
  });

  it('follows the relation type, the direction and maxLevel; skips non-device entities', async () => {
    const origin = await device('default');
    const managed = await device('default');
    const parent = await device('default');
    const grandChild = await device('default');
    const child = await device('default');
    const asset: EntityId = { entityType: 'ASSET', id: '0b0b0b0b-0000-4000-8000-000000000001' };
    await relate(origin, asset);
    await relate(origin, managed, 'Manages');
    await relate(parent, origin);
    await relate(asset, grandChild);
    await relate(origin, child);
    const serial = async (config: Record<string, unknown>) => (await run({ serverAttributeNames: ['serial'], ...config }, origin)).out;
    const name = async (id: EntityId) => (await fx.store.devices.findById(fx.tenant.id.id, id.id))?.name;

    expect((await serial({ deviceRelationsQuery: query({ relationType: 'Manages' }) })).msg.metaData.ss_serial).to.equal(await name(managed));
    expect((await serial({ deviceRelationsQuery: query({ direction: 'TO' }) })).msg.metaData.ss_serial).to.equal(await name(parent));
    expect((await serial({ deviceRelationsQuery: query({}) })).msg.metaData.ss_serial).to.equal(await name(child));
    // At level 2 the asset's device comes in, and its relation is older than origin→child.
    expect((await serial({ deviceRelationsQuery: query({ maxLevel: 2 }) })).msg.metaData.ss_serial).to.equal(await name(grandChild));

    // A device only two levels away: found with maxLevel 2 (or unlimited), not with 1.
    const lonely = await device('default');
    const asset2: EntityId = { entityType: 'ASSET', id: '0b0b0b0b-0000-4000-8000-000000000002' };
    const deep = await device('default');
    await relate(lonely, asset2);
    await relate(asset2, deep);
    const fromLonely = async (q: Record<string, unknown>) => (await run({ serverAttributeNames: ['serial'], deviceRelationsQuery: query(q) }, lonely)).out;
    expect((await fromLonely({})).relations).to.deep.equal(['Failure']);
    expect((await fromLonely({ maxLevel: 2 })).msg.metaData.ss_serial).to.equal(await name(deep));
    expect((await fromLonely({ maxLevel: 0 })).msg.metaData.ss_serial).to.equal(await name(deep));
  });

  it('no matching device → Failure with ThingsBoard\'s text and the original message', async () => {
    const origin = await device('default');
    const other = await device('sensor');
    await relate(origin, other);
    for (const q of [query({}), query({ deviceTypes: [] }), query({ relationType: 'Uses' })]) {
      const { msg, out } = await run({ serverAttributeNames: ['serial'], deviceRelationsQuery: q }, origin);
      expect(out.relations).to.deep.equal(['Failure']);
      expect(out.error).to.equal(RELATED_DEVICE_NOT_FOUND);
      expect(out.msg).to.equal(msg);
    }
  });

  it('skips a relation whose device was deleted', async () => {
    const origin = await device('default');
    const gone = await device('default');
    const kept = await device('default');
    await relate(origin, gone);
    await relate(origin, kept);
    // Deleting cascades to relations; re-add the dangling one by hand.
    await fx.store.devices.delete(fx.tenant.id.id, gone.id);
    await relate(origin, gone);
    const { out } = await run({ serverAttributeNames: ['serial'] }, origin);
    expect(out.relations).to.deep.equal(['Success']);
    expect(out.msg.metaData.ss_serial).to.equal((await fx.store.devices.findById(fx.tenant.id.id, kept.id))?.name);
  });

  it('fetchTo DATA and missing keys, as the originator attributes node', async () => {
    const origin = await device('default');
    const target = await device('default');
    await relate(origin, target);
    const { out } = await run({ serverAttributeNames: ['serial', 'missing'], fetchTo: 'DATA', tellFailureIfAbsent: true }, origin);
    expect(out.relations).to.deep.equal(['Failure']);
    expect(JSON.parse(out.msg.data)).to.have.property('ss_serial');
    expect(out.error).to.equal('The following attribute/telemetry keys is not present in the DB: \n\t[SERVER_SCOPE]:[missing]\n');
  });

  it('upgrades v0: fetchToData → fetchTo, keeping the relations query', () => {
    const q = query({ deviceTypes: ['x'] });
    const config = createNode(TbGetDeviceAttrNode, { fetchToData: true, deviceRelationsQuery: q }, { services: fx.services, configurationVersion: 0 }).config;
    expect(config.fetchTo).to.equal('DATA');
    expect(config.deviceRelationsQuery).to.deep.equal({ ...q, fetchLastLevelOnly: false });
    expect(config).not.to.have.property('fetchToData');
  });

  it('refuses a bad direction', () => {
    expect(() => createNode(TbGetDeviceAttrNode, { deviceRelationsQuery: query({ direction: 'UP' }) }, { services: fx.services })).to.throw(
      /deviceRelationsQuery\/direction.*must be one of/,
    );
  });

  it('a message without tenantId → Failure', async () => {
    const { node } = createNode(TbGetDeviceAttrNode, {}, { services: fx.services });
    const out = only((await runNode(node, fx.msg({ tenantId: null }))).outputs);
    expect(out.relations).to.deep.equal(['Failure']);
    expect(out.error).to.match(/no tenantId/);
  });
});
