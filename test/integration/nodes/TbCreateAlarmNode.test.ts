import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { JsonObject, NodeOutput, NodeServices } from '../../../src/engine/node-api.js';
import { createScriptEngine, type ScriptEngine } from '../../../src/engine/script/index.js';
import type { EntityId } from '../../../src/msg/entity.js';
import type { TbMsg } from '../../../src/msg/tb-msg.js';
import {
  ALARM_DETAILS_BUILD_JS_TEMPLATE,
  ALARM_DETAILS_BUILD_TBEL_TEMPLATE,
  TbCreateAlarmNode,
} from '../../../src/nodes/action/TbCreateAlarmNode.js';
import type { Alarm } from '../../../src/store/alarms.js';
import { createNode, relationsOf, runNode, testServices, expectStoreNeeded } from '../../helpers/node-harness.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';

// The details script of ThingsBoard's thermostat demo (v3.1 export), extended with a counter.
const COUNTING_JS =
  'var details = {};\nif (metadata.prevAlarmDetails) {\n    details = JSON.parse(metadata.prevAlarmDetails);\n}\n' +
  'details.count = (details.count || 0) + 1;\ndetails.triggerValue = msg.temperature;\nreturn details;';

describe('TbCreateAlarmNode (create alarm)', () => {
  let fx: StoreFixture;
  let scripts: ScriptEngine;
  let services: NodeServices;
  let tenantId: string;
  let now = 5_000;
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

  const make = (config: JsonObject) => createNode(TbCreateAlarmNode, config, { services });
  const only = (outputs: readonly NodeOutput[]) => {
    const o = outputs[0];
    if (o?.kind !== 'tell') throw new Error('expected one tell output');
    return o;
  };
  const newDeviceMsg = (init: Parameters<StoreFixture['msg']>[0] = {}): TbMsg => fx.msg({ originator: { entityType: 'DEVICE', id: randomUUID() }, ...init });
  const alarmOf = (msg: TbMsg) => JSON.parse(msg.data) as Alarm;

  it('has the catalogue defaults with ThingsBoard\'s details templates', () => {
    expect(TbCreateAlarmNode.defaultConfig).to.deep.equal({
      scriptLang: 'TBEL',
      alarmDetailsBuildJs: ALARM_DETAILS_BUILD_JS_TEMPLATE,
      alarmDetailsBuildTbel: ALARM_DETAILS_BUILD_TBEL_TEMPLATE,
      alarmType: 'General Alarm',
      severity: 'CRITICAL',
      propagate: false,
      propagateToOwner: false,
      propagateToTenant: false,
      useMessageAlarmData: false,
      overwriteAlarmDetails: false,
      relationTypes: [],
      dynamicSeverity: false,
    });
    // A missing overwriteAlarmDetails reads true, as ThingsBoard's field initializer says.
    const config = make({ alarmDetailsBuildJs: 'return {};' }).config;
    expect(config).to.include({ alarmType: 'General Alarm', severity: 'CRITICAL', overwriteAlarmDetails: true, useMessageAlarmData: false });
    expect(config.relationTypes).to.deep.equal([]);
  });

  it('creates with the default (TBEL) config, then updates: Created / Updated, ALARM messages, store state', async () => {
    const made = make(TbCreateAlarmNode.defaultConfig as unknown as JsonObject);
    const msg = fx.msg({ metaData: { ts: '1700000000000', deviceName: fx.device.name } });
    const first = await runNode(made.node, msg, services);
    expect(relationsOf(first)).to.deep.equal(['Created']);
    const out = only(first.outputs).msg;
    expect(out).to.deep.include({ id: msg.id, type: 'ALARM', originator: msg.originator });
    expect(out.metaData).to.deep.equal({ ...msg.metaData, isNewAlarm: 'true' });
    const alarm = alarmOf(out);
    expect(alarm).to.deep.include({
      type: 'General Alarm',
      severity: 'CRITICAL',
      status: 'ACTIVE_UNACK',
      startTs: 1700000000000,
      endTs: 1700000000000,
      details: {},
      originator: fx.device.id,
      customerId: fx.customer.id,
    });
    expect(await fx.store.alarms.findActive(tenantId, fx.device.id, 'General Alarm')).to.deep.equal(alarm);

    now = 1700000005000;
    const second = await runNode(made.node, fx.msg({ metaData: { ts: '1700000001000' } }), services);
    expect(relationsOf(second)).to.deep.equal(['Updated']);
    const updated = alarmOf(only(second.outputs).msg);
    expect(only(second.outputs).msg.metaData.isExistingAlarm).to.equal('true');
    expect(updated).to.deep.include({ id: alarm.id, startTs: 1700000000000, endTs: 1700000005000 });
    expect((await fx.store.alarms.get(tenantId, alarm.id.id))?.endTs).to.equal(1700000005000);
  });

  it('the details script gets metadata.prevAlarmDetails on update (JS, no scriptLang as in old exports)', async () => {
    // As in thingsboard v3.1 demo thermostat_alarms.json (no scriptLang: JS).
    const made = make({ alarmType: 'High Temperature', alarmDetailsBuildJs: COUNTING_JS, severity: 'MAJOR', propagate: true, useMessageAlarmData: false, relationTypes: ['ToAlarmPropagationAsset'] });
    const originator: EntityId = { entityType: 'DEVICE', id: randomUUID() };
    await runNode(made.node, fx.msg({ originator, data: '{"temperature":30}' }), services);
    const second = await runNode(made.node, fx.msg({ originator, data: '{"temperature":35}' }), services);
    const alarm = alarmOf(only(second.outputs).msg);
    expect(alarm.details).to.deep.equal({ count: 2, triggerValue: 35 });
    expect(alarm).to.deep.include({ severity: 'MAJOR', propagate: true, propagateToOwner: false, propagateRelationTypes: ['ToAlarmPropagationAsset'] });
    expect((await fx.store.alarms.findActive(tenantId, originator, 'High Temperature'))?.details).to.deep.equal({ count: 2, triggerValue: 35 });
  });

  it('alarmType is a pattern; dynamicSeverity resolves the severity pattern, a bad one is a Failure', async () => {
    const made = make({ alarmType: '${kind} on $[sensor]', alarmDetailsBuildJs: 'return {};', severity: '${level}', dynamicSeverity: true });
    const msg = newDeviceMsg({ data: '{"sensor":"s1"}', metaData: { kind: 'Overheat', level: 'MINOR' } });
    const result = await runNode(made.node, msg, services);
    expect(alarmOf(only(result.outputs).msg)).to.deep.include({ type: 'Overheat on s1', severity: 'MINOR' });
    const bad = await runNode(made.node, newDeviceMsg({ data: '{"sensor":"s1"}', metaData: { kind: 'Overheat', level: 'SEVERE' } }), services);
    expect(relationsOf(bad)).to.deep.equal(['Failure']);
    expect(only(bad.outputs).error).to.equal('Used incorrect pattern or Alarm Severity not included in message');
  });

  it('useMessageAlarmData takes the alarm from the data; details from the data unless overwriteAlarmDetails', async () => {
    const data = { type: 'Door Open', severity: 'WARNING', details: { door: 'front' }, propagateToTenant: true, propagateRelationTypes: ['Contains'] };
    const keep = make({ useMessageAlarmData: true, overwriteAlarmDetails: false, alarmDetailsBuildJs: 'return {built: true};' });
    const first = alarmOf(only((await runNode(keep.node, newDeviceMsg({ data: JSON.stringify(data) }), services)).outputs).msg);
    expect(first).to.deep.include({ type: 'Door Open', severity: 'WARNING', details: { door: 'front' }, propagateToTenant: true, propagateRelationTypes: ['Contains'], startTs: now });
    const overwrite = make({ useMessageAlarmData: true, overwriteAlarmDetails: true, alarmDetailsBuildJs: 'return {built: true};' });
    const second = alarmOf(only((await runNode(overwrite.node, newDeviceMsg({ data: JSON.stringify(data) }), services)).outputs).msg);
    expect(second.details).to.deep.equal({ built: true });
    const bad = await runNode(keep.node, newDeviceMsg({ data: '{"severity":"WARNING"}' }), services);
    expect(only(bad.outputs).error).to.equal('Alarm type should be specified!');
    const badSeverity = await runNode(keep.node, newDeviceMsg({ data: '{"type":"X","severity":"LOUD"}' }), services);
    expect(only(badSeverity.outputs).error).to.match(/^Alarm severity should be one of CRITICAL/);
  });

  it('a script error is a Failure and nothing is stored; no tenant is a Failure', async () => {
    const made = make({ alarmType: 'Boom', alarmDetailsBuildJs: 'throw new Error("boom");' });
    const msg = newDeviceMsg();
    const result = await runNode(made.node, msg, services);
    expect(relationsOf(result)).to.deep.equal(['Failure']);
    expect(only(result.outputs).error).to.match(/boom/);
    expect(await fx.store.alarms.findActive(tenantId, msg.originator, 'Boom')).to.equal(null);
    const noTenant = await runNode(made.node, { ...newDeviceMsg(), tenantId: null }, services);
    expect(only(noTenant.outputs).error).to.match(/has no tenantId/);
  });

  it('refuses a bad fixed severity, a blank or broken script, and a run without the store', async () => {
    expect(() => make({ severity: 'HIGH', alarmDetailsBuildJs: 'return {};' })).to.throw('Incorrect Alarm Severity value: HIGH');
    expect(() => make({ severity: '${level}', alarmDetailsBuildJs: 'return {};' })).to.throw('Incorrect Alarm Severity value: ${level}');
    const thrown = (config: JsonObject) => {
      try {
        make(config);
      } catch (e) {
        return e as { name: string; message: string; pointer: string };
      }
      throw new Error('no error');
    };
    expect(thrown({ alarmDetailsBuildJs: '  ' })).to.deep.include({ name: 'NodeConfigError', message: 'JS script is empty', pointer: '/alarmDetailsBuildJs' });
    expect(thrown({ scriptLang: 'TBEL', alarmDetailsBuildTbel: 'return {' })).to.deep.include({ name: 'NodeConfigError', pointer: '/alarmDetailsBuildTbel' });
    await expectStoreNeeded(TbCreateAlarmNode, { alarmDetailsBuildJs: 'return {};' }, { services: { ...testServices(), scripts } });
  });
});
