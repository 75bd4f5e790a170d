import { expect } from 'chai';
import { ChainImportError } from '../../../src/engine/importer/chain-model.js';
import { ChainRuntime, type BranchEnd } from '../../../src/engine/runtime.js';
import { createScriptEngine } from '../../../src/engine/script/index.js';
import type { ScriptEngine } from '../../../src/engine/script/script-api.js';
import { builtinRegistry } from '../../../src/nodes/index.js';
import { TenantChains } from '../../../src/rule-engine/tenant-chains.js';
import { chainDoc } from '../../helpers/chain-builder.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';

const quiet = { info() {}, warn() {} };
const TRANSFORM = 'org.thingsboard.rule.engine.transform.TbTransformMsgNode';
const INPUT = 'org.thingsboard.rule.engine.flow.TbRuleChainInputNode';
const OUTPUT = 'org.thingsboard.rule.engine.flow.TbRuleChainOutputNode';

describe('TenantChains: rule chains stored per tenant and loaded into the runtime', () => {
  let fx: StoreFixture;
  let scripts: ScriptEngine;
  before(async () => {
    fx = await startStoreFixture();
    scripts = createScriptEngine({ timeoutMs: 500, memoryLimitMb: 32 });
  });
  after(async () => {
    scripts.dispose();
    await fx.close();
  });

  function newRuntime() {
    return new ChainRuntime({ services: { ...fx.services, scripts }, maxNodeExecutionsPerMessage: 50 });
  }

  const tag = (name: string, tagText: string) => ({
    type: TRANSFORM,
    name,
    configuration: { scriptLang: 'JS', jsScript: `metadata.path = (metadata.path || '') + '${tagText}'; return {msg: msg, metadata: metadata, msgType: msgType};` },
  });

  it('imports chains, links them by name, sets the root, and a new runtime loads the same chains after a restart', async () => {
    const runtime = newRuntime();
    const chains = new TenantChains(fx.store, runtime, builtinRegistry(), quiet);
    const sub = await chains.importChain(fx.tenant.id.id, chainDoc('Sub', [tag('s', 'S'), { type: OUTPUT, name: 'Done' }], [[0, 1, 'Success']]));
    const root = await chains.importChain(
      fx.tenant.id.id,
      chainDoc('Root', [tag('r', 'R'), { type: INPUT, name: 'Sub', configuration: { ruleChainId: 'id-from-another-system' } }, tag('after', 'A')], [[0, 1, 'Success'], [1, 2, 'Done']]),
      { root: true },
    );
    expect(root.root).to.equal(true);
    const stored = await fx.store.ruleChains.get(fx.tenant.id.id, root.id.id);
    expect(JSON.stringify(stored?.document)).to.include(sub.id.id);

    const afterRestart = newRuntime();
    const issues = await new TenantChains(fx.store, afterRestart, builtinRegistry(), quiet).loadTenant(fx.tenant.id.id);
    expect(issues).to.deep.equal([]);
    const ends: BranchEnd[] = [];
    const outcome = await afterRestart.process(fx.msg(), { onBranchEnd: (e) => ends.push(e) });
    expect(outcome.status).to.equal('success');
    expect(ends.map((e) => e.msg.metaData.path)).to.deep.equal(['RSA']);
    await runtime.close();
    await afterRestart.close();
  });

  it('stores nothing when a chain does not import, and says why by node', async () => {
    const runtime = newRuntime();
    const chains = new TenantChains(fx.store, runtime, builtinRegistry(), quiet);
    const before = (await fx.store.ruleChains.list(fx.tenant.id.id)).length;
    const bad = chainDoc('Bad', [{ type: TRANSFORM, name: 'broken', configuration: { scriptLang: 'JS', jsScript: 'return {' } }], []);
    let error: unknown;
    try {
      await chains.importChain(fx.tenant.id.id, bad);
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(ChainImportError);
    expect((error as ChainImportError).message).to.match(/\(node #0 "broken"\)/);
    expect((await fx.store.ruleChains.list(fx.tenant.id.id)).length).to.equal(before);
    await runtime.close();
  });
});
