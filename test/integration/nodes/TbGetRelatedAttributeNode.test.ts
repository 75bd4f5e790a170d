import { expect } from 'chai';
import { NodeConfigError, type NodeOutput } from '../../../src/engine/node-api.js';
import type { EntityId } from '../../../src/msg/entity.js';
import { RELATED_ENTITY_NOT_FOUND, TbGetRelatedAttributeNode } from '../../../src/nodes/enrichment/TbGetRelatedAttributeNode.js';
import type { Device } from '../../../src/store/devices.js';
import { createNode, runNode } from '../../helpers/node-harness.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';

type Tell = Extract<NodeOutput, { kind: 'tell' }>;

function only(outputs: NodeOutput[]): Tell {
  expect(outputs).to.have.length(1);
  const out = outputs[0] as NodeOutput;
  if (out.kind !== 'tell') throw new Error(`expected a tell, got ${out.kind}`);
  return out;
}

describe('TbGetRelatedAttributeNode (store)', () => {
  let fx: StoreFixture;
  /** The originator: a gateway device that Contains `sensor` (oldest) and `other`, and is Contained by `fx.customer`. */
  let gateway: Device;
  let sensor: Device;
  let other: Device;
  const asset: EntityId = { entityType: 'ASSET', id: '0a0a0a0a-0000-4000-8000-000000000001' };

  before(async () => {
    fx = await startStoreFixture();
    const t = fx.tenant.id.id;
    gateway = await fx.store.devices.create(t, { name: 'Gateway', type: 'gateway' });
    sensor = await fx.store.devices.create(t, { name: 'Sensor 1', type: 'sensor', label: 'Hall', additionalInfo: { description: 'north' } });
    other = await fx.store.devices.create(t, { name: 'Sensor 2', type: 'sensor' });
    await fx.store.relations.save(t, { from: gateway.id, to: sensor.id, type: 'Contains' });
    await fx.store.relations.save(t, { from: gateway.id, to: other.id, type: 'Contains' });
    await fx.store.relations.save(t, { from: fx.customer.id, to: gateway.id, type: 'Contains' });
    await fx.store.relations.save(t, { from: gateway.id, to: asset, type: 'Uses' });
    await fx.store.attributes.save(sensor.id, 'SERVER_SCOPE', { serialNumber: 'SN-1', limits: { max: 9 }, model: 'X' });
    await fx.store.attributes.save(sensor.id, 'CLIENT_SCOPE', { firmware: '1.0' });
    await fx.store.attributes.save(other.id, 'SERVER_SCOPE', { serialNumber: 'SN-2' });
    await fx.store.timeseries.save(sensor.id, { ts: 1000, values: { temperature: 21.5, ok: true } });
    await fx.store.attributes.save(asset, 'SERVER_SCOPE', { floor: 3 });
    await fx.store.customers.update(t, fx.customer.id.id, { email: 'c@example.com' });
  });
  after(() => fx.close());

  const msgFrom = (data: unknown = { reading: 1 }, metaData: Record<string, string> = {}) =>
    fx.msg({ originator: gateway.id, data: data as object, metaData: { ts: '1', ...metaData } });

  async function run(config: Record<string, unknown>, msg = msgFrom(), configurationVersion?: number) {
    const { node } = createNode(TbGetRelatedAttributeNode, config, { services: fx.services, configurationVersion });
    return only((await runNode(node, msg)).outputs);
  }

  it('has the catalogue definition and defaults (v1)', () => {
    const defaults = {
      dataMapping: { serialNumber: 'sn' },
      dataToFetch: 'ATTRIBUTES',
      fetchTo: 'METADATA',
      relationsQuery: { direction: 'FROM', maxLevel: 1, filters: [{ relationType: 'Contains', entityTypes: [] }], fetchLastLevelOnly: false },
    };
    expect(TbGetRelatedAttributeNode.type).to.equal('org.thingsboard.rule.engine.metadata.TbGetRelatedAttributeNode');
    expect(TbGetRelatedAttributeNode.category).to.equal('ENRICHMENT');
    expect(TbGetRelatedAttributeNode.uiName).to.equal('related entity data');
    expect(TbGetRelatedAttributeNode.version).to.equal(1);
    expect(TbGetRelatedAttributeNode.relations).to.deep.equal(['Success', 'Failure']);
    expect(TbGetRelatedAttributeNode.defaultConfig).to.deep.equal(defaults);
    expect(createNode(TbGetRelatedAttributeNode, {}, { services: fx.services }).config).to.deep.equal(defaults);
  });

  it('defaults: server attribute serialNumber of the oldest related entity → metadata sn', async () => {
    const msg = msgFrom();
    const out = await run({}, msg);
    expect(out.relations).to.deep.equal(['Success']);
    expect(out.msg.id).to.equal(msg.id);
    expect(out.msg.metaData).to.deep.equal({ ...msg.metaData, sn: 'SN-1' });
  });

  it('ATTRIBUTES: server scope only; patterns in source and target; missing keys skipped', async () => {
    const msg = msgFrom({ key: 'model' }, { suffix: 'X' });
    const out = await run({ dataMapping: { '$[key]': 'model_${suffix}', limits: 'limits', firmware: 'fw', nope: 'nope' } }, msg);
    expect(out.relations).to.deep.equal(['Success']);
    expect(out.msg.metaData).to.deep.equal({ ...msg.metaData, model_X: 'X', limits: '{"max":9}' });
  });

  it('LATEST_TELEMETRY into data: typed values', async () => {
    const out = await run({ dataMapping: { temperature: 't', ok: 'ok', nope: 'n' }, dataToFetch: 'LATEST_TELEMETRY', fetchTo: 'DATA' });
    expect(out.relations).to.deep.equal(['Success']);
    expect(JSON.parse(out.msg.data)).to.deep.equal({ reading: 1, t: 21.5, ok: true });
  });

  it('FIELDS: entity fields as text; null and empty fields skipped', async () => {
    const out = await run({
      dataMapping: { name: 'n', type: 't', label: 'l', id: 'id', createdTime: 'ct', customerId: 'cid', 'additionalInfo.description': 'd', nope: 'x' },
      dataToFetch: 'FIELDS',
    });
    expect(out.relations).to.deep.equal(['Success']);
    expect(out.msg.metaData).to.include({
      n: 'Sensor 1',
      t: 'sensor',
      l: 'Hall',
      id: sensor.id.id,
      ct: String(sensor.createdTime),
      cid: '13814000-1dd2-11b2-8080-808080808080',
      d: 'north',
    });
    expect(out.msg.metaData).not.to.have.property('x');

    const toData = await run({ dataMapping: { title: 'customer', email: 'email', phone: 'phone' }, dataToFetch: 'FIELDS', fetchTo: 'DATA', relationsQuery: { direction: 'TO', maxLevel: 1, filters: [] } });
    expect(JSON.parse(toData.msg.data)).to.deep.equal({ reading: 1, customer: 'Test customer', email: 'c@example.com' });
  });

  it('FIELDS of an entity type the store does not keep → Failure; its attributes still work', async () => {
    const uses = { direction: 'FROM', maxLevel: 1, filters: [{ relationType: 'Uses', entityTypes: ['ASSET'] }] };
    const fields = await run({ dataMapping: { name: 'n' }, dataToFetch: 'FIELDS', relationsQuery: uses });
    expect(fields.relations).to.deep.equal(['Failure']);
    expect(fields.error).to.match(/ASSET entities are not kept/);
    const attrs = await run({ dataMapping: { floor: 'floor' }, relationsQuery: uses });
    expect(attrs.msg.metaData.floor).to.equal('3');
  });

  it('entityTypes and direction of the relations query choose the entity', async () => {
    const toCustomer = await run({ dataMapping: { name: 'n' }, dataToFetch: 'FIELDS', relationsQuery: { direction: 'TO', filters: [{ relationType: 'Contains', entityTypes: ['CUSTOMER'] }] } });
    expect(toCustomer.msg.metaData.n).to.equal('Test customer');
  });

  it('no related entity → Failure with ThingsBoard\'s text and the original message', async () => {
    const msg = fx.msg({ originator: other.id });
    const out = await run({}, msg);
    expect(out.relations).to.deep.equal(['Failure']);
    expect(out.error).to.equal(RELATED_ENTITY_NOT_FOUND);
    expect(out.msg).to.equal(msg);
  });

  it('a relations query without direction → Failure "Unknown direction"', async () => {
    const out = await run({ relationsQuery: { maxLevel: 1, filters: [] } });
    expect(out.relations).to.deep.equal(['Failure']);
    expect(out.error).to.equal('Unknown direction');
  });

  it('DATA with a body that is not a JSON object → Failure', async () => {
    const out = await run({ fetchTo: 'DATA' }, msgFrom([1, 2]));
    expect(out.relations).to.deep.equal(['Failure']);
    expect(out.error).to.equal('Message body is not an object!');
  });

  it('a message without tenantId → Failure', async () => {
    const out = await run({}, fx.msg({ originator: gateway.id, tenantId: null }));
    expect(out.relations).to.deep.equal(['Failure']);
    expect(out.error).to.match(/no tenantId/);
  });

  it('refuses an empty mapping and unknown enum values', () => {
    expect(() => createNode(TbGetRelatedAttributeNode, { dataMapping: {} }, { services: fx.services })).to.throw(
      NodeConfigError,
      'At least one mapping entry should be specified!',
    );
    expect(() => createNode(TbGetRelatedAttributeNode, { dataToFetch: 'ALL' }, { services: fx.services })).to.throw(/dataToFetch.*must be one of/);
    expect(() => createNode(TbGetRelatedAttributeNode, { relationsQuery: { direction: 'FROM', filters: [{ entityTypes: ['THING'] }] } }, { services: fx.services })).to.throw(
      /entityTypes\/0.*must be one of/,
    );
  });

  describe('upgrade from version 0', () => {
    const v0 = (cfg: Record<string, unknown>) => createNode(TbGetRelatedAttributeNode, cfg, { services: fx.services, configurationVersion: 0 }).config;

    it('attrMapping → dataMapping, telemetry → dataToFetch, fetchTo METADATA', () => {
      const q = { direction: 'TO', maxLevel: 2, filters: [{ relationType: 'Uses', entityTypes: ['DEVICE'] }], fetchLastLevelOnly: false };
      expect(v0({ attrMapping: { a: 'b' }, telemetry: true, relationsQuery: q })).to.deep.equal({
        dataMapping: { a: 'b' },
        dataToFetch: 'LATEST_TELEMETRY',
        fetchTo: 'METADATA',
        relationsQuery: q,
      });
      expect(v0({ attrMapping: { a: 'b' }, telemetry: 'false' })).to.include({ dataToFetch: 'ATTRIBUTES', fetchTo: 'METADATA' });
    });

    it('missing old keys leave the defaults; a bad telemetry value is refused', () => {
      expect(v0({})).to.include({ dataToFetch: 'ATTRIBUTES', fetchTo: 'METADATA' });
      expect(v0({}).dataMapping).to.deep.equal({ serialNumber: 'sn' });
      expect(() => v0({ attrMapping: { a: 'b' }, telemetry: 'maybe' })).to.throw(/property to update: 'telemetry' has unexpected value/);
    });

    it('runs an upgraded v0 config', async () => {
      const out = await run({ attrMapping: { temperature: 'temp' }, telemetry: true }, msgFrom(), 0);
      expect(out.msg.metaData.temp).to.equal('21.5');
    });
  });
});
