// The simulator against rpc-chains' own MQTT transport (src/transport/mqtt) on a real Store and
// Redis: commands through the device session, delivery statuses, replies, client-side RPC.
import { expect } from 'chai';
import type { DeviceSession, ToDeviceRpcRequest } from '../../../src/transport/transport-api.js';
import { runSimulator, type Simulator, type SimulatorOptions } from '../../../src/simulator/index.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';
import { startTransport, type TransportUnderTest } from '../mqtt/mqtt-harness.js';
import { waitFor } from './peers.js';

const TOKEN = 'SIM_REAL_MQTT_TOKEN';

function command(requestId: number, method: string, params: unknown): ToDeviceRpcRequest {
  return { requestId, method, params: JSON.stringify(params), oneway: false, persistent: true, expirationTime: Date.now() + 10_000 };
}

describe('simulator against the MQTT transport', function () {
  this.timeout(20_000);
  let fx: StoreFixture;
  let ut: TransportUnderTest;
  let sim: Simulator | undefined;

  before(async () => {
    fx = await startStoreFixture();
    await fx.store.credentials.save(fx.tenant.id.id, fx.device.id.id, TOKEN);
    ut = await startTransport(fx, { ackTimeoutMs: 300 });
  });
  after(async () => {
    await ut?.close();
    await fx?.close();
  });
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });

  /** Starts the simulator and waits until the transport has its RPC subscription. */
  async function connect(over: Partial<SimulatorOptions> = {}): Promise<DeviceSession> {
    const from = ut.rpc.calls.length;
    sim = await runSimulator({ token: TOKEN, port: ut.port, print: () => {}, ...over });
    const sub = await waitFor(() => ut.rpc.calls.slice(from).find((c) => c.kind === 'subscribe'), 'the RPC subscription');
    return sub.session;
  }

  /** Delivery statuses of `requestId` reported since call index `from`. */
  const statuses = (requestId: number, from: number) =>
    ut.rpc.calls.slice(from).flatMap((c) => (c.kind === 'status' && c.requestId === requestId ? [c.status] : []));

  const response = (requestId: number, from: number) =>
    waitFor(() => ut.rpc.calls.slice(from).find((c) => c.kind === 'response' && c.requestId === requestId), `the response to ${requestId}`);

  for (const [label, over] of [
    ['MQTT 3.1.1, v1 topics', {}],
    ['MQTT 5, v2 topics', { mqtt5: true, mqttTopics: 'v2' }],
  ] as const) {
    it(`${label}: a command is SENT, DELIVERED (PUBACK) and answered; a client-side request is answered`, async () => {
      const session = await connect(over);
      const from = ut.rpc.calls.length;
      session.sendRpcRequest(command(1, 'setGpioStatus', { pin: 7, enabled: true }));
      const r = await response(1, from);
      expect(r.kind === 'response' && JSON.parse(r.payload)).to.deep.equal({ '7': true });
      await waitFor(() => statuses(1, from).includes('DELIVERED'), 'DELIVERED');
      expect(statuses(1, from)).to.deep.equal(['SENT', 'DELIVERED']);

      // Client-side: the test plays the rule chain and answers through the session.
      const msgsFrom = ut.msgs.length;
      const pending = sim!.request('getCurrentTime');
      const msg = await waitFor(() => ut.msgs.slice(msgsFrom).find((m) => m.type === 'TO_SERVER_RPC_REQUEST'), 'TO_SERVER_RPC_REQUEST');
      expect(JSON.parse(msg.data)).to.deep.equal({ method: 'getCurrentTime', params: {} });
      ut.sessions.local(msg.metaData.sessionId as string)!.sendToServerRpcResponse(Number(msg.metaData.requestId), '1700000000000');
      expect(await pending).to.equal(1700000000000);
    });
  }

  it('telemetry becomes POST_TELEMETRY_REQUEST', async () => {
    await connect();
    const from = ut.msgs.length;
    await sim!.sendTelemetry({ temperature: 21.5 });
    const msg = await waitFor(() => ut.msgs.slice(from).find((m) => m.type === 'POST_TELEMETRY_REQUEST'), 'telemetry');
    expect(JSON.parse(msg.data)).to.deep.equal({ temperature: 21.5 });
  });

  it('--no-ack: the transport reports TIMEOUT and gets no response', async () => {
    const session = await connect({ noAck: true });
    const from = ut.rpc.calls.length;
    session.sendRpcRequest(command(2, 'setValue', true));
    await waitFor(() => statuses(2, from).includes('TIMEOUT'), 'TIMEOUT');
    expect(statuses(2, from)).to.deep.equal(['SENT', 'TIMEOUT']);
    expect(ut.rpc.calls.slice(from).some((c) => c.kind === 'response')).to.equal(false);
  });

  it('a token the transport does not know: runSimulator rejects', async () => {
    let message = '';
    await runSimulator({ token: 'NOT_A_TOKEN', port: ut.port, print: () => {} }).catch((e: Error) => (message = e.message));
    expect(message).to.match(/cannot connect to mqtt:.*(Bad username or password|Not authorized)/i);
  });
});
