// DELETE /api/tenant/{id} with the API and the rule engine in different processes (two systems
// on one Redis here, so that each runtime can be looked into): the tenant's chains leave the
// runtime of every process, its root is forgotten, its data is gone; other tenants keep theirs.
// The rule-chain fuzzer found thousands of deleted tenants' chains still loaded.
import { expect } from 'chai';
import pino from 'pino';
import { startSystem, type RunningSystem } from '../../../src/app/system.js';
import { newMsg } from '../../../src/msg/tb-msg.js';
import { keyPart } from '../../../src/store/keys.js';
import { chainDoc } from '../../helpers/chain-builder.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { testSettings } from '../../helpers/test-settings.js';

const PASSWORD = 'secret-Pa55';
const SCRIPT = 'org.thingsboard.rule.engine.transform.TbTransformMsgNode';

describe('rule engine: a deleted tenant leaves no chain loaded in any process', function () {
  this.timeout(60_000);
  let redis: TestRedis;
  let api: RunningSystem;
  /** A second API process: the doomed tenant is made through it, deleted through the first. */
  let api2: RunningSystem;
  let engine: RunningSystem;
  let base: string;
  let sysToken: string;

  const call = async (method: string, path: string, token: string | null, body?: unknown, via = base) => {
    const res = await fetch(`${via}${path}`, {
      method,
      headers: { ...(token ? { 'x-authorization': `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, text, json: text === '' ? undefined : (JSON.parse(text) as unknown) };
  };
  const login = async (email: string) => ((await call('POST', '/api/auth/login', null, { username: email, password: PASSWORD })).json as { token: string }).token;

  before(async () => {
    redis = await startTestRedis();
    const logger = pino({ level: 'silent' });
    api = await startSystem(testSettings({ roles: ['api'], serviceId: 'api-1' }), redis.url, logger);
    api2 = await startSystem(testSettings({ roles: ['api'], serviceId: 'api-2' }), redis.url, logger);
    engine = await startSystem(testSettings({ roles: ['rule-engine'], serviceId: 'engine-1' }), redis.url, logger);
    base = `http://127.0.0.1:${api.httpPort}`;
    await api.store.users.create({ email: 'sys@deletion.example', authority: 'SYS_ADMIN', password: PASSWORD });
    sysToken = await login('sys@deletion.example');
  });
  after(async () => {
    await engine?.stop();
    await api2?.stop();
    await api?.stop();
    await redis?.stop();
  });

  /** A tenant made through the API (with its default root chain), and two more chains with scripts. */
  async function tenantWithChains(title: string, via = base): Promise<{ tenantId: string; chainIds: string[] }> {
    const tenant = await call('POST', '/api/tenant', sysToken, { title }, via);
    expect(tenant.status, tenant.text).to.equal(200);
    const tenantId = (tenant.json as { id: { id: string } }).id.id;
    const email = `admin@${title.toLowerCase().replace(/\W/g, '')}.example`;
    const admin = await call('POST', '/api/user', sysToken, { email, authority: 'TENANT_ADMIN', tenantId: { entityType: 'TENANT', id: tenantId }, password: PASSWORD });
    expect(admin.status, admin.text).to.equal(200);
    const token = await login(email);
    const chainIds: string[] = [];
    for (const name of ['Scripted 1', 'Scripted 2']) {
      const doc = chainDoc(name, [{ type: SCRIPT, name: 'tag', configuration: { scriptLang: 'JS', jsScript: `metadata.by = '${name}'; return {msg: msg, metadata: metadata, msgType: msgType};` } }], []);
      const res = await call('POST', '/api/ruleChain/import', token, doc, via);
      expect(res.status, res.text).to.equal(200);
      chainIds.push((res.json as { id: { id: string } }).id.id);
    }
    const all = (await call('GET', '/api/ruleChains?pageSize=100&page=0', token)).json as { data: { id: { id: string } }[] };
    return { tenantId, chainIds: all.data.map((c) => c.id.id) };
  }

  async function eventually(what: string, cond: () => boolean): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('unloads the chains on the rule-engine process and both API processes, forgets the root, deletes the data', async () => {
    const doomed = await tenantWithChains('Doomed tenant', `http://127.0.0.1:${api2.httpPort}`);
    const kept = await tenantWithChains('Kept tenant');
    expect(doomed.chainIds).to.have.length(3); // the default root chain and the two imported
    await eventually('the engine to load both tenants', () => [...doomed.chainIds, ...kept.chainIds].every((id) => engine.runtime.hasChain(id)));
    expect(engine.runtime.rootChainOf(doomed.tenantId)).to.be.a('string');

    const del = await call('DELETE', `/api/tenant/${doomed.tenantId}`, sysToken);
    expect(del.status, del.text).to.equal(200);

    await eventually('the engine to unload the deleted tenant', () => doomed.chainIds.every((id) => !engine.runtime.hasChain(id)));
    await eventually('the second API process to unload the deleted tenant', () => doomed.chainIds.every((id) => !api2.runtime.hasChain(id)));
    for (const system of [api, api2, engine]) {
      expect(doomed.chainIds.filter((id) => system.runtime.hasChain(id)), system.serviceId).to.deep.equal([]);
      expect(system.runtime.rootChainOf(doomed.tenantId), system.serviceId).to.equal(null);
      expect(system.chains.loadedTenants().has(doomed.tenantId), system.serviceId).to.equal(false);
    }
    // The other tenant runs on, on the engine.
    expect(kept.chainIds.every((id) => engine.runtime.hasChain(id))).to.equal(true);
    expect(engine.runtime.rootChainOf(kept.tenantId)).to.be.a('string');
    expect(engine.chains.loadedTenants().get(kept.tenantId)).to.equal(3);

    // Its data is gone: the tenant, and every key of its slot.
    expect((await call('GET', `/api/tenant/${doomed.tenantId}`, sysToken)).status).to.equal(404);
    const [, left] = await api.store.redis.scan('0', 'MATCH', `${api.store.keys.prefix}:{t:${keyPart(doomed.tenantId)}}*`, 'COUNT', 10_000);
    expect(left).to.deep.equal([]);

    // A message still queued for it fails cleanly (no chain), it does not run a stale one.
    const msg = newMsg({ type: 'POST_TELEMETRY_REQUEST', originator: { entityType: 'DEVICE', id: doomed.tenantId }, tenantId: doomed.tenantId });
    const outcome = await engine.runtime.process(msg);
    expect(outcome).to.deep.include({ status: 'failure', error: `no root rule chain is set for tenant ${doomed.tenantId}` });
  });
});
