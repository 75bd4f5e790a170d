import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { JsonObject, NodeOutput } from '../../../src/engine/node-api.js';
import type { EntityId } from '../../../src/msg/entity.js';
import { TbMsgAttributesNode } from '../../../src/nodes/action/TbMsgAttributesNode.js';
import type { AttributeScope } from '../../../src/store/attributes.js';
import { createNode, relationsOf, runNode, testServices, expectStoreNeeded, testMsg } from '../../helpers/node-harness.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';

describe('TbMsgAttributesNode (save attributes)', () => {
  let fx: StoreFixture;
  before(async () => {
    fx = await startStoreFixture();
  });
  after(() => fx.close());

  let now = 1000;
  const newDevice = (): EntityId => ({ entityType: 'DEVICE', id: randomUUID() });
  const make = (config: JsonObject = {}, configurationVersion?: number) =>
    createNode(TbMsgAttributesNode, config, { configurationVersion, services: { ...fx.services, now: () => now } });
  const send = (made: ReturnType<typeof make>, originator: EntityId, data: unknown, metaData: Record<string, string> = {}, type = 'POST_ATTRIBUTES_REQUEST') =>
    runNode(made.node, fx.msg({ originator, type, data: typeof data === 'string' ? data : JSON.stringify(data), metaData }), made.services);
  const stored = async (e: EntityId, scope: AttributeScope) =>
    Object.fromEntries((await fx.store.attributes.getAll(e, scope)).map((kv) => [kv.key, [kv.value, kv.lastUpdateTs]]));
  const only = (outputs: readonly NodeOutput[]) => {
    const o = outputs[0];
    if (o?.kind !== 'tell') throw new Error('expected one tell output');
    return o;
  };

  it('fills the catalogue defaults; a missing boolean reads false, as in ThingsBoard', () => {
    expect(make().config).to.deep.equal({ ...TbMsgAttributesNode.defaultConfig, updateAttributesOnlyOnValueChange: false });
    expect(make(TbMsgAttributesNode.defaultConfig as unknown as JsonObject).config).to.deep.equal(TbMsgAttributesNode.defaultConfig);
    expect(TbMsgAttributesNode.defaultConfig).to.deep.equal({
      processingSettings: { type: 'ON_EVERY_MESSAGE' },
      scope: 'SERVER_SCOPE',
      notifyDevice: false,
      sendAttributesUpdatedNotification: false,
      updateAttributesOnlyOnValueChange: true,
    });
  });

  it('saves the attributes in the configured scope at the server time; the message goes on with metadata.notifyDevice', async () => {
    const e = newDevice();
    now = 5000;
    const result = await send(make({ scope: 'SHARED_SCOPE' }), e, { mode: 'eco', level: '3', obj: { a: 1 } });
    expect(relationsOf(result)).to.deep.equal(['Success']);
    expect(await stored(e, 'SHARED_SCOPE')).to.deep.equal({ level: [3, 5000], mode: ['eco', 5000], obj: [{ a: 1 }, 5000] });
    expect(await stored(e, 'SERVER_SCOPE')).to.deep.equal({});
    const out = only(result.outputs).msg;
    // No metadata.notifyDevice means "notify" (ThingsBoard's backward compatibility).
    expect(out.metaData.notifyDevice).to.equal('true');
    expect(out.data).to.equal('{"mode":"eco","level":"3","obj":{"a":1}}');
  });

  it('metadata.scope overrides the configured scope; an unknown scope is a Failure', async () => {
    const e = newDevice();
    const made = make({ scope: 'SERVER_SCOPE' });
    expect(relationsOf(await send(made, e, { a: 1 }, { scope: 'CLIENT_SCOPE' }))).to.deep.equal(['Success']);
    expect(Object.keys(await stored(e, 'CLIENT_SCOPE'))).to.deep.equal(['a']);
    expect(await stored(e, 'SERVER_SCOPE')).to.deep.equal({});
    const bad = await send(made, e, { a: 1 }, { scope: 'GLOBAL' });
    expect(relationsOf(bad)).to.deep.equal(['Failure']);
    expect(only(bad.outputs).error).to.match(/^Unknown attribute scope "GLOBAL"/);
  });

  it('notifyDevice: config true, or metadata "true"/absent; metadata "false" turns it off', async () => {
    const e = newDevice();
    const cases: [boolean, Record<string, string>, string][] = [
      [false, { notifyDevice: 'false' }, 'false'],
      [false, { notifyDevice: 'TRUE' }, 'true'],
      [false, { notifyDevice: '' }, 'true'],
      [true, { notifyDevice: 'false' }, 'true'],
    ];
    for (const [notifyDevice, metaData, expected] of cases) {
      const made = make({ notifyDevice, updateAttributesOnlyOnValueChange: false });
      expect(only((await send(made, e, { a: 1 }, metaData)).outputs).msg.metaData.notifyDevice).to.equal(expected);
    }
  });

  it('updateAttributesOnlyOnValueChange writes only new or changed values (type counts)', async () => {
    const e = newDevice();
    const made = make({ updateAttributesOnlyOnValueChange: true });
    now = 1000;
    await send(made, e, { a: 1, b: 'x', c: { k: 1 } });
    now = 2000;
    const second = await send(made, e, { a: 1, b: 'y', c: { k: 1 }, d: true });
    expect(relationsOf(second)).to.deep.equal(['Success']);
    expect(await stored(e, 'SERVER_SCOPE')).to.deep.equal({ a: [1, 1000], b: ['y', 2000], c: [{ k: 1 }, 1000], d: [true, 2000] });
    now = 3000;
    // Nothing changed: Success without a write, and the message is passed as it came.
    const msg = fx.msg({ originator: e, type: 'POST_ATTRIBUTES_REQUEST', data: '{"a":1}' });
    const same = await runNode(made.node, msg, made.services);
    expect(only(same.outputs).msg).to.equal(msg);
    // "1" (a string that casts to 1) is the same value; a JSON "1" text value is not.
    await send(made, e, { a: '1' });
    expect((await stored(e, 'SERVER_SCOPE')).a).to.deep.equal([1, 1000]);
    await send(made, e, { a: '1.5' });
    expect((await stored(e, 'SERVER_SCOPE')).a).to.deep.equal([1.5, 3000]);

    const always = make({ updateAttributesOnlyOnValueChange: false });
    now = 4000;
    await send(always, e, { d: true });
    expect((await stored(e, 'SERVER_SCOPE')).d).to.deep.equal([true, 4000]);
  });

  it('an empty object is Success without a write; other types, non-objects, null values and a missing tenant are Failures', async () => {
    const e = newDevice();
    const made = make();
    expect(relationsOf(await send(made, e, {}))).to.deep.equal(['Success']);
    const cases: [unknown, string, string?][] = [
      [{ a: 1 }, 'Unsupported msg type: POST_TELEMETRY_REQUEST', 'POST_TELEMETRY_REQUEST'],
      [[{ a: 1 }], 'Not a JSON Object: [{"a":1}]'],
      ['nope', 'Msg data is not a valid JSON: nope'],
      [{ a: null }, "Can't parse value: null"],
    ];
    for (const [data, error, type] of cases) {
      const r = await send(made, e, data, {}, type);
      expect(relationsOf(r)).to.deep.equal(['Failure']);
      expect(only(r.outputs).error).to.equal(error);
    }
    expect(await stored(e, 'SERVER_SCOPE')).to.deep.equal({});
    const noTenant = await runNode(made.node, { ...fx.msg({ type: 'POST_ATTRIBUTES_REQUEST' }), tenantId: null }, made.services);
    expect(only(noTenant.outputs).error).to.match(/has no tenantId/);
  });

  it('processing settings: WEBSOCKETS_ONLY, ADVANCED attributes=SKIP and DEDUPLICATE', async () => {
    const e = newDevice();
    expect(relationsOf(await send(make({ processingSettings: { type: 'WEBSOCKETS_ONLY' } }), e, { a: 1 }))).to.deep.equal(['Success']);
    const skip = { type: 'SKIP' };
    const every = { type: 'ON_EVERY_MESSAGE' };
    await send(make({ processingSettings: { type: 'ADVANCED', attributes: skip, webSockets: every, calculatedFields: skip } }), e, { b: 1 });
    expect(await stored(e, 'SERVER_SCOPE')).to.deep.equal({});
    const dedup = make({ updateAttributesOnlyOnValueChange: false, processingSettings: { type: 'DEDUPLICATE', deduplicationIntervalSecs: 10 } });
    now = 7;
    await send(dedup, e, { c: 1 }, { ts: '10000' });
    await send(dedup, e, { c: 2 }, { ts: '19999' });
    expect(await stored(e, 'SERVER_SCOPE')).to.deep.equal({ c: [1, 7] });
    await send(dedup, e, { c: 3 }, { ts: '20000' });
    expect(await stored(e, 'SERVER_SCOPE')).to.deep.equal({ c: [3, 7] });
  });

  it('upgrades 0→3: missing updateAttributesOnlyOnValueChange → false, string booleans fixed, missing notifyDevice → true', () => {
    // A v3.2 export: {"scope":"CLIENT_SCOPE","notifyDevice":"false"}, no configurationVersion.
    expect(make({ scope: 'CLIENT_SCOPE', notifyDevice: 'false' }, 0).config).to.deep.equal({
      scope: 'CLIENT_SCOPE',
      notifyDevice: false,
      sendAttributesUpdatedNotification: false,
      updateAttributesOnlyOnValueChange: false,
      processingSettings: { type: 'ON_EVERY_MESSAGE' },
    });
    expect(make({ scope: 'SHARED_SCOPE' }, 0).config).to.include({ notifyDevice: true, updateAttributesOnlyOnValueChange: false });
    // From v1: the string fixes; unknown strings take the key's default.
    expect(
      make({ scope: 'SERVER_SCOPE', notifyDevice: 'maybe', sendAttributesUpdatedNotification: 'true', updateAttributesOnlyOnValueChange: ' false ' }, 1).config,
    ).to.deep.equal({
      scope: 'SERVER_SCOPE',
      notifyDevice: true,
      sendAttributesUpdatedNotification: true,
      updateAttributesOnlyOnValueChange: false,
      processingSettings: { type: 'ON_EVERY_MESSAGE' },
    });
    expect(make({ scope: 'SERVER_SCOPE', notifyDevice: null }, 1).config).to.include({ notifyDevice: true, updateAttributesOnlyOnValueChange: true });
    // From v2: processing settings are (re)set.
    expect(make({ scope: 'SERVER_SCOPE', processingSettings: { type: 'WEBSOCKETS_ONLY' } }, 2).config.processingSettings).to.deep.equal({ type: 'ON_EVERY_MESSAGE' });
  });

  it('refuses an unknown configured scope, and needs the store', async () => {
    expect(() => make({ scope: 'ANY_SCOPE' })).to.throw(/must be one of/);
    await expectStoreNeeded(TbMsgAttributesNode, {}, { services: testServices(), msg: testMsg({ type: 'POST_ATTRIBUTES_REQUEST', tenantId: 'tenant-1', data: { a: 1 } }) });
  });
});
