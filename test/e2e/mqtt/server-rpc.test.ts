import { expect } from 'chai';
import type { MqttClient } from 'mqtt';
import type { MqttDeviceSession } from '../../../src/transport/mqtt/session.js';
import type { ToDeviceRpcRequest } from '../../../src/transport/transport-api.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';
import { connectDevice, nextMessage, sleep, startTransport, waitFor, type TransportUnderTest } from './mqtt-harness.js';

const TOKEN = 'MQTT_SERVER_RPC_TOKEN';

function command(requestId: number, over: Partial<ToDeviceRpcRequest> = {}): ToDeviceRpcRequest {
  return { requestId, method: 'setGpio', params: '{"pin":23,"value":1}', oneway: false, persistent: false, expirationTime: Date.now() + 10_000, ...over };
}

describe('MQTT transport: server-side RPC (commands to the device)', function () {
  this.timeout(20_000);
  let fx: StoreFixture;
  let ut: TransportUnderTest;
  let client: MqttClient;

  before(async () => {
    fx = await startStoreFixture();
    await fx.store.credentials.save(fx.tenant.id.id, fx.device.id.id, TOKEN);
    ut = await startTransport(fx, { ackTimeoutMs: 300 });
  });
  after(async () => {
    await ut?.close();
    await fx?.close();
  });
  afterEach(async () => client?.endAsync());

  const session = () => ut.sessions.localOfDevice(fx.device.id.id)[0] as MqttDeviceSession;

  for (const version of [4, 5] as const) {
    describe(`MQTT ${version === 5 ? '5' : '3.1.1'}`, () => {
      it('subscribing to v1/devices/me/rpc/request/+ makes the session rpcSubscribed (registry + listener)', async () => {
        client = await connectDevice(ut.port, TOKEN, version);
        expect(session().rpcSubscribed).to.equal(false);
        const from = ut.rpc.calls.length;
        const granted = await client.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });
        expect(granted[0]?.qos).to.equal(1);
        const call = await waitFor(() => ut.rpc.calls.slice(from).find((c) => c.kind === 'subscribe'));
        expect(call.session).to.equal(session());
        expect(session().rpcSubscribed).to.equal(true);
        // The registry (Redis) tells other processes that this session takes commands.
        for (let i = 0; i < 100 && !(await ut.sessions.locateAll(fx.device.id.id))[0]?.rpcSubscribed; i++) await sleep(10);
        expect((await ut.sessions.locateAll(fx.device.id.id)).map((l) => l.rpcSubscribed)).to.deep.equal([true]);
        await client.unsubscribeAsync('v1/devices/me/rpc/request/+');
        await waitFor(() => ut.rpc.calls.slice(from).find((c) => c.kind === 'unsubscribe'));
        expect(session().rpcSubscribed).to.equal(false);
      });

      it('QoS 1: publishes {"method","params"}, reports SENT (persistent) then DELIVERED on PUBACK; the reply goes to onRpcResponse', async () => {
        client = await connectDevice(ut.port, TOKEN, version);
        await client.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });
        const incoming = nextMessage(client, 'v1/devices/me/rpc/request/');
        session().sendRpcRequest(command(7, { persistent: true }));
        const got = await incoming;
        expect(got.topic).to.equal('v1/devices/me/rpc/request/7');
        expect(got.qos).to.equal(1);
        expect(JSON.parse(got.payload)).to.deep.equal({ method: 'setGpio', params: { pin: 23, value: 1 } });
        await waitFor(() => ut.rpc.statuses(7).includes('DELIVERED'));
        expect(ut.rpc.statuses(7)).to.deep.equal(['SENT', 'DELIVERED']);
        await client.publishAsync('v1/devices/me/rpc/response/7', '{"ok":true}', { qos: 1 });
        const reply = ut.rpc.calls.find((c) => c.kind === 'response' && c.requestId === 7);
        expect(reply).to.deep.include({ payload: '{"ok":true}' });
        ut.rpc.calls.length = 0;
      });

      it('QoS 1 lightweight: no SENT, only DELIVERED', async () => {
        client = await connectDevice(ut.port, TOKEN, version);
        await client.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });
        session().sendRpcRequest(command(8));
        await waitFor(() => ut.rpc.statuses(8).includes('DELIVERED'));
        expect(ut.rpc.statuses(8)).to.deep.equal(['DELIVERED']);
        ut.rpc.calls.length = 0;
      });

      it('QoS 0 subscription: the command goes at QoS 0 and is DELIVERED once written', async () => {
        client = await connectDevice(ut.port, TOKEN, version);
        await client.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 0 });
        const incoming = nextMessage(client, 'v1/devices/me/rpc/request/');
        session().sendRpcRequest(command(9, { persistent: true }));
        expect((await incoming).qos).to.equal(0);
        await waitFor(() => ut.rpc.statuses(9).length > 0);
        expect(ut.rpc.statuses(9)).to.deep.equal(['DELIVERED']);
        ut.rpc.calls.length = 0;
      });

      it('no PUBACK: TIMEOUT after min(ack timeout, time to expiry)', async () => {
        client = await connectDevice(ut.port, TOKEN, version);
        // The device takes the command but never acknowledges it.
        client.handleMessage = () => undefined;
        await client.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });
        const t0 = Date.now();
        session().sendRpcRequest(command(10, { persistent: true }));
        await waitFor(() => ut.rpc.statuses(10).includes('TIMEOUT'));
        expect(ut.rpc.statuses(10)).to.deep.equal(['SENT', 'TIMEOUT']);
        expect(Date.now() - t0).to.be.within(250, 1500); // ackTimeoutMs 300
        const t1 = Date.now();
        session().sendRpcRequest(command(11, { expirationTime: Date.now() + 100 }));
        await waitFor(() => ut.rpc.statuses(11).includes('TIMEOUT'));
        expect(Date.now() - t1).to.be.below(280); // expiry first
        ut.rpc.calls.length = 0;
      });

      it('params that are not JSON → onRpcError with ThingsBoard\'s text, nothing published', async () => {
        client = await connectDevice(ut.port, TOKEN, version);
        await client.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });
        let published = false;
        client.on('message', () => (published = true));
        session().sendRpcRequest(command(12, { params: '{not json' }));
        const err = await waitFor(() => ut.rpc.calls.find((c) => c.kind === 'error' && c.requestId === 12));
        expect(err).to.deep.include({ error: 'Failed to convert device RPC command to MQTT msg' });
        await sleep(50);
        expect(published).to.equal(false);
        ut.rpc.calls.length = 0;
      });

      it('v2 subscriptions: commands on v2/r/req/{id} (or /j/), replies on v2/r/res/{id}', async () => {
        client = await connectDevice(ut.port, TOKEN, version);
        await client.subscribeAsync('v2/r/req/+', { qos: 1 });
        let incoming = nextMessage(client, 'v2/r/req/');
        session().sendRpcRequest(command(13));
        expect((await incoming).topic).to.equal('v2/r/req/13');
        await client.publishAsync('v2/r/res/13', 'plain text', { qos: 1 });
        expect(ut.rpc.calls.find((c) => c.kind === 'response' && c.requestId === 13)).to.deep.include({ payload: 'plain text' });

        await client.subscribeAsync('v2/r/req/j/+', { qos: 0 });
        incoming = nextMessage(client, 'v2/r/req/j/');
        session().sendRpcRequest(command(14));
        const got = await incoming;
        expect(got.topic).to.equal('v2/r/req/j/14');
        expect(got.qos).to.equal(0);
        await client.publishAsync('v2/r/res/j/14', '{"r":14}', { qos: 1 });
        expect(ut.rpc.calls.find((c) => c.kind === 'response' && c.requestId === 14)).to.deep.include({ payload: '{"r":14}' });
        ut.rpc.calls.length = 0;
      });

      it('a closed session reports onSessionClosed and refuses new commands with ThingsBoard\'s send error', async () => {
        client = await connectDevice(ut.port, TOKEN, version);
        await client.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });
        const s = session();
        await client.endAsync();
        await waitFor(() => ut.rpc.calls.find((c) => c.kind === 'closed' && c.session === s));
        s.sendRpcRequest(command(15));
        expect(ut.rpc.calls.find((c) => c.kind === 'error' && c.requestId === 15)).to.deep.include({ error: 'Failed send To Device Rpc Request: setGpio' });
        ut.rpc.calls.length = 0;
      });
    });
  }
});
