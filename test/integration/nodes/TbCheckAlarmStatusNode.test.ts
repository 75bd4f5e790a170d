import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { JsonObject } from '../../../src/engine/node-api.js';
import { TbCheckAlarmStatusNode } from '../../../src/nodes/filter/TbCheckAlarmStatusNode.js';
import { createNode, expectStoreNeeded, relationsOf, runNode, testMsg, testServices } from '../../helpers/node-harness.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';

describe('TbCheckAlarmStatusNode (alarm status filter)', () => {
  let fx: StoreFixture;
  before(async () => {
    fx = await startStoreFixture();
  });
  after(() => fx.close());

  const make = (config: JsonObject = {}) => createNode(TbCheckAlarmStatusNode, config, { services: fx.services });
  const raise = async () => (await fx.store.alarms.createOrUpdateActive(fx.tenant.id.id, { type: `High temperature ${randomUUID()}`, originator: fx.device.id, severity: 'MAJOR', details: null, ts: 1000 })).alarm;

  it('has the catalogue default: the active statuses', () => {
    expect(make().config).to.deep.equal({ alarmStatusList: ['ACTIVE_ACK', 'ACTIVE_UNACK'] });
  });

  it("True when the alarm's stored status is listed, False otherwise; the stored status counts, not the message's", async () => {
    const alarm = await raise();
    const active = make();
    const clearedOnly = make({ alarmStatusList: ['CLEARED_ACK', 'CLEARED_UNACK'] });
    const msg = fx.msg({ type: 'ALARM', data: JSON.stringify(alarm) });
    expect(relationsOf(await runNode(active.node, msg, active.services))).to.deep.equal(['True']);
    expect(relationsOf(await runNode(clearedOnly.node, msg, clearedOnly.services))).to.deep.equal(['False']);
    await fx.store.alarms.clear(fx.tenant.id.id, alarm.id.id);
    // Same message (it still says ACTIVE_UNACK): the alarm was cleared since.
    expect(relationsOf(await runNode(active.node, msg, active.services))).to.deep.equal(['False']);
    expect(relationsOf(await runNode(clearedOnly.node, msg, clearedOnly.services))).to.deep.equal(['True']);
  });

  it('accepts a plain string id too', async () => {
    const alarm = await raise();
    const made = make();
    expect(relationsOf(await runNode(made.node, fx.msg({ data: { id: alarm.id.id } }), made.services))).to.deep.equal(['True']);
  });

  it('Failure naming the problem: data that is not an alarm, an unknown alarm', async () => {
    const made = make();
    for (const data of ['not json', '[1,2]', '{"severity":"MAJOR"}', '{"id":{"entityType":"ALARM"}}']) {
      const result = await runNode(made.node, fx.msg({ data }), made.services);
      expect(relationsOf(result), data).to.deep.equal(['Failure']);
      expect(result.outputs[0]).to.include({ error: 'the message data is not an alarm: expected a JSON object with an alarm id' });
    }
    const ghost = randomUUID();
    const result = await runNode(made.node, fx.msg({ data: { id: { entityType: 'ALARM', id: ghost } } }), made.services);
    expect(result.outputs[0]).to.include({ error: `No alarm found with id: ${ghost}` });
  });

  it('refuses an unknown status in the configuration, needs the store', async () => {
    expect(() => make({ alarmStatusList: ['ACTIVE'] })).to.throw(/invalid config/);
    await expectStoreNeeded(TbCheckAlarmStatusNode, {}, { services: testServices(), msg: testMsg({ tenantId: 'tenant-1', data: { id: randomUUID() } }) });
  });
});
