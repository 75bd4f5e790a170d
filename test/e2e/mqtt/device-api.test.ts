import { expect } from 'chai';
import type { MqttClient } from 'mqtt';
import type { MqttDeviceSession } from '../../../src/transport/mqtt/session.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';
import { connectDevice, nextMessage, sleep, startTransport, waitFor, type TransportUnderTest } from './mqtt-harness.js';

const TOKEN = 'MQTT_DEVICE_API_TOKEN';

describe('MQTT transport: telemetry, attributes, attribute requests and updates', function () {
  this.timeout(20_000);
  let fx: StoreFixture;
  let ut: TransportUnderTest;

  before(async () => {
    fx = await startStoreFixture();
    await fx.store.credentials.save(fx.tenant.id.id, fx.device.id.id, TOKEN);
    const entity = { entityType: 'DEVICE' as const, id: fx.device.id.id };
    await fx.store.attributes.save(entity, 'CLIENT_SCOPE', { firmware: '1.2', battery: 88 });
    await fx.store.attributes.save(entity, 'SHARED_SCOPE', { targetTemp: 21.5, mode: 'eco', schedule: { on: '07:00' } });
    ut = await startTransport(fx);
  });
  after(async () => {
    await ut?.close();
    await fx?.close();
  });

  const session = () => ut.sessions.localOfDevice(fx.device.id.id)[0] as MqttDeviceSession;

  for (const version of [4, 5] as const) {
    describe(`MQTT ${version === 5 ? '5' : '3.1.1'}`, () => {
      let client: MqttClient;
      beforeEach(async () => (client = await connectDevice(ut.port, TOKEN, version)));
      afterEach(async () => client.endAsync());

      for (const qos of [0, 1] as const) {
        it(`telemetry at QoS ${qos} on v1, v2/t and v2/t/j becomes POST_TELEMETRY_REQUEST`, async () => {
          const from = ut.msgs.length;
          await client.publishAsync('v1/devices/me/telemetry', '{"temperature":22.5}', { qos });
          await client.publishAsync('v2/t', '{"ts":1700000000000,"values":{"humidity":40}}', { qos });
          await client.publishAsync('v2/t/j', '[{"a":1},{"ts":1700000000001,"values":{"b":2}}]', { qos });
          const got = await waitFor(() => {
            const t = ut.msgs.slice(from).filter((m) => m.type === 'POST_TELEMETRY_REQUEST');
            return t.length >= 4 && t;
          });
          expect(got.map((m) => JSON.parse(m.data))).to.deep.include.members([{ temperature: 22.5 }, { humidity: 40 }, { a: 1 }, { b: 2 }]);
          expect(got[1]?.metaData.ts).to.equal('1700000000000');
          expect(got[0]?.metaData).to.include({ deviceName: 'Thermostat A', deviceType: 'thermostat' });
        });

        it(`client attributes at QoS ${qos} on v1 and v2/a become POST_ATTRIBUTES_REQUEST`, async () => {
          const from = ut.msgs.length;
          await client.publishAsync('v1/devices/me/attributes', '{"firmware":"1.3"}', { qos });
          await client.publishAsync('v2/a', '{"serial":"X1"}', { qos });
          const got = await waitFor(() => {
            const t = ut.msgs.slice(from).filter((m) => m.type === 'POST_ATTRIBUTES_REQUEST');
            return t.length >= 2 && t;
          });
          expect(got.map((m) => JSON.parse(m.data))).to.deep.equal([{ firmware: '1.3' }, { serial: 'X1' }]);
        });
      }

      it('answers attribute requests from the Store on the variant used', async () => {
        await client.subscribeAsync(['v1/devices/me/attributes/response/+', 'v2/a/res/+', 'v2/a/res/j/+'], { qos: 1 });
        let reply = nextMessage(client, 'v1/devices/me/attributes/response/');
        await client.publishAsync('v1/devices/me/attributes/request/1', '{"clientKeys":"firmware,missing","sharedKeys":"targetTemp,schedule"}', { qos: 1 });
        let got = await reply;
        expect(got.topic).to.equal('v1/devices/me/attributes/response/1');
        expect(JSON.parse(got.payload)).to.deep.equal({ client: { firmware: '1.2' }, shared: { targetTemp: 21.5, schedule: { on: '07:00' } } });

        reply = nextMessage(client, 'v2/a/res/');
        await client.publishAsync('v2/a/req/2', '{"sharedKeys":"mode"}', { qos: 0 });
        got = await reply;
        expect(got.topic).to.equal('v2/a/res/2');
        expect(JSON.parse(got.payload)).to.deep.equal({ shared: { mode: 'eco' } });

        reply = nextMessage(client, 'v2/a/res/j/');
        await client.publishAsync('v2/a/req/j/3', '{}', { qos: 1 });
        got = await reply;
        expect(got.topic).to.equal('v2/a/res/j/3');
        expect(JSON.parse(got.payload)).to.deep.equal({
          client: { battery: 88, firmware: '1.2' },
          shared: { mode: 'eco', schedule: { on: '07:00' }, targetTemp: 21.5 },
        });
      });

      it('pushes shared-attribute updates and deletions to a subscribed device only', async () => {
        await sleep(20);
        session().sendAttributeUpdate({ shared: { targetTemp: 19 } }); // not subscribed yet: nothing
        await client.subscribeAsync('v1/devices/me/attributes', { qos: 0 });
        const first = nextMessage(client, 'v1/devices/me/attributes');
        session().sendAttributeUpdate({ shared: { targetTemp: 23 } });
        const got = await first;
        expect(got.payload).to.equal('{"targetTemp":23}');
        expect(got.qos).to.equal(0);
        const second = nextMessage(client, 'v1/devices/me/attributes');
        session().sendAttributeUpdate({ deleted: ['mode'] });
        expect((await second).payload).to.equal('{"deleted":["mode"]}');
        await client.unsubscribeAsync('v1/devices/me/attributes');
        session().sendAttributeUpdate({ shared: { targetTemp: 24 } });
        await client.subscribeAsync('v2/a', { qos: 1 });
        const v2 = nextMessage(client, 'v2/a');
        session().sendAttributeUpdate({ shared: { x: 1 }, deleted: ['y'] });
        const v2got = await v2;
        expect(v2got.topic).to.equal('v2/a');
        expect(JSON.parse(v2got.payload)).to.deep.equal({ x: 1, deleted: ['y'] });
        expect(v2got.qos).to.equal(1);
      });

      it('acknowledges and ignores publishes to unknown topics inside its own API (as ThingsBoard)', async () => {
        const from = ut.msgs.length;
        await client.publishAsync('v1/devices/me/claim', '{}', { qos: 1 });
        await sleep(20);
        expect(ut.msgs.slice(from).filter((m) => m.type !== 'ACTIVITY_EVENT')).to.have.length(0);
        expect(client.connected).to.equal(true);
      });
    });
  }

  it('serves a QoS 2 publish as QoS 1 (message handed on once, handshake completed)', async () => {
    const client = await connectDevice(ut.port, TOKEN, 4);
    const from = ut.msgs.length;
    await client.publishAsync('v1/devices/me/telemetry', '{"q2":1}', { qos: 2 });
    expect(ut.msgs.slice(from).filter((m) => m.type === 'POST_TELEMETRY_REQUEST').map((m) => m.data)).to.deep.equal(['{"q2":1}']);
    const sub = await client.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 2 });
    expect(sub[0]?.qos).to.equal(1);
    await client.endAsync();
  });

  it('back-pressure: with maxInflight publishes waiting for the queue, reading pauses; order is kept', async () => {
    const slow = await startTransport(fx, { maxInflight: 2 });
    slow.queueDelayMs = 40;
    try {
      const client = await connectDevice(slow.port, TOKEN, 5);
      const t0 = Date.now();
      await Promise.all(Array.from({ length: 6 }, (_, i) => client.publishAsync('v1/devices/me/telemetry', `{"n":${i}}`, { qos: 1 })));
      // Two at a time through a 40 ms queue: at least three rounds.
      expect(Date.now() - t0).to.be.at.least(110);
      expect(slow.msgs.filter((m) => m.type === 'POST_TELEMETRY_REQUEST').map((m) => JSON.parse(m.data).n)).to.deep.equal([0, 1, 2, 3, 4, 5]);
      await client.endAsync();
    } finally {
      await slow.close();
    }
  });
});
