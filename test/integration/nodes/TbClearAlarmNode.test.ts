import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { JsonObject, NodeOutput, NodeServices } from '../../../src/engine/node-api.js';
import { createScriptEngine, type ScriptEngine } from '../../../src/engine/script/index.js';
import type { EntityId } from '../../../src/msg/entity.js';
import type { TbMsg } from '../../../src/msg/tb-msg.js';
import { TbClearAlarmNode } from '../../../src/nodes/action/TbClearAlarmNode.js';
import { ALARM_DETAILS_BUILD_JS_TEMPLATE, ALARM_DETAILS_BUILD_TBEL_TEMPLATE } from '../../../src/nodes/action/TbCreateAlarmNode.js';
import type { Alarm } from '../../../src/store/alarms.js';
import type { JsonValue } from '../../../src/store/json.js';
import { createNode, relationsOf, runNode, testServices, expectStoreNeeded } from '../../helpers/node-harness.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';

describe('TbClearAlarmNode (clear alarm)', () => {
  let fx: StoreFixture;
  let scripts: ScriptEngine;
  let services: NodeServices;
  let tenantId: string;
  const now = 9_000;
  before(async () => {
    fx = await startStoreFixture();
    scripts = createScriptEngine();
    services = { ...fx.services, scripts, now: () => now };
    tenantId = fx.tenant.id.id;
  });
  after(async () => {
    scripts.dispose();
    await fx.close();
  });

  const make = (config: JsonObject) => createNode(TbClearAlarmNode, config, { services });
  const only = (outputs: readonly NodeOutput[]) => {
    const o = outputs[0];
    if (o?.kind !== 'tell') throw new Error('expected one tell output');
    return o;
  };
  const raise = async (type = 'General Alarm', details: JsonValue = { t: 30 }) => {
    const originator: EntityId = { entityType: 'DEVICE', id: randomUUID() };
    const { alarm } = await fx.store.alarms.createOrUpdateActive(tenantId, { type, originator, severity: 'MAJOR', details, ts: 1000 });
    return { originator, alarm };
  };
  const msgFrom = (originator: EntityId, init: Parameters<StoreFixture['msg']>[0] = {}): TbMsg => fx.msg({ originator, ...init });

  it('has the catalogue defaults', () => {
    expect(TbClearAlarmNode.defaultConfig).to.deep.equal({
      scriptLang: 'TBEL',
      alarmDetailsBuildJs: ALARM_DETAILS_BUILD_JS_TEMPLATE,
      alarmDetailsBuildTbel: ALARM_DETAILS_BUILD_TBEL_TEMPLATE,
      alarmType: 'General Alarm',
    });
    expect(make({ alarmDetailsBuildJs: 'return {};' }).config).to.include({ alarmType: 'General Alarm' });
  });

  it('clears the active alarm: Cleared, ALARM message with isClearedAlarm, details from the script with prevAlarmDetails', async () => {
    const { originator, alarm } = await raise();
    const made = make({ alarmDetailsBuildJs: 'var d = JSON.parse(metadata.prevAlarmDetails); d.clearedAt = msg.temperature; return d;' });
    const msg = msgFrom(originator);
    const result = await runNode(made.node, msg, services);
    expect(relationsOf(result)).to.deep.equal(['Cleared']);
    const out = only(result.outputs).msg;
    expect(out).to.deep.include({ id: msg.id, type: 'ALARM' });
    expect(out.metaData).to.deep.equal({ ...msg.metaData, isClearedAlarm: 'true' });
    const cleared = JSON.parse(out.data) as Alarm;
    expect(cleared).to.deep.include({ id: alarm.id, cleared: true, status: 'CLEARED_UNACK', clearTs: now, details: { t: 30, clearedAt: 25 } });
    expect(await fx.store.alarms.findActive(tenantId, originator, 'General Alarm')).to.equal(null);
    expect((await fx.store.alarms.get(tenantId, alarm.id.id))?.details).to.deep.equal({ t: 30, clearedAt: 25 });
    // Nothing active any more: False with the original message.
    const again = await runNode(made.node, msg, services);
    expect(relationsOf(again)).to.deep.equal(['False']);
    expect(only(again.outputs).msg).to.equal(msg);
  });

  it('works with the default TBEL config; the type is a pattern; other types are not touched', async () => {
    const { originator, alarm } = await raise('Overheat s1');
    const made = make({ ...(TbClearAlarmNode.defaultConfig as unknown as JsonObject), alarmType: '${kind} $[sensor]' });
    const none = await runNode(made.node, msgFrom(originator, { data: '{"sensor":"s2"}', metaData: { kind: 'Overheat' } }), services);
    expect(relationsOf(none)).to.deep.equal(['False']);
    const hit = await runNode(made.node, msgFrom(originator, { data: '{"sensor":"s1"}', metaData: { kind: 'Overheat' } }), services);
    expect(relationsOf(hit)).to.deep.equal(['Cleared']);
    expect((await fx.store.alarms.get(tenantId, alarm.id.id))?.details).to.deep.equal({ t: 30 });
  });

  it('an ALARM originator clears that alarm; a cleared one gives False', async () => {
    const { alarm } = await raise('Any type');
    const made = make({ alarmDetailsBuildJs: 'return null;' });
    const msg = msgFrom(alarm.id, { data: JSON.stringify(alarm) });
    expect(relationsOf(await runNode(made.node, msg, services))).to.deep.equal(['Cleared']);
    // A null result keeps the old details.
    expect((await fx.store.alarms.get(tenantId, alarm.id.id))?.details).to.deep.equal({ t: 30 });
    expect(relationsOf(await runNode(made.node, msg, services))).to.deep.equal(['False']);
    expect(relationsOf(await runNode(made.node, msgFrom({ entityType: 'ALARM', id: randomUUID() }), services))).to.deep.equal(['False']);
  });

  it('a script error is a Failure and the alarm stays active; no tenant is a Failure', async () => {
    const { originator } = await raise();
    const made = make({ alarmDetailsBuildJs: 'return metadata.nothing.deeper;' });
    const result = await runNode(made.node, msgFrom(originator), services);
    expect(relationsOf(result)).to.deep.equal(['Failure']);
    expect(await fx.store.alarms.findActive(tenantId, originator, 'General Alarm')).to.not.equal(null);
    const noTenant = await runNode(made.node, { ...msgFrom(originator), tenantId: null }, services);
    expect(only(noTenant.outputs).error).to.match(/has no tenantId/);
  });

  it('refuses a blank script; needs the store', async () => {
    expect(() => make({ alarmDetailsBuildJs: '' })).to.throw('JS script is empty');
    await expectStoreNeeded(TbClearAlarmNode, { alarmDetailsBuildJs: 'return {};' }, { services: { ...testServices(), scripts } });
  });
});
