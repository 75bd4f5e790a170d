import { expect } from 'chai';
import { NodeConfigError, type NodeOutput } from '../../../src/engine/node-api.js';
import type { EntityId } from '../../../src/msg/entity.js';
import { TbGetOriginatorFieldsNode } from '../../../src/nodes/enrichment/TbGetOriginatorFieldsNode.js';
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

const NULL_UUID = '13814000-1dd2-11b2-8080-808080808080';

describe('TbGetOriginatorFieldsNode (store)', () => {
  let fx: StoreFixture;
  let labelled: Device;

  before(async () => {
    fx = await startStoreFixture();
    labelled = await fx.store.devices.create(fx.tenant.id.id, { name: 'Pump', type: 'pump', label: '', additionalInfo: { gateway: false, place: { room: 7 } } });
  });
  after(() => fx.close());

  async function run(config: Record<string, unknown>, originator?: EntityId, data: unknown = { v: 1 }, configurationVersion?: number) {
    const { node } = createNode(TbGetOriginatorFieldsNode, config, { services: fx.services, configurationVersion });
    const msg = fx.msg({ data: data as object, metaData: { ts: '1', suffix: 'X' }, ...(originator ? { originator } : {}) });
    return { msg, out: only((await runNode(node, msg)).outputs) };
  }

  it('has the catalogue definition and defaults (v1)', () => {
    const defaults = { dataMapping: { name: 'originatorName', type: 'originatorType' }, ignoreNullStrings: false, fetchTo: 'METADATA' };
    expect(TbGetOriginatorFieldsNode.type).to.equal('org.thingsboard.rule.engine.metadata.TbGetOriginatorFieldsNode');
    expect(TbGetOriginatorFieldsNode.category).to.equal('ENRICHMENT');
    expect(TbGetOriginatorFieldsNode.uiName).to.equal('originator fields');
    expect(TbGetOriginatorFieldsNode.version).to.equal(1);
    expect(TbGetOriginatorFieldsNode.relations).to.deep.equal(['Success', 'Failure']);
    expect(TbGetOriginatorFieldsNode.defaultConfig).to.deep.equal(defaults);
    expect(createNode(TbGetOriginatorFieldsNode, {}, { services: fx.services }).config).to.deep.equal(defaults);
  });

  it('defaults: device name and type → originatorName / originatorType (same id)', async () => {
    const { msg, out } = await run({});
    expect(out.relations).to.deep.equal(['Success']);
    expect(out.msg.id).to.equal(msg.id);
    expect(out.msg.metaData).to.deep.equal({ ...msg.metaData, originatorName: 'Thermostat A', originatorType: 'thermostat' });
  });

  it('device fields: ids as UUID text, numbers as text, objects as JSON, nested paths; null as "null"', async () => {
    const { out } = await run({
      dataMapping: {
        id: 'id',
        createdTime: 'ct',
        tenantId: 'tid',
        customerId: 'cid',
        label: 'label',
        additionalInfo: 'info',
        'additionalInfo.place.room': 'room',
        'additionalInfo.gateway': 'gw',
        'name.first': 'none',
        unknownField: 'none2',
      },
    }, labelled.id);
    expect(out.relations).to.deep.equal(['Success']);
    expect(out.msg.metaData).to.include({
      id: labelled.id.id,
      ct: String(labelled.createdTime),
      tid: fx.tenant.id.id,
      cid: NULL_UUID,
      label: '',
      info: '{"gateway":false,"place":{"room":7}}',
      room: '7',
      gw: 'false',
    });
    expect(out.msg.metaData).not.to.have.any.keys('none', 'none2');
    const nullLabel = await run({ dataMapping: { label: 'label' } });
    expect(nullLabel.out.msg.metaData.label).to.equal('null');
  });

  it('ignoreNullStrings drops null and empty fields', async () => {
    const { out } = await run({ dataMapping: { label: 'label', name: 'name' }, ignoreNullStrings: true }, labelled.id);
    expect(out.msg.metaData).to.include({ name: 'Pump' }).and.not.have.property('label');
    const nullLabel = await run({ dataMapping: { label: 'label' }, ignoreNullStrings: true });
    expect(nullLabel.out.msg.metaData).not.to.have.property('label');
  });

  it('customer, tenant, user and alarm originators', async () => {
    const t = fx.tenant.id.id;
    const customer = await run({ dataMapping: { title: 't', name: 'n', country: 'c', email: 'e' } }, fx.customer.id);
    expect(customer.out.msg.metaData).to.include({ t: 'Test customer', n: 'Test customer', c: 'null', e: 'null' });
    const tenant = await run({ dataMapping: { title: 't', region: 'r' } }, fx.tenant.id);
    expect(tenant.out.msg.metaData).to.include({ t: 'Test tenant', r: 'Global' });
    const user = await fx.store.users.create({ email: 'ann@example.com', authority: 'TENANT_ADMIN', tenantId: t, firstName: 'Ann' });
    const byUser = await run({ dataMapping: { email: 'e', firstName: 'f', lastName: 'l' }, ignoreNullStrings: true }, user.id);
    expect(byUser.out.msg.metaData).to.include({ e: 'ann@example.com', f: 'Ann' }).and.not.have.property('l');
    const { alarm } = await fx.store.alarms.createOrUpdateActive(t, { type: 'Overheat', originator: fx.device.id, severity: 'CRITICAL' });
    const byAlarm = await run({ dataMapping: { type: 'type', severity: 's', originator: 'o' } }, alarm.id);
    expect(byAlarm.out.msg.metaData).to.include({ type: 'Overheat', s: 'CRITICAL', o: fx.device.id.id });
  });

  it('DATA: fields as strings into the body; patterns in target keys', async () => {
    const { out } = await run({ dataMapping: { createdTime: 'ct_${suffix}', name: '$[prefix]Name' }, fetchTo: 'DATA' }, undefined, { prefix: 'device' });
    expect(out.relations).to.deep.equal(['Success']);
    expect(JSON.parse(out.msg.data)).to.deep.equal({ prefix: 'device', ct_X: String(fx.device.createdTime), deviceName: 'Thermostat A' });
    const bad = await run({ fetchTo: 'DATA' }, undefined, 'text');
    expect(bad.out.relations).to.deep.equal(['Failure']);
    expect(bad.out.error).to.equal('Message body is not an object!');
  });

  it('unknown originator → Failure "Entity not found!"; a type the store lacks → Failure', async () => {
    const ghost = await run({}, { entityType: 'DEVICE', id: '00000000-0000-4000-8000-00000000dead' });
    expect(ghost.out.relations).to.deep.equal(['Failure']);
    expect(ghost.out.error).to.equal('Entity not found!');
    expect(ghost.out.msg).to.equal(ghost.msg);
    const asset = await run({}, { entityType: 'ASSET', id: '00000000-0000-4000-8000-00000000beef' });
    expect(asset.out.relations).to.deep.equal(['Failure']);
    expect(asset.out.error).to.match(/ASSET entities are not kept/);
  });

  it('a message without tenantId → Failure', async () => {
    const { node } = createNode(TbGetOriginatorFieldsNode, {}, { services: fx.services });
    const out = only((await runNode(node, fx.msg({ tenantId: null }))).outputs);
    expect(out.relations).to.deep.equal(['Failure']);
    expect(out.error).to.match(/no tenantId/);
  });

  it('refuses an empty mapping and non-string targets', () => {
    expect(() => createNode(TbGetOriginatorFieldsNode, { dataMapping: {} }, { services: fx.services })).to.throw(NodeConfigError, 'At least one mapping entry should be specified!');
    expect(() => createNode(TbGetOriginatorFieldsNode, { dataMapping: { name: 1 } }, { services: fx.services })).to.throw(/dataMapping\/name.*must be string/);
  });

  it('upgrades v0: fieldsMapping → dataMapping, fetchTo METADATA; without fieldsMapping the defaults apply', async () => {
    const v0 = (cfg: Record<string, unknown>) => createNode(TbGetOriginatorFieldsNode, cfg, { services: fx.services, configurationVersion: 0 }).config;
    expect(v0({ fieldsMapping: { name: 'deviceName2' }, ignoreNullStrings: true })).to.deep.equal({
      dataMapping: { name: 'deviceName2' },
      ignoreNullStrings: true,
      fetchTo: 'METADATA',
    });
    expect(v0({})).to.deep.equal({ dataMapping: { name: 'originatorName', type: 'originatorType' }, ignoreNullStrings: false, fetchTo: 'METADATA' });
    const { out } = await run({ fieldsMapping: { name: 'n' } }, undefined, { v: 1 }, 0);
    expect(out.msg.metaData.n).to.equal('Thermostat A');
  });
});
