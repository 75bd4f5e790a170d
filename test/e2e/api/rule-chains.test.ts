import { expect } from 'chai';
import { nodeIdOf } from '../../../src/engine/importer/import-chain.js';
import { chainDoc } from '../../helpers/chain-builder.js';
import { startApi, envelopeOf, type ApiFixture } from './harness.js';

const TRANSFORM = 'org.thingsboard.rule.engine.transform.TbTransformMsgNode';
const FILTER = 'org.thingsboard.rule.engine.filter.TbJsFilterNode';

interface Chain {
  id: { entityType: string; id: string };
  name: string;
  root: boolean;
  firstRuleNodeId: { entityType: string; id: string } | null;
  [k: string]: unknown;
}

describe('API rule chains: import with errors by node, root, metadata, export', () => {
  let api: ApiFixture;
  let adminA: string;
  let adminB: string;
  before(async () => {
    api = await startApi({ extra: { defaultRootChain: chainDoc('Root Rule Chain', [{ type: TRANSFORM, name: 'pass', configuration: { scriptLang: 'JS', jsScript: 'return {msg: msg, metadata: metadata, msgType: msgType};' } }], []) } });
    [adminA, adminB] = await Promise.all([api.login(api.world.adminA), api.login(api.world.adminB)]);
  });
  after(async () => api?.close());

  const good = chainDoc(
    'Telemetry',
    [
      { type: FILTER, name: 'hot?', configuration: { scriptLang: 'JS', jsScript: 'return msg.temperature > 20;' } },
      { type: TRANSFORM, name: 'tag', configuration: { scriptLang: 'JS', jsScript: 'metadata.hot = "yes"; return {msg: msg, metadata: metadata, msgType: msgType};' } },
    ],
    [[0, 1, 'True']],
  );

  let chain: Chain;

  it('imports an export document: 200 with the RuleChain JSON', async () => {
    const res = await api.call('POST', '/api/ruleChain/import', { token: adminA, body: good });
    expect(res.status, res.text).to.equal(200);
    chain = res.json as Chain;
    expect(chain).to.deep.include({ name: 'Telemetry', type: 'CORE', root: false, tenantId: { entityType: 'TENANT', id: api.world.tenantA.id.id } });
    expect(chain.id.entityType).to.equal('RULE_CHAIN');
    expect(chain.firstRuleNodeId).to.deep.equal({ entityType: 'RULE_NODE', id: nodeIdOf(chain.id.id, 0) });
  });

  it('refuses a chain whose script does not compile and whose node type is unknown: 400, errorCode 31, errors by node; nothing stored', async () => {
    const bad = chainDoc(
      'Broken',
      [
        { type: TRANSFORM, name: 'fine', configuration: { scriptLang: 'JS', jsScript: 'return {msg: msg, metadata: metadata, msgType: msgType};' } },
        { type: TRANSFORM, name: 'does not compile', configuration: { scriptLang: 'JS', jsScript: 'return {msg: msg,, }' } },
        { type: 'org.example.NoSuchNode', name: 'mystery' },
      ],
      [[0, 1, 'Success'], [1, 2, 'Success']],
    );
    const before = (await api.store.ruleChains.list(api.world.tenantA.id.id)).length;
    const res = await api.call('POST', '/api/ruleChain/import', { token: adminA, body: bad });
    const env = envelopeOf(res);
    expect(env).to.include({ status: 400, errorCode: 31 });
    expect(env.message).to.match(/^Rule chain import failed: /);
    const errors = env.errors as { pointer: string; nodeIndex?: number; nodeName?: string; message: string }[];
    expect(errors).to.be.an('array').that.is.not.empty;
    const byNode = Object.fromEntries(errors.map((e) => [e.nodeName, e]));
    expect(byNode.mystery).to.include({ nodeIndex: 2, pointer: '/metadata/nodes/2/type' });
    // The script is compiled when the nodes are created, after the document checks pass; fix the type and ask again.
    const onlyScript = structuredClone(bad);
    (onlyScript.metadata.nodes as { type: string }[])[2]!.type = TRANSFORM;
    const again = envelopeOf(await api.call('POST', '/api/ruleChain/import', { token: adminA, body: onlyScript }));
    const scriptError = (again.errors as { nodeIndex?: number; nodeName?: string; message: string; pointer: string }[]).find((e) => e.nodeIndex === 1);
    expect(scriptError).to.include({ nodeName: 'does not compile', pointer: '/metadata/nodes/1/configuration/jsScript' });
    expect(scriptError?.message).to.match(/Unexpected token/);
    expect(again.message).to.match(/^Rule chain import failed: \/metadata\/nodes\/1\/configuration\/jsScript \(node #1 "does not compile"\): /);
    expect((await api.store.ruleChains.list(api.world.tenantA.id.id)).length).to.equal(before);
  });

  it('refuses what is not a chain document', async () => {
    const env = envelopeOf(await api.call('POST', '/api/ruleChain/import', { token: adminA, body: { hello: 'world' } }));
    expect(env).to.include({ status: 400, errorCode: 31 });
    expect(env.errors).to.be.an('array').with.length(1);
  });

  it('GET /api/ruleChain/{id}, /metadata (node ids), /export (importable again), GET /api/ruleChains', async () => {
    const one = (await api.call('GET', `/api/ruleChain/${chain.id.id}`, { token: adminA })).json as Chain;
    expect(one).to.deep.equal(chain);

    const meta = (await api.call('GET', `/api/ruleChain/${chain.id.id}/metadata`, { token: adminA })).json as Record<string, unknown> & { nodes: Record<string, unknown>[] };
    expect(meta.ruleChainId).to.deep.equal({ entityType: 'RULE_CHAIN', id: chain.id.id });
    expect(meta.firstNodeIndex).to.equal(0);
    expect(meta.nodes.map((n) => n.id)).to.deep.equal([0, 1].map((i) => ({ entityType: 'RULE_NODE', id: nodeIdOf(chain.id.id, i) })));
    expect(meta.nodes[0]).to.deep.include({ type: FILTER, name: 'hot?', ruleChainId: { entityType: 'RULE_CHAIN', id: chain.id.id } });
    expect(meta.connections).to.deep.equal([{ fromIndex: 0, toIndex: 1, type: 'True' }]);

    const exported = (await api.call('GET', `/api/ruleChain/${chain.id.id}/export`, { token: adminA })).json as { ruleChain: Record<string, unknown>; metadata: Record<string, unknown> };
    expect(exported.ruleChain).to.include({ name: 'Telemetry', type: 'CORE', root: false });
    expect((exported.metadata.nodes as unknown[]).length).to.equal(2);
    // The export imports again (here, as a copy under a new id).
    const copy = await api.call('POST', '/api/ruleChain/import', { token: adminA, body: exported });
    expect(copy.status, copy.text).to.equal(200);
    expect((copy.json as Chain).id.id).to.not.equal(chain.id.id);

    const page = (await api.call('GET', '/api/ruleChains?pageSize=1&page=0&sortProperty=createdTime&sortOrder=ASC', { token: adminA })).json as { data: Chain[]; totalElements: number; hasNext: boolean };
    expect(page.data.map((c) => c.id.id)).to.deep.equal([chain.id.id]);
    expect(page).to.include({ totalElements: 2, hasNext: true });
  });

  it("POST /api/ruleChain/{id}/root makes it the tenant's root chain", async () => {
    const res = await api.call('POST', `/api/ruleChain/${chain.id.id}/root`, { token: adminA });
    expect(res.status).to.equal(200);
    expect((res.json as Chain).root).to.equal(true);
    expect((await api.store.ruleChains.getRoot(api.world.tenantA.id.id))?.id.id).to.equal(chain.id.id);
  });

  it("another tenant's chain does not exist for the caller; customer users and the system administrator may not import", async () => {
    expect((await api.call('GET', `/api/ruleChain/${chain.id.id}`, { token: adminB })).status).to.equal(404);
    expect((await api.call('POST', `/api/ruleChain/${chain.id.id}/root`, { token: adminB })).status).to.equal(404);
    expect((await api.call('GET', `/api/ruleChain/${chain.id.id}/metadata`, { token: adminB })).status).to.equal(404);
    const userA1 = await api.login(api.world.userA1);
    const sysadmin = await api.login(api.world.sysadmin);
    expect((await api.call('POST', '/api/ruleChain/import', { token: userA1, body: good })).status).to.equal(403);
    expect((await api.call('POST', '/api/ruleChain/import', { token: sysadmin, body: good })).status).to.equal(403);
  });

  it('a tenant created through the API gets the default root rule chain and a default device profile', async () => {
    const sysadmin = await api.login(api.world.sysadmin);
    const tenant = (await api.call('POST', '/api/tenant', { token: sysadmin, body: { title: 'Fresh' } })).json as { id: { id: string } };
    const root = await api.store.ruleChains.getRoot(tenant.id.id);
    expect(root?.name).to.equal('Root Rule Chain');
    expect((await api.store.deviceProfiles.getDefault(tenant.id.id))?.name).to.equal('default');
  });
});
