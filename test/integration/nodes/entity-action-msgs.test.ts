// Store nodes announce what they changed as ThingsBoard's do: a new message to the rule engine
// (ATTRIBUTES_UPDATED/DELETED, ENTITY_CREATED/UPDATED, ALARM_CLEAR), and shared attributes saved
// with notifyDevice reach the device's sessions. The queue and the sessions are stand-ins that
// record what they get; the store is real.
import { expect } from 'chai';
import type { JsonObject, NodeServices } from '../../../src/engine/node-api.js';
import { createScriptEngine, type ScriptEngine } from '../../../src/engine/script/index.js';
import type { TbMsg } from '../../../src/msg/tb-msg.js';
import { TbClearAlarmNode } from '../../../src/nodes/action/TbClearAlarmNode.js';
import { TbCreateAlarmNode } from '../../../src/nodes/action/TbCreateAlarmNode.js';
import { TbCreateRelationNode } from '../../../src/nodes/action/TbCreateRelationNode.js';
import { TbMsgAttributesNode } from '../../../src/nodes/action/TbMsgAttributesNode.js';
import { TbMsgDeleteAttributesNode } from '../../../src/nodes/action/TbMsgDeleteAttributesNode.js';
import type { AttributeUpdate } from '../../../src/transport/transport-api.js';
import { createNode, relationsOf, runNode } from '../../helpers/node-harness.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';

describe('store nodes: entity-action messages and device notifications', () => {
  let fx: StoreFixture;
  let scripts: ScriptEngine;
  let queued: TbMsg[];
  let pushed: { deviceId: string; update: AttributeUpdate }[];
  let failQueue: boolean;
  let services: NodeServices;
  before(async () => {
    fx = await startStoreFixture();
    scripts = createScriptEngine();
    services = {
      ...fx.services,
      scripts,
      toRuleEngine: async (msg) => {
        if (failQueue) throw new Error('queue unavailable');
        queued.push(msg);
      },
      devices: {
        pushAttributeUpdate: async (deviceId, update) => {
          pushed.push({ deviceId, update });
        },
      },
    };
  });
  beforeEach(() => {
    queued = [];
    pushed = [];
    failQueue = false;
  });
  after(async () => {
    scripts.dispose();
    await fx.close();
  });

  const attributesMsg = (values: JsonObject) => fx.msg({ type: 'POST_ATTRIBUTES_REQUEST', data: values });

  it('save attributes: ATTRIBUTES_UPDATED with the saved values and scope, from the node, before Success', async () => {
    const made = createNode(TbMsgAttributesNode, { scope: 'SERVER_SCOPE', sendAttributesUpdatedNotification: true, updateAttributesOnlyOnValueChange: true }, { services });
    const result = await runNode(made.node, attributesMsg({ mode: 'eco', level: 3 }), made.services);
    expect(relationsOf(result)).to.deep.equal(['Success']);
    expect(queued).to.have.length(1);
    const event = queued[0] as TbMsg;
    expect(event.type).to.equal('ATTRIBUTES_UPDATED');
    expect(event.originator).to.deep.equal(fx.device.id);
    expect(event.tenantId).to.equal(fx.tenant.id.id);
    expect(JSON.parse(event.data)).to.deep.equal({ mode: 'eco', level: 3 });
    expect(event.metaData).to.deep.include({ scope: 'SERVER_SCOPE', ruleNodeId: 'node-1' });
    // Only what changed is announced; nothing changed → nothing announced.
    await runNode(made.node, attributesMsg({ mode: 'eco', level: 4 }), made.services);
    expect(JSON.parse((queued[1] as TbMsg).data)).to.deep.equal({ level: 4 });
    await runNode(made.node, attributesMsg({ mode: 'eco', level: 4 }), made.services);
    expect(queued).to.have.length(2);
  });

  it('save attributes: nothing announced without the option or for CLIENT_SCOPE; a queue failure is the Failure', async () => {
    const off = createNode(TbMsgAttributesNode, { scope: 'SERVER_SCOPE', sendAttributesUpdatedNotification: false }, { services });
    await runNode(off.node, attributesMsg({ a1: 1 }), off.services);
    const client = createNode(TbMsgAttributesNode, { scope: 'CLIENT_SCOPE', sendAttributesUpdatedNotification: true }, { services });
    await runNode(client.node, attributesMsg({ a2: 2 }), client.services);
    expect(queued).to.deep.equal([]);
    failQueue = true;
    const on = createNode(TbMsgAttributesNode, { scope: 'SERVER_SCOPE', sendAttributesUpdatedNotification: true }, { services });
    const result = await runNode(on.node, attributesMsg({ a3: 3 }), on.services);
    expect(relationsOf(result)).to.deep.equal(['Failure']);
    expect(result.outputs[0]).to.include({ error: 'queue unavailable' });
  });

  it('save attributes: SHARED_SCOPE with notifyDevice reaches the device; without it, or in another scope, it does not', async () => {
    const notify = createNode(TbMsgAttributesNode, { scope: 'SHARED_SCOPE', notifyDevice: true }, { services });
    await runNode(notify.node, attributesMsg({ setpoint: 21 }), notify.services);
    expect(pushed).to.deep.equal([{ deviceId: fx.device.id.id, update: { shared: { setpoint: 21 } } }]);
    const quiet = createNode(TbMsgAttributesNode, { scope: 'SHARED_SCOPE', notifyDevice: false }, { services });
    await runNode(quiet.node, fx.msg({ type: 'POST_ATTRIBUTES_REQUEST', data: { setpoint: 22 }, metaData: { notifyDevice: 'false' } }), quiet.services);
    const server = createNode(TbMsgAttributesNode, { scope: 'SERVER_SCOPE', notifyDevice: true }, { services });
    await runNode(server.node, attributesMsg({ setpoint: 23 }), server.services);
    expect(pushed).to.have.length(1);
  });

  it('delete attributes: ATTRIBUTES_DELETED {attributes: keys}; SHARED_SCOPE deletions reach the device with notifyDevice', async () => {
    await fx.store.attributes.save(fx.device.id, 'SHARED_SCOPE', [{ key: 'old', value: 1 }], 1);
    const made = createNode(TbMsgDeleteAttributesNode, { scope: 'SHARED_SCOPE', keys: ['old'], sendAttributesDeletedNotification: true, notifyDevice: true }, { services });
    const result = await runNode(made.node, fx.msg(), made.services);
    expect(relationsOf(result)).to.deep.equal(['Success']);
    expect(queued.map((m) => [m.type, JSON.parse(m.data), m.metaData.scope])).to.deep.equal([['ATTRIBUTES_DELETED', { attributes: ['old'] }, 'SHARED_SCOPE']]);
    expect(pushed).to.deep.equal([{ deviceId: fx.device.id.id, update: { deleted: ['old'] } }]);
  });

  it('create alarm: ENTITY_CREATED, then ENTITY_UPDATED, with the alarm from its originator; clear alarm: ALARM_CLEAR', async () => {
    const create = createNode(TbCreateAlarmNode, { alarmType: 'Overheat', severity: 'MAJOR', alarmDetailsBuildJs: 'return {};', scriptLang: 'JS' }, { services });
    expect(relationsOf(await runNode(create.node, fx.msg(), create.services))).to.deep.equal(['Created']);
    expect(relationsOf(await runNode(create.node, fx.msg(), create.services))).to.deep.equal(['Updated']);
    const clear = createNode(TbClearAlarmNode, { alarmType: 'Overheat', alarmDetailsBuildJs: 'return null;', scriptLang: 'JS' }, { services });
    expect(relationsOf(await runNode(clear.node, fx.msg(), clear.services))).to.deep.equal(['Cleared']);
    expect(queued.map((m) => m.type)).to.deep.equal(['ENTITY_CREATED', 'ENTITY_UPDATED', 'ALARM_CLEAR']);
    for (const m of queued) {
      expect(m.originator).to.deep.equal(fx.device.id);
      expect(m.customerId).to.equal(fx.customer.id.id);
      expect(JSON.parse(m.data)).to.include({ type: 'Overheat' });
    }
    expect(JSON.parse((queued[2] as TbMsg).data)).to.include({ cleared: true });
  });

  it('create relation: ENTITY_CREATED for a device it had to create, not for one that existed', async () => {
    const made = createNode(TbCreateRelationNode, { entityType: 'DEVICE', entityNamePattern: '${target}', relationType: 'Uses', createEntityIfNotExists: true }, { services });
    const msg = fx.msg({ metaData: { target: 'Pump 12' } });
    expect(relationsOf(await runNode(made.node, msg, made.services))).to.deep.equal(['Success']);
    expect(relationsOf(await runNode(made.node, msg, made.services))).to.deep.equal(['Success']);
    expect(queued).to.have.length(1);
    const created = queued[0] as TbMsg;
    const pump = await fx.store.devices.findByName(fx.tenant.id.id, 'Pump 12');
    expect(created.type).to.equal('ENTITY_CREATED');
    expect(created.originator).to.deep.equal(pump?.id);
    expect(JSON.parse(created.data)).to.include({ name: 'Pump 12' });
  });
});
