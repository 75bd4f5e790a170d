import { expect } from 'chai';
import type { MqttClient } from 'mqtt';
import type { TbMsg } from '../../../src/msg/tb-msg.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';
import { connectDevice, nextMessage, startTransport, waitFor, type TransportUnderTest } from './mqtt-harness.js';

const TOKEN = 'MQTT_CLIENT_RPC_TOKEN';

describe('MQTT transport: client-side RPC (device → rule engine → device)', function () {
  this.timeout(20_000);
  let fx: StoreFixture;
  let ut: TransportUnderTest;
  let client: MqttClient;

  before(async () => {
    fx = await startStoreFixture();
    await fx.store.credentials.save(fx.tenant.id.id, fx.device.id.id, TOKEN);
    ut = await startTransport(fx, { limits: { clientSideRpcTimeoutMs: 300, deviceMsgsPerSecond: 50 } });
  });
  after(async () => {
    await ut?.close();
    await fx?.close();
  });
  afterEach(async () => client?.endAsync());

  /** The test's rule engine: finds the request and answers through the session its metadata names. */
  function answer(msg: TbMsg, data: string): void {
    expect(msg.metaData.serviceId).to.equal(ut.bus.serviceId);
    const session = ut.sessions.local(msg.metaData.sessionId as string);
    if (!session) throw new Error('no session for the reply');
    session.sendToServerRpcResponse(Number(msg.metaData.requestId), data);
  }

  const requestMsg = (from: number) => waitFor(() => ut.msgs.slice(from).find((m) => m.type === 'TO_SERVER_RPC_REQUEST'));

  for (const version of [4, 5] as const) {
    describe(`MQTT ${version === 5 ? '5' : '3.1.1'}`, () => {
      it('request on v1 → TO_SERVER_RPC_REQUEST with requestId/serviceId/sessionId; the reply comes back on v1', async () => {
        client = await connectDevice(ut.port, TOKEN, version);
        await client.subscribeAsync('v1/devices/me/rpc/response/+', { qos: 1 });
        const from = ut.msgs.length;
        const reply = nextMessage(client, 'v1/devices/me/rpc/response/');
        await client.publishAsync('v1/devices/me/rpc/request/7', '{"method":"getCurrentTime","params":{}}', { qos: 1 });
        const msg = await requestMsg(from);
        expect(JSON.parse(msg.data)).to.deep.equal({ method: 'getCurrentTime', params: {} });
        expect(msg.metaData).to.include({ requestId: '7', deviceName: 'Thermostat A', deviceType: 'thermostat' });
        expect(msg.metaData.sessionId).to.match(/^[0-9a-f-]{36}$/);
        answer(msg, '1631881236974');
        const got = await reply;
        expect(got).to.deep.include({ topic: 'v1/devices/me/rpc/response/7', payload: '1631881236974' });
      });

      it('v2 forms: a request on v2/r/req/{id} is answered on v2/r/res/{id}, /j/ on /j/', async () => {
        client = await connectDevice(ut.port, TOKEN, version);
        await client.subscribeAsync(['v2/r/res/+', 'v2/r/res/j/+'], { qos: 1 });
        let from = ut.msgs.length;
        let reply = nextMessage(client, 'v2/r/res/');
        await client.publishAsync('v2/r/req/3', '{"method":"ping"}', { qos: 1 });
        let msg = await requestMsg(from);
        expect(JSON.parse(msg.data)).to.deep.equal({ method: 'ping', params: null });
        answer(msg, '{"pong":3}');
        expect(await reply).to.deep.include({ topic: 'v2/r/res/3', payload: '{"pong":3}' });

        from = ut.msgs.length;
        reply = nextMessage(client, 'v2/r/res/j/');
        await client.publishAsync('v2/r/req/j/4', '{"method":"ping","params":[1]}', { qos: 0 });
        msg = await requestMsg(from);
        answer(msg, '{"pong":4}');
        expect(await reply).to.deep.include({ topic: 'v2/r/res/j/4', payload: '{"pong":4}' });
      });

      it('no reply from the rule chain → {"error":"timeout"} after clientSideRpcTimeoutMs', async () => {
        client = await connectDevice(ut.port, TOKEN, version);
        await client.subscribeAsync('v1/devices/me/rpc/response/+', { qos: 1 });
        const reply = nextMessage(client, 'v1/devices/me/rpc/response/');
        const t0 = Date.now();
        await client.publishAsync('v1/devices/me/rpc/request/9', '{"method":"slow","params":{}}', { qos: 1 });
        const got = await reply;
        expect(got).to.deep.include({ topic: 'v1/devices/me/rpc/response/9', payload: '{"error":"timeout"}' });
        expect(Date.now() - t0).to.be.within(250, 1500);
      });

      it('getSessionLimits is answered by the transport, not the rule engine', async () => {
        client = await connectDevice(ut.port, TOKEN, version);
        await client.subscribeAsync('v1/devices/me/rpc/response/+', { qos: 1 });
        const from = ut.msgs.length;
        const reply = nextMessage(client, 'v1/devices/me/rpc/response/');
        await client.publishAsync('v1/devices/me/rpc/request/1', '{"method":"getSessionLimits","params":{}}', { qos: 1 });
        const got = await reply;
        expect(got.topic).to.equal('v1/devices/me/rpc/response/1');
        expect(JSON.parse(got.payload)).to.deep.equal({ maxPayloadSize: 65536, maxInflightMessages: 100, rateLimits: { messages: '50:1' } });
        expect(ut.msgs.slice(from).filter((m) => m.type === 'TO_SERVER_RPC_REQUEST')).to.have.length(0);
      });
    });
  }
});
