import { expect } from 'chai';
import { NodeConfigError, type NodeOutput } from '../../../src/engine/node-api.js';
import type { EntityId } from '../../../src/msg/entity.js';
import { TbGetCustomerAttributeNode } from '../../../src/nodes/enrichment/TbGetCustomerAttributeNode.js';
import { createNode, runNode } from '../../helpers/node-harness.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';

type Tell = Extract<NodeOutput, { kind: 'tell' }>;

function only(outputs: NodeOutput[]): Tell {
  expect(outputs).to.have.length(1);
  const out = outputs[0] as NodeOutput;
  if (out.kind !== 'tell') throw new Error(`expected a tell, got ${out.kind}`);
  return out;
}

describe('TbGetCustomerAttributeNode (store)', () => {
  let fx: StoreFixture;

  before(async () => {
    fx = await startStoreFixture();
    await fx.store.attributes.save(fx.customer.id, 'SERVER_SCOPE', { alarmThreshold: 30, tier: 'gold' });
    await fx.store.attributes.save(fx.customer.id, 'SHARED_SCOPE', { alarmThreshold: 99 });
    await fx.store.timeseries.save(fx.customer.id, { ts: 1000, values: { consumption: 12.5, meta: { a: 1 } } });
  });
  after(() => fx.close());

  async function run(config: Record<string, unknown>, originator?: EntityId, data: unknown = { v: 1 }, configurationVersion?: number) {
    const { node } = createNode(TbGetCustomerAttributeNode, config, { services: fx.services, configurationVersion });
    const msg = fx.msg({ data: data as object, ...(originator ? { originator } : {}) });
    return { msg, out: only((await runNode(node, msg)).outputs) };
  }

  it('has the catalogue definition and defaults (v1)', () => {
    const defaults = { dataMapping: { alarmThreshold: 'threshold' }, dataToFetch: 'ATTRIBUTES', fetchTo: 'METADATA' };
    expect(TbGetCustomerAttributeNode.type).to.equal('org.thingsboard.rule.engine.metadata.TbGetCustomerAttributeNode');
    expect(TbGetCustomerAttributeNode.category).to.equal('ENRICHMENT');
    expect(TbGetCustomerAttributeNode.uiName).to.equal('customer attributes');
    expect(TbGetCustomerAttributeNode.version).to.equal(1);
    expect(TbGetCustomerAttributeNode.relations).to.deep.equal(['Success', 'Failure']);
    expect(TbGetCustomerAttributeNode.defaultConfig).to.deep.equal(defaults);
    expect(createNode(TbGetCustomerAttributeNode, {}, { services: fx.services }).config).to.deep.equal(defaults);
  });

  it('defaults: the device customer\'s server attribute alarmThreshold → metadata threshold', async () => {
    const { msg, out } = await run({});
    expect(out.relations).to.deep.equal(['Success']);
    expect(out.msg.id).to.equal(msg.id);
    expect(out.msg.metaData).to.deep.equal({ ...msg.metaData, threshold: '30' });
  });

  it('LATEST_TELEMETRY into data, typed; missing keys skipped', async () => {
    const { out } = await run({ dataMapping: { consumption: 'c', meta: 'm', nope: 'n' }, dataToFetch: 'LATEST_TELEMETRY', fetchTo: 'DATA' });
    expect(out.relations).to.deep.equal(['Success']);
    expect(JSON.parse(out.msg.data)).to.deep.equal({ v: 1, c: 12.5, m: { a: 1 } });
  });

  it('a customer originator is its own customer; a user or an alarm has its customerId', async () => {
    const t = fx.tenant.id.id;
    expect((await run({ dataMapping: { tier: 'tier' } }, fx.customer.id)).out.msg.metaData.tier).to.equal('gold');
    const user = await fx.store.users.create({ email: 'cu@example.com', authority: 'CUSTOMER_USER', tenantId: t, customerId: fx.customer.id.id });
    expect((await run({ dataMapping: { tier: 'tier' } }, user.id)).out.msg.metaData.tier).to.equal('gold');
    const { alarm } = await fx.store.alarms.createOrUpdateActive(t, { type: 'High', originator: fx.device.id, severity: 'MAJOR', customerId: fx.customer.id.id });
    expect((await run({ dataMapping: { tier: 'tier' } }, alarm.id)).out.msg.metaData.tier).to.equal('gold');
  });

  it('unassigned originator, tenant originator → Failure "Originator is not assigned to any customer"', async () => {
    const lonely = await fx.store.devices.create(fx.tenant.id.id, { name: 'Unassigned' });
    for (const originator of [lonely.id, fx.tenant.id]) {
      const { msg, out } = await run({}, originator);
      expect(out.relations).to.deep.equal(['Failure']);
      expect(out.error).to.equal('Originator is not assigned to any customer');
      expect(out.msg).to.equal(msg);
    }
  });

  it('unknown originator → Failure "Originator not found"; a type the store lacks → Failure', async () => {
    const ghost = await run({}, { entityType: 'DEVICE', id: '00000000-0000-4000-8000-00000000dead' });
    expect(ghost.out.relations).to.deep.equal(['Failure']);
    expect(ghost.out.error).to.equal('Originator not found');
    const asset = await run({}, { entityType: 'ASSET', id: '00000000-0000-4000-8000-00000000beef' });
    expect(asset.out.relations).to.deep.equal(['Failure']);
    expect(asset.out.error).to.match(/ASSET entities are not kept/);
  });

  it('DATA with a body that is not a JSON object → Failure; no tenantId → Failure', async () => {
    const notObject = await run({ fetchTo: 'DATA' }, undefined, 'text');
    expect(notObject.out.error).to.equal('Message body is not an object!');
    const { node } = createNode(TbGetCustomerAttributeNode, {}, { services: fx.services });
    const out = only((await runNode(node, fx.msg({ tenantId: null }))).outputs);
    expect(out.relations).to.deep.equal(['Failure']);
    expect(out.error).to.match(/no tenantId/);
  });

  it('refuses FIELDS and an empty mapping, with ThingsBoard\'s texts', () => {
    expect(() => createNode(TbGetCustomerAttributeNode, { dataToFetch: 'FIELDS' }, { services: fx.services })).to.throw(
      NodeConfigError,
      'DataToFetch property has invalid value: FIELDS. Only ATTRIBUTES and LATEST_TELEMETRY values supported!',
    );
    expect(() => createNode(TbGetCustomerAttributeNode, { dataMapping: {} }, { services: fx.services })).to.throw(
      NodeConfigError,
      'At least one mapping entry should be specified!',
    );
  });

  it('upgrades v0: attrMapping/telemetry → dataMapping/dataToFetch, fetchTo METADATA', async () => {
    const config = createNode(TbGetCustomerAttributeNode, { attrMapping: { consumption: 'c' }, telemetry: true }, { services: fx.services, configurationVersion: 0 }).config;
    expect(config).to.deep.equal({ dataMapping: { consumption: 'c' }, dataToFetch: 'LATEST_TELEMETRY', fetchTo: 'METADATA' });
    const { out } = await run({ attrMapping: { alarmThreshold: 't' }, telemetry: false }, undefined, { v: 1 }, 0);
    expect(out.msg.metaData.t).to.equal('30');
    expect(() => createNode(TbGetCustomerAttributeNode, { attrMapping: {}, telemetry: 1 }, { services: fx.services, configurationVersion: 0 })).to.throw(
      /'telemetry' has unexpected value/,
    );
  });
});
