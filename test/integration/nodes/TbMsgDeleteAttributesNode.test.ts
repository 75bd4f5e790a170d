import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { JsonObject, NodeOutput } from '../../../src/engine/node-api.js';
import type { EntityId } from '../../../src/msg/entity.js';
import { TbMsgDeleteAttributesNode } from '../../../src/nodes/action/TbMsgDeleteAttributesNode.js';
import type { AttributeScope } from '../../../src/store/attributes.js';
import { createNode, relationsOf, runNode, testServices, expectStoreNeeded } from '../../helpers/node-harness.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';

describe('TbMsgDeleteAttributesNode (delete attributes)', () => {
  let fx: StoreFixture;
  before(async () => {
    fx = await startStoreFixture();
  });
  after(() => fx.close());

  const make = (config: JsonObject = {}) => createNode(TbMsgDeleteAttributesNode, config, { services: fx.services });
  const seeded = async (): Promise<EntityId> => {
    const e: EntityId = { entityType: 'DEVICE', id: randomUUID() };
    for (const scope of ['SERVER_SCOPE', 'SHARED_SCOPE'] as const) await fx.store.attributes.save(e, scope, { a: 1, b: 2, c: 3, firmware: 'v1' });
    return e;
  };
  const keysIn = async (e: EntityId, scope: AttributeScope) => (await fx.store.attributes.getAll(e, scope)).map((kv) => kv.key);
  const only = (outputs: readonly NodeOutput[]) => {
    const o = outputs[0];
    if (o?.kind !== 'tell') throw new Error('expected one tell output');
    return o;
  };

  it('fills the catalogue defaults', () => {
    expect(make().config).to.deep.equal(TbMsgDeleteAttributesNode.defaultConfig);
    expect(TbMsgDeleteAttributesNode.defaultConfig).to.deep.equal({ scope: 'SERVER_SCOPE', keys: [], sendAttributesDeletedNotification: false, notifyDevice: false });
  });

  it('deletes the listed keys in the configured scope; missing keys are ignored', async () => {
    const e = await seeded();
    const made = make({ keys: ['a', 'missing'] });
    const result = await runNode(made.node, fx.msg({ originator: e, type: 'ANY_TYPE' }), made.services);
    expect(relationsOf(result)).to.deep.equal(['Success']);
    expect(await keysIn(e, 'SERVER_SCOPE')).to.deep.equal(['b', 'c', 'firmware']);
    expect(await keysIn(e, 'SHARED_SCOPE')).to.deep.equal(['a', 'b', 'c', 'firmware']);
    expect(only(result.outputs).msg.metaData.notifyDevice).to.equal('false');
  });

  it('replaces ${metadata} and $[data] patterns, drops blank and repeated keys; metadata.scope wins', async () => {
    const e = await seeded();
    const made = make({ keys: ['${which}', '$[target.key]', '${which}', '${absent}x', ' '] });
    const msg = fx.msg({ originator: e, data: '{"target":{"key":"c"}}', metaData: { which: 'b', scope: 'SHARED_SCOPE' } });
    expect(relationsOf(await runNode(made.node, msg, made.services))).to.deep.equal(['Success']);
    expect(await keysIn(e, 'SHARED_SCOPE')).to.deep.equal(['a', 'firmware']);
    expect(await keysIn(e, 'SERVER_SCOPE')).to.deep.equal(['a', 'b', 'c', 'firmware']);
  });

  it('no keys left: Success without touching the store; the message goes on as it came', async () => {
    const e = await seeded();
    const made = make({ keys: [] });
    const msg = fx.msg({ originator: e });
    const result = await runNode(made.node, msg, made.services);
    expect(only(result.outputs).msg).to.equal(msg);
    expect(await keysIn(e, 'SERVER_SCOPE')).to.have.length(4);
  });

  it('notifyDevice only for SHARED_SCOPE, from config or metadata "true"', async () => {
    const e = await seeded();
    const cases: [JsonObject, Record<string, string>, string][] = [
      [{ scope: 'SHARED_SCOPE', notifyDevice: true }, {}, 'true'],
      [{ scope: 'SHARED_SCOPE' }, { notifyDevice: 'true' }, 'true'],
      [{ scope: 'SHARED_SCOPE' }, {}, 'false'],
      [{ scope: 'SERVER_SCOPE', notifyDevice: true }, {}, 'false'],
    ];
    for (const [config, metaData, expected] of cases) {
      const made = make({ ...config, keys: ['firmware'] });
      const result = await runNode(made.node, fx.msg({ originator: e, metaData }), made.services);
      expect(only(result.outputs).msg.metaData.notifyDevice).to.equal(expected);
    }
  });

  it('Failure for an unknown metadata.scope and a missing tenant; refuses a bad configured scope; needs the store', async () => {
    const e = await seeded();
    const made = make({ keys: ['a'] });
    const bad = await runNode(made.node, fx.msg({ originator: e, metaData: { scope: 'NOPE' } }), made.services);
    expect(relationsOf(bad)).to.deep.equal(['Failure']);
    expect(only(bad.outputs).error).to.match(/^Unknown attribute scope "NOPE"/);
    const noTenant = await runNode(made.node, { ...fx.msg({ originator: e }), tenantId: null }, made.services);
    expect(only(noTenant.outputs).error).to.match(/has no tenantId/);
    expect(await keysIn(e, 'SERVER_SCOPE')).to.include('a');
    expect(() => make({ scope: 'EVERY_SCOPE' })).to.throw(/must be one of/);
    await expectStoreNeeded(TbMsgDeleteAttributesNode, { keys: ['a'] }, { services: testServices() });
  });
});
