// The real ThingsBoard exports of ../shared/examples/rule-chains: they import, and the parts
// made of the nodes this version runs, run.
import { expect } from 'chai';
import { validateFiles } from '../../src/cli/validate.js';
import { importChain } from '../../src/engine/importer/import-chain.js';
import { formatIssue } from '../../src/engine/importer/chain-model.js';
import { ChainRuntime, type BranchEnd } from '../../src/engine/runtime.js';
import { createScriptEngine } from '../../src/engine/script/index.js';
import type { ScriptEngine } from '../../src/engine/script/script-api.js';
import { builtinRegistry } from '../../src/nodes/index.js';
import { exampleFiles, readExample, supportedPart } from '../helpers/examples.js';
import { testServices, type TestServices } from '../helpers/node-harness.js';
import { startStoreFixture, type StoreFixture } from '../helpers/store-harness.js';
import type { NewMsg } from '../../src/msg/tb-msg.js';

const registry = builtinRegistry();

describe('real ThingsBoard exports (../shared/examples/rule-chains)', () => {
  let scripts: ScriptEngine;
  let services: TestServices;
  let fx: StoreFixture;
  before(async () => {
    scripts = createScriptEngine({ timeoutMs: 500, memoryLimitMb: 32 });
    fx = await startStoreFixture();
    services = testServices({ scripts, store: fx.store, serviceId: 'test-service' });
  });
  after(async () => {
    scripts.dispose();
    await fx.close();
  });

  it('has example files to test', () => {
    expect(exampleFiles().length).to.be.greaterThan(5);
  });

  it('validates every file: every node of every export is one rpc-chains runs', async () => {
    const lines = await validateFiles(exampleFiles(), registry, services);
    expect(lines).to.have.length(exampleFiles().length);
    for (const line of lines) expect(line.text).to.match(/^OK .+ nodes=\d+ connections=\d+$/);
  });

  async function runPart(file: string, start: number, msg: Omit<Partial<NewMsg>, 'data'> & { data?: string | object }) {
    const part = supportedPart(readExample(file), registry, start);
    const imported = importChain(part.doc, { source: file, registry });
    if (!imported.ok) throw new Error(imported.issues.map(formatIssue).join('\n'));
    const runtime = new ChainRuntime({ services, maxNodeExecutionsPerMessage: 50 });
    runtime.load([imported.chain]);
    const ends: BranchEnd[] = [];
    const outcome = await runtime.process(fx.msg(msg), { chainId: imported.chain.id, onBranchEnd: (e) => ends.push(e) });
    await runtime.close();
    return { outcome, ends };
  }

  it('transformation chain (docs): °F to °C in a JS transform, then saved as time series', async () => {
    const { outcome, ends } = await runPart('thingsboard.github.io__docs__transformation-rule-chain.json', 1, { data: { temperature: 100 } });
    expect(outcome.status).to.equal('success');
    expect(ends.map((e) => [e.nodeName, e.relations.join()])).to.deep.equal([['SaveTS', 'Success']]);
    const latest = await fx.store.timeseries.getLatest(fx.msg().originator, ['temperature']);
    expect(latest.temperature.value).to.equal(37.78);
  });

  it('validation chain (docs): the JS filter lets valid temperatures through to storage', async () => {
    const file = 'thingsboard.github.io__docs__validation-rule-chain.json';
    const valid = await runPart(file, 1, { data: { humidity: 20, temperature: 21 } });
    const invalid = await runPart(file, 1, { data: { humidity: 99, temperature: 120 } });
    expect(valid.ends.map((e) => e.relations.join())).to.deep.equal(['Success']);
    expect(invalid.ends.map((e) => e.relations.join())).to.deep.equal(['False']);
    const latest = await fx.store.timeseries.getLatest(fx.msg().originator, ['humidity']);
    expect(latest.humidity.value).to.equal(20);
  });

  // These runs have no RPC service (test/e2e/rpc-scenarios runs the RPC nodes for real): the
  // command reaches the RPC node, which fails the message for want of the service.
  it('RPC tutorial: the transform builds the spin command, the filter accepts it, the RPC node gets it', async () => {
    const { ends } = await runPart('thingsboard.github.io__tutorial__tutorial_of_rpc_call_request.json', 3, {
      data: { turbineDirection: 100 },
      metaData: { windDirection: '200' },
    });
    expect(ends).to.have.length(1);
    expect(ends[0].nodeName).to.equal('Rotating System');
    expect(ends[0].relations).to.deep.equal(['Failure']);
    expect(JSON.parse(ends[0].msg.data)).to.deep.equal({ method: 'spinLeft', params: 100 });
  });

  it('RPC response chain (black-box tests, metadata only): the transform forms the answer to getResponse for the reply node', async () => {
    const { ends } = await runPart('thingsboard__blackbox__RpcResponseRuleChainMetadata.json', 0, {
      type: 'TO_SERVER_RPC_REQUEST',
      data: { method: 'getResponse', params: {} },
      metaData: { requestId: '1', serviceId: 's', sessionId: 'x' },
    });
    expect(ends[0].nodeName).to.equal('rpcReply');
    expect(JSON.parse(ends[0].msg.data)).to.deep.equal({ response: 'requestReceived' });
  });

  it('thermostat alarms (3.1 demo): server attributes, the JS switch, and the alarms it creates', async () => {
    const device = fx.msg().originator;
    await fx.store.attributes.save(device, 'SERVER_SCOPE', { alarmTemperature: true, thresholdTemperature: 25, alarmHumidity: true, thresholdHumidity: 60 });
    const { outcome, ends } = await runPart('thingsboard__v3.1__demo__rule_chains__thermostat_alarms.json', 5, { data: { temperature: 30, humidity: 50 } });
    expect(outcome.status).to.equal('success');
    expect(ends.map((e) => e.relations.join()).sort()).to.deep.equal(['Created', 'Created']);
    const alarms = await fx.store.alarms.listByOriginator(fx.tenant.id.id, device, { pageSize: 10, page: 0 });
    expect(alarms.data.map((a) => a.type).sort()).to.deep.equal(['High Temperature', 'Low Humidity']);
  });

  it('monitoring chain: JS filter, TBEL filter with a.equals(), type switch and log node', async () => {
    const { outcome, ends } = await runPart('thingsboard__monitoring__rule_chain.json', 7, { type: 'MY_CUSTOM_TYPE', data: { x: 1 } });
    expect(outcome.status).to.equal('success');
    expect(ends.map((e) => [e.nodeName, e.relations.join()])).to.deep.equal([['Log Other', 'Success']]);
    expect(services.logs.some((l) => l.includes('Incoming message'))).to.equal(true);
  });

  it('monitoring chain: the TBEL transform stamps arrivalTs with Date.now()', async () => {
    const before = Date.now();
    const { ends } = await runPart('thingsboard__monitoring__rule_chain.json', 9, { data: { testData: 1 } });
    const arrival = Number(ends[0].msg.metaData.arrivalTs);
    expect(arrival).to.be.within(before, Date.now());
  });

  for (const file of ['thingsboard__tenant__rule_chains__root_rule_chain.json', 'thingsboard__v3.2__tenant__rule_chains__root_rule_chain.json']) {
    it(`${file}: "Other" messages reach the log node`, async () => {
      const { ends } = await runPart(file, 2, { type: 'MY_CUSTOM_TYPE' });
      expect(ends.map((e) => e.nodeName)).to.deep.equal(['Log Other']);
    });
  }
});
