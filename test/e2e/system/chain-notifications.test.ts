// Through the whole system: a rule chain saves a shared attribute with notifyDevice, and the
// device's MQTT session gets it on its attribute topic; the save announces ATTRIBUTES_UPDATED to
// the root chain, which reacts to it as to any other message.
import { expect } from 'chai';
import mqtt from 'mqtt';
import pino from 'pino';
import { startSystem, type RunningSystem } from '../../../src/app/system.js';
import { chainDoc } from '../../helpers/chain-builder.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { testSettings } from '../../helpers/test-settings.js';

const TOKEN = 'CHAIN_NOTIFY_TOKEN';

describe('system: a rule chain notifies the device and announces its change', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let system: RunningSystem;
  let tenantId: string;
  let deviceId: string;

  before(async () => {
    redis = await startTestRedis();
    system = await startSystem(testSettings(), redis.url, pino({ level: 'silent' }));
    tenantId = (await system.store.tenants.create({ title: 'Notify tenant' })).id.id;
    deviceId = (await system.store.devices.create(tenantId, { name: 'Thermostat N', type: 'thermostat' })).id.id;
    await system.store.credentials.save(tenantId, deviceId, TOKEN);
    const root = chainDoc(
      'Root',
      [
        { type: 'org.thingsboard.rule.engine.filter.TbMsgTypeSwitchNode', name: 'switch' },
        {
          type: 'org.thingsboard.rule.engine.transform.TbTransformMsgNode',
          name: 'setpoint from temperature',
          configuration: { scriptLang: 'JS', jsScript: "return {msg: {targetTemperature: msg.temperature + 1}, metadata: metadata, msgType: 'POST_ATTRIBUTES_REQUEST'};" },
        },
        {
          type: 'org.thingsboard.rule.engine.telemetry.TbMsgAttributesNode',
          name: 'save shared, notify',
          configuration: { scope: 'SHARED_SCOPE', notifyDevice: true, sendAttributesUpdatedNotification: true, updateAttributesOnlyOnValueChange: false },
          configurationVersion: 3,
        },
        {
          type: 'org.thingsboard.rule.engine.transform.TbTransformMsgNode',
          name: 'announce as telemetry',
          configuration: { scriptLang: 'JS', jsScript: "return {msg: {announced: msg.targetTemperature, scope: metadata.scope}, metadata: metadata, msgType: 'POST_TELEMETRY_REQUEST'};" },
        },
        { type: 'org.thingsboard.rule.engine.telemetry.TbMsgTimeseriesNode', name: 'save', configuration: { defaultTTL: 0 }, configurationVersion: 1 },
      ],
      [
        [0, 1, 'Post telemetry'],
        [1, 2, 'Success'],
        [0, 3, 'Attributes Updated'],
        [3, 4, 'Success'],
      ],
    );
    await system.chains.importChain(tenantId, root, { root: true });
  });
  after(async () => {
    await system?.stop();
    await redis?.stop();
  });

  it('telemetry → chain saves SHARED_SCOPE with notifyDevice → the MQTT device gets it; ATTRIBUTES_UPDATED comes back to the root chain', async () => {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${system.mqttPort}`, { username: TOKEN, reconnectPeriod: 0 });
    try {
      await client.subscribeAsync('v1/devices/me/attributes', { qos: 1 });
      const received = new Promise<string>((resolve) => client.on('message', (topic, payload) => topic === 'v1/devices/me/attributes' && resolve(payload.toString())));
      await client.publishAsync('v1/devices/me/telemetry', JSON.stringify({ temperature: 20 }), { qos: 1 });
      expect(JSON.parse(await received)).to.deep.equal({ targetTemperature: 21 });
    } finally {
      await client.endAsync();
    }
    const device = { entityType: 'DEVICE' as const, id: deviceId };
    let latest: Record<string, { value: unknown }> = {};
    for (let i = 0; i < 200 && Object.keys(latest).length < 2; i++) {
      latest = await system.store.timeseries.getLatest(device, ['announced', 'scope']);
      if (Object.keys(latest).length < 2) await new Promise((res) => setTimeout(res, 25));
    }
    expect(latest.announced?.value).to.equal(21);
    expect(latest.scope?.value).to.equal('SHARED_SCOPE');
  });
});
