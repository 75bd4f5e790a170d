import { expect } from 'chai';
import { Redis } from 'ioredis';
import { type NodeOutput } from '../../../src/engine/node-api.js';
import { TbGetAttributesNode } from '../../../src/nodes/enrichment/TbGetAttributesNode.js';
import { Store } from '../../../src/store/store.js';
import { createNode, relationsOf, runNode, testServices } from '../../helpers/node-harness.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';

type Tell = Extract<NodeOutput, { kind: 'tell' }>;

function only(outputs: NodeOutput[]): Tell {
  expect(outputs).to.have.length(1);
  const out = outputs[0] as NodeOutput;
  if (out.kind !== 'tell') throw new Error(`expected a tell, got ${out.kind}`);
  return out;
}

describe('TbGetAttributesNode (store)', () => {
  let fx: StoreFixture;
  const TS = 1_700_000_000_000;

  before(async () => {
    fx = await startStoreFixture();
    const device = fx.device.id;
    await fx.store.attributes.save(device, 'CLIENT_SCOPE', { firmware: '1.2', battery: 87 }, TS);
    await fx.store.attributes.save(device, 'SHARED_SCOPE', { limit: 30.5, enabled: true }, TS);
    await fx.store.attributes.save(device, 'SERVER_SCOPE', { location: { lat: 1, lng: 2 }, threshold: 25 }, TS);
    await fx.store.timeseries.save(device, { ts: TS + 5, values: { temperature: 21.5, status: 'ok' } });
  });
  after(() => fx.close());

  const run = async (config: Record<string, unknown>, msg = fx.msg(), configurationVersion?: number) => {
    const { node } = createNode(TbGetAttributesNode, config, { services: fx.services, configurationVersion });
    return only((await runNode(node, msg)).outputs);
  };

  it('has the catalogue definition and defaults (v1)', () => {
    const defaults = {
      clientAttributeNames: [],
      sharedAttributeNames: [],
      serverAttributeNames: [],
      latestTsKeyNames: [],
      tellFailureIfAbsent: true,
      getLatestValueWithTs: false,
      fetchTo: 'METADATA',
    };
    expect(TbGetAttributesNode.type).to.equal('org.thingsboard.rule.engine.metadata.TbGetAttributesNode');
    expect(TbGetAttributesNode.category).to.equal('ENRICHMENT');
    expect(TbGetAttributesNode.uiName).to.equal('originator attributes');
    expect(TbGetAttributesNode.version).to.equal(1);
    expect(TbGetAttributesNode.relations).to.deep.equal(['Success', 'Failure']);
    expect(TbGetAttributesNode.defaultConfig).to.deep.equal(defaults);
    // An empty config gets the defaults, except booleans: missing reads false, as in ThingsBoard.
    expect(createNode(TbGetAttributesNode, {}, { services: fx.services }).config).to.deep.equal({ ...defaults, tellFailureIfAbsent: false });
  });

  it('METADATA: prefixes cs_/shared_/ss_, latest values without prefix, all as text, same message id', async () => {
    const msg = fx.msg();
    const out = await run(
      {
        clientAttributeNames: ['firmware', 'battery'],
        sharedAttributeNames: ['limit', 'enabled'],
        serverAttributeNames: ['location', 'threshold'],
        latestTsKeyNames: ['temperature', 'status'],
        tellFailureIfAbsent: true,
      },
      msg,
    );
    expect(out.relations).to.deep.equal(['Success']);
    expect(out.msg.id).to.equal(msg.id);
    expect(out.msg.data).to.equal(msg.data);
    expect(out.msg.metaData).to.deep.equal({
      ...msg.metaData,
      cs_firmware: '1.2',
      cs_battery: '87',
      shared_limit: '30.5',
      shared_enabled: 'true',
      ss_location: '{"lat":1,"lng":2}',
      ss_threshold: '25',
      temperature: '21.5',
      status: 'ok',
    });
  });

  it('getLatestValueWithTs: {"ts","value"} as JSON text in metadata, as an object in data', async () => {
    const md = await run({ latestTsKeyNames: ['temperature'], getLatestValueWithTs: true });
    expect(md.relations).to.deep.equal(['Success']);
    expect(md.msg.metaData.temperature).to.equal(`{"ts":${TS + 5},"value":21.5}`);

    const data = await run({ latestTsKeyNames: ['temperature', 'status'], getLatestValueWithTs: true, fetchTo: 'DATA' });
    expect(JSON.parse(data.msg.data)).to.deep.equal({
      temperature: { ts: TS + 5, value: 21.5 },
      status: { ts: TS + 5, value: 'ok' },
    });
  });

  it('DATA: typed values into the JSON body with the same prefixes; metadata untouched', async () => {
    const msg = fx.msg({ data: { reading: 1 } });
    const out = await run(
      {
        clientAttributeNames: ['battery'],
        sharedAttributeNames: ['enabled'],
        serverAttributeNames: ['location'],
        latestTsKeyNames: ['temperature'],
        fetchTo: 'DATA',
      },
      msg,
    );
    expect(out.relations).to.deep.equal(['Success']);
    expect(out.msg.metaData).to.deep.equal(msg.metaData);
    expect(JSON.parse(out.msg.data)).to.deep.equal({
      reading: 1,
      cs_battery: 87,
      shared_enabled: true,
      ss_location: { lat: 1, lng: 2 },
      temperature: 21.5,
    });
  });

  it('DATA: a body that is not a JSON object goes to Failure unchanged', async () => {
    for (const data of ['[1,2]', 'plain text', '42']) {
      const msg = fx.msg({ data });
      const out = await run({ serverAttributeNames: ['threshold'], fetchTo: 'DATA' }, msg);
      expect(out.relations).to.deep.equal(['Failure']);
      expect(out.error).to.equal('Message body is not an object!');
      expect(out.msg).to.equal(msg);
    }
  });

  it('resolves ${metadata} and $[data] patterns in key names', async () => {
    const msg = fx.msg({ data: { which: 'threshold' }, metaData: { attr: 'firmware', ts: String(TS) } });
    const out = await run({ clientAttributeNames: ['${attr}'], serverAttributeNames: ['$[which]'] }, msg);
    expect(out.relations).to.deep.equal(['Success']);
    expect(out.msg.metaData).to.include({ cs_firmware: '1.2', ss_threshold: '25' });
  });

  it('tellFailureIfAbsent: missing keys → Failure with the enriched message and the missing keys per scope', async () => {
    const msg = fx.msg();
    const out = await run(
      {
        clientAttributeNames: ['firmware', 'nope1'],
        sharedAttributeNames: ['limit'],
        serverAttributeNames: ['nope2', 'nope3'],
        latestTsKeyNames: ['temperature', 'humidity'],
        tellFailureIfAbsent: true,
      },
      msg,
    );
    expect(out.relations).to.deep.equal(['Failure']);
    expect(out.msg.id).to.equal(msg.id);
    expect(out.msg.metaData).to.include({ cs_firmware: '1.2', shared_limit: '30.5', temperature: '21.5' });
    expect(out.error).to.equal(
      'The following attribute/telemetry keys is not present in the DB: \n' +
        '\t[CLIENT_SCOPE]:[nope1]\n' +
        '\t[SERVER_SCOPE]:[nope2, nope3]\n' +
        '\t[LATEST_TS]:[humidity]\n',
    );
  });

  it('without tellFailureIfAbsent missing keys are skipped and the message goes to Success', async () => {
    const out = await run({ clientAttributeNames: ['nope', 'firmware'], latestTsKeyNames: ['humidity'], tellFailureIfAbsent: false });
    expect(out.relations).to.deep.equal(['Success']);
    expect(out.msg.metaData).to.include({ cs_firmware: '1.2' });
    expect(out.msg.metaData).not.to.have.any.keys('cs_nope', 'humidity');
  });

  it('reads nothing and succeeds with empty key lists', async () => {
    const msg = fx.msg();
    const out = await run({});
    expect(out.relations).to.deep.equal(['Success']);
    expect(out.msg.metaData).to.deep.equal(msg.metaData);
  });

  it('reads the originator whatever its type (a customer here)', async () => {
    await fx.store.attributes.save(fx.customer.id, 'SERVER_SCOPE', { plan: 'gold' });
    const out = await run({ serverAttributeNames: ['plan'] }, fx.msg({ originator: fx.customer.id }));
    expect(out.relations).to.deep.equal(['Success']);
    expect(out.msg.metaData.ss_plan).to.equal('gold');
  });

  describe('upgrade from version 0', () => {
    const v0 = (cfg: Record<string, unknown>) => createNode(TbGetAttributesNode, cfg, { services: fx.services, configurationVersion: 0 }).config;

    it('fetchToData true/false → fetchTo DATA/METADATA; absent or null → METADATA', () => {
      expect(v0({ fetchToData: true, serverAttributeNames: ['a'] })).to.include({ fetchTo: 'DATA' }).and.not.have.key('fetchToData');
      expect(v0({ fetchToData: 'false' })).to.include({ fetchTo: 'METADATA' });
      expect(v0({})).to.include({ fetchTo: 'METADATA' });
      expect(v0({ fetchToData: null })).to.include({ fetchTo: 'METADATA' });
      expect(v0({ fetchToData: true }).serverAttributeNames).to.deep.equal([]);
    });

    it('refuses a fetchToData that is not a boolean', () => {
      expect(() => v0({ fetchToData: 'yes' })).to.throw(/upgrade from version 0 failed: property to update: 'fetchToData' has unexpected value/);
    });

    it('runs an upgraded v0 config', async () => {
      const { node } = createNode(TbGetAttributesNode, { fetchToData: true, serverAttributeNames: ['threshold'] }, { services: fx.services, configurationVersion: 0 });
      const out = only((await runNode(node, fx.msg({ data: {} }))).outputs);
      expect(JSON.parse(out.msg.data)).to.deep.equal({ ss_threshold: 25 });
    });
  });

  it('refuses a bad fetchTo and non-string key names', () => {
    expect(() => createNode(TbGetAttributesNode, { fetchTo: 'BODY' }, { services: fx.services })).to.throw(/fetchTo.*must be one of/);
    expect(() => createNode(TbGetAttributesNode, { clientAttributeNames: 'a' }, { services: fx.services })).to.throw(/must be array/);
  });

  it('a message without tenantId → Failure', async () => {
    const msg = fx.msg({ tenantId: null });
    const out = await run({ serverAttributeNames: ['threshold'] }, msg);
    expect(out.relations).to.deep.equal(['Failure']);
    expect(out.error).to.match(/no tenantId/);
    expect(out.msg).to.equal(msg);
  });

  it('a store error → Failure with its text', async () => {
    const closed = new Redis({ lazyConnect: true });
    closed.disconnect();
    const services = testServices({ store: new Store(closed) });
    const { node } = createNode(TbGetAttributesNode, { serverAttributeNames: ['threshold'] }, { services });
    const out = only((await runNode(node, fx.msg())).outputs);
    expect(out.relations).to.deep.equal(['Failure']);
    expect(out.error).to.equal('Connection is closed.');
  });

  it('without a store (rpc-chains validate/run) is created, and fails each message with the reason', async () => {
    const { node } = createNode(TbGetAttributesNode, { serverAttributeNames: ['a'] });
    const result = await runNode(node, fx.msg());
    expect(relationsOf(result)).to.deep.equal(['Failure']);
    const out = result.outputs[0];
    expect(out.kind === 'tell' && out.error).to.match(/needs the Redis store/);
  });
});
