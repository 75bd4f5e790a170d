import { expect } from 'chai';
import { NodeConfigError, type NodeOutput } from '../../../src/engine/node-api.js';
import { TbGetTenantAttributeNode } from '../../../src/nodes/enrichment/TbGetTenantAttributeNode.js';
import { createNode, runNode } from '../../helpers/node-harness.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';

type Tell = Extract<NodeOutput, { kind: 'tell' }>;

function only(outputs: NodeOutput[]): Tell {
  expect(outputs).to.have.length(1);
  const out = outputs[0] as NodeOutput;
  if (out.kind !== 'tell') throw new Error(`expected a tell, got ${out.kind}`);
  return out;
}

describe('TbGetTenantAttributeNode (store)', () => {
  let fx: StoreFixture;

  before(async () => {
    fx = await startStoreFixture();
    await fx.store.attributes.save(fx.tenant.id, 'SERVER_SCOPE', { alarmThreshold: 40, region: 'EU', flags: [1, 2] });
    await fx.store.attributes.save(fx.tenant.id, 'CLIENT_SCOPE', { alarmThreshold: 1 });
    await fx.store.timeseries.save(fx.tenant.id, { ts: 1000, values: { devices: 7 } });
  });
  after(() => fx.close());

  async function run(config: Record<string, unknown>, data: unknown = { v: 1 }, configurationVersion?: number) {
    const { node } = createNode(TbGetTenantAttributeNode, config, { services: fx.services, configurationVersion });
    const msg = fx.msg({ data: data as object, metaData: { who: 'region' } });
    return { msg, out: only((await runNode(node, msg)).outputs) };
  }

  it('has the catalogue definition and defaults (v1)', () => {
    const defaults = { dataMapping: { alarmThreshold: 'threshold' }, dataToFetch: 'ATTRIBUTES', fetchTo: 'METADATA' };
    expect(TbGetTenantAttributeNode.type).to.equal('org.thingsboard.rule.engine.metadata.TbGetTenantAttributeNode');
    expect(TbGetTenantAttributeNode.category).to.equal('ENRICHMENT');
    expect(TbGetTenantAttributeNode.uiName).to.equal('tenant attributes');
    expect(TbGetTenantAttributeNode.version).to.equal(1);
    expect(TbGetTenantAttributeNode.relations).to.deep.equal(['Success', 'Failure']);
    expect(TbGetTenantAttributeNode.defaultConfig).to.deep.equal(defaults);
    expect(createNode(TbGetTenantAttributeNode, {}, { services: fx.services }).config).to.deep.equal(defaults);
  });

  it('defaults: the tenant\'s server attribute alarmThreshold → metadata threshold (same id)', async () => {
    const { msg, out } = await run({});
    expect(out.relations).to.deep.equal(['Success']);
    expect(out.msg.id).to.equal(msg.id);
    expect(out.msg.metaData).to.deep.equal({ ...msg.metaData, threshold: '40' });
  });

  it('patterns in the mapping; typed values into data', async () => {
    const { out } = await run({ dataMapping: { '${who}': '$[target]', flags: 'flags' }, fetchTo: 'DATA' }, { target: 'r' });
    expect(out.relations).to.deep.equal(['Success']);
    expect(JSON.parse(out.msg.data)).to.deep.equal({ target: 'r', r: 'EU', flags: [1, 2] });
  });

  it('LATEST_TELEMETRY into metadata', async () => {
    const { out } = await run({ dataMapping: { devices: 'count' }, dataToFetch: 'LATEST_TELEMETRY' });
    expect(out.msg.metaData.count).to.equal('7');
  });

  it('a tenant without data: Success, nothing added', async () => {
    const { node } = createNode(TbGetTenantAttributeNode, {}, { services: fx.services });
    const other = await fx.store.tenants.create({ title: 'Empty tenant' });
    const msg = fx.msg({ tenantId: other.id.id });
    const out = only((await runNode(node, msg)).outputs);
    expect(out.relations).to.deep.equal(['Success']);
    expect(out.msg.metaData).to.deep.equal(msg.metaData);
  });

  it('no tenantId, or DATA with a body that is not an object → Failure', async () => {
    const { node } = createNode(TbGetTenantAttributeNode, {}, { services: fx.services });
    const noTenant = only((await runNode(node, fx.msg({ tenantId: null }))).outputs);
    expect(noTenant.relations).to.deep.equal(['Failure']);
    expect(noTenant.error).to.match(/no tenantId/);
    const { out } = await run({ fetchTo: 'DATA' }, [1]);
    expect(out.relations).to.deep.equal(['Failure']);
    expect(out.error).to.equal('Message body is not an object!');
  });

  it('refuses FIELDS, an empty mapping and a bad fetchTo', () => {
    expect(() => createNode(TbGetTenantAttributeNode, { dataToFetch: 'FIELDS' }, { services: fx.services })).to.throw(NodeConfigError, /Only ATTRIBUTES and LATEST_TELEMETRY/);
    expect(() => createNode(TbGetTenantAttributeNode, { dataMapping: {} }, { services: fx.services })).to.throw(NodeConfigError, /At least one mapping entry/);
    expect(() => createNode(TbGetTenantAttributeNode, { fetchTo: 'X' }, { services: fx.services })).to.throw(/fetchTo.*must be one of/);
  });

  it('upgrades v0', async () => {
    const config = createNode(TbGetTenantAttributeNode, { attrMapping: { devices: 'n' }, telemetry: 'true' }, { services: fx.services, configurationVersion: 0 }).config;
    expect(config).to.deep.equal({ dataMapping: { devices: 'n' }, dataToFetch: 'LATEST_TELEMETRY', fetchTo: 'METADATA' });
    const { out } = await run({ attrMapping: { region: 'reg' }, telemetry: false }, { v: 1 }, 0);
    expect(out.msg.metaData.reg).to.equal('EU');
  });
});
