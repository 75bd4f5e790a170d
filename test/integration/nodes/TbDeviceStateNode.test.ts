import { expect } from 'chai';
import { DeviceStateService } from '../../../src/device-state/device-state-service.js';
import type { NodeServices } from '../../../src/engine/node-api.js';
import type { TbMsg } from '../../../src/msg/tb-msg.js';
import { TbDeviceStateNode } from '../../../src/nodes/action/TbDeviceStateNode.js';
import { createNode, relationsOf, runNode, testServices } from '../../helpers/node-harness.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';

describe('TbDeviceStateNode (device state)', () => {
  let fx: StoreFixture;
  let sent: TbMsg[];
  let now: number;
  let services: NodeServices;
  before(async () => {
    fx = await startStoreFixture();
    const deviceState = new DeviceStateService({ redis: fx.redis, store: fx.store, toRuleEngine: async (m) => void sent.push(m), inactivityTimeoutMs: 600_000, logger: { warn: () => undefined } });
    services = { ...fx.services, deviceState, now: () => now };
  });
  after(() => fx.close());
  beforeEach(() => {
    sent = [];
    now = 1_000_000;
  });

  const make = (event?: string) => createNode(TbDeviceStateNode, event ? { event } : {}, { services });
  const at = (ts: number) => fx.msg({ metaData: { deviceName: fx.device.name, deviceType: fx.device.type, ts: String(ts) } });

  it('default ACTIVITY_EVENT; the event reaches the rule engine as from a transport, at the message ts; Success', async () => {
    expect(make().config).to.deep.equal({ event: 'ACTIVITY_EVENT' });
    const made = make('CONNECT_EVENT');
    const msg = at(5000);
    const result = await runNode(made.node, msg, made.services);
    expect(relationsOf(result)).to.deep.equal(['Success']);
    expect(result.outputs[0]?.msg).to.equal(msg);
    expect(sent.map((m) => m.type)).to.deep.equal(['CONNECT_EVENT', 'ACTIVITY_EVENT']);
    expect(sent[0]?.id).to.not.equal(msg.id);
    expect(sent[0]?.ruleChainId).to.equal(null);
    expect(JSON.parse((sent[0] as TbMsg).data)).to.include({ lastConnectTime: 5000 });
    expect(sent[0]?.metaData).to.include({ deviceName: fx.device.name });
  });

  it('INACTIVITY from the node is taken as stated: an active device becomes inactive at once', async () => {
    const made = make('INACTIVITY_EVENT');
    now += 10_000; // past the rate limit of the test before
    expect(relationsOf(await runNode(made.node, at(6000), made.services))).to.deep.equal(['Success']);
    expect(sent.map((m) => m.type)).to.deep.equal(['INACTIVITY_EVENT']);
    const attrs = Object.fromEntries((await fx.store.attributes.getAll(fx.device.id, 'SERVER_SCOPE')).map((kv) => [kv.key, kv.value]));
    expect(attrs).to.include({ active: false, lastInactivityAlarmTime: 6000 });
  });

  it('per device, more than one event a second goes to "Rate limited"', async () => {
    const made = make('DISCONNECT_EVENT');
    now += 100_000;
    expect(relationsOf(await runNode(made.node, at(7000), made.services))).to.deep.equal(['Success']);
    expect(relationsOf(await runNode(made.node, at(7001), made.services))).to.deep.equal(['Rate limited']);
    now += 1_000;
    expect(relationsOf(await runNode(made.node, at(7002), made.services))).to.deep.equal(['Success']);
    expect(sent.map((m) => m.type)).to.deep.equal(['DISCONNECT_EVENT', 'DISCONNECT_EVENT']);
  });

  it("Failure with ThingsBoard's text for another originator, and naming the missing service or device", async () => {
    const made = make();
    const customer = await runNode(made.node, fx.msg({ originator: fx.customer.id }), made.services);
    expect(customer.outputs[0]).to.include({ error: 'Unsupported originator entity type: [CUSTOMER]. Only DEVICE entity type is supported.' });
    const ghost = await runNode(made.node, fx.msg({ originator: { entityType: 'DEVICE', id: '00000000-0000-4000-8000-000000000001' } }), made.services);
    expect(ghost.outputs[0]).to.include({ error: 'Device with id [00000000-0000-4000-8000-000000000001] was not found' });
    const bare = createNode(TbDeviceStateNode, {}, { services: testServices() });
    const result = await runNode(bare.node, fx.msg(), bare.services);
    expect(relationsOf(result)).to.deep.equal(['Failure']);
    expect(result.outputs[0]?.kind === 'tell' && result.outputs[0].error).to.match(/needs the device state service/);
  });

  it('refuses an event that is not a connectivity event', () => {
    expect(() => make('POST_TELEMETRY_REQUEST')).to.throw(/invalid config/);
  });
});
