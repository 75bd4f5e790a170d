// The simulator over the CoAP device API against an observe server written here (coap package).
import { expect } from 'chai';
import { runSimulator, type Simulator, type SimulatorOptions } from '../../../src/simulator/index.js';
import { CoapPeer, rejection, sleep, waitFor } from './peers.js';

const TOKEN = 'SIM_COAP_TOKEN';

describe('simulator over CoAP (against a test observe server)', function () {
  this.timeout(15_000);
  let peer: CoapPeer;
  let sim: Simulator | undefined;
  let lines: string[];

  beforeEach(async () => {
    peer = new CoapPeer(TOKEN);
    await peer.start();
    lines = [];
  });
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
    await peer.close();
  });

  const start = async (over: Partial<SimulatorOptions> = {}) => {
    sim = await runSimulator({ token: TOKEN, protocol: 'coap', port: peer.port, print: (l) => lines.push(l), ...over });
    return sim;
  };

  it('observes /api/v1/{token}/rpc with a confirmable GET and answers notifications with POST /rpc/{id}', async () => {
    const s = await start();
    expect(peer.registrations).to.deep.equal([{ confirmable: true }]);
    expect(lines[0]).to.match(/^connected to coap:\/\/127\.0\.0\.1:\d+/);
    expect(await peer.call(3, 'doSomething', { a: 1 })).to.deep.equal({ method: 'doSomething', params: { a: 1 } });
    expect(await peer.call(4, 'checkStatus', null)).to.deep.equal({ status: true });
    expect(s.received.map((c) => c.id)).to.deep.equal([3, 4]);
    expect(lines).to.include('← command 3 doSomething {"a":1}');
  });

  it('GPIO and switch methods; a non-object reply is sent with a one-time note', async () => {
    const s = await start();
    expect(await peer.call(1, 'setGpioStatus', { pin: 5, enabled: true })).to.deep.equal({ '5': true });
    expect(await peer.call(2, 'getGpioStatus', null)).to.deep.equal({ '5': true });
    expect(await peer.call(3, 'setValue', true)).to.equal(true);
    expect(await peer.call(4, 'getValue', null)).to.equal(true);
    expect(s.state.value).to.equal(true);
    expect(lines.filter((l) => /accepts only a JSON object/.test(l))).to.have.length(1);
  });

  it('client-side request: POST /api/v1/{token}/rpc answered 2.05', async () => {
    const s = await start();
    expect(await s.request('getCurrentTime')).to.equal(1700000000000);
    expect(peer.clientRequests.map((b) => JSON.parse(b) as unknown)).to.deep.equal([{ method: 'getCurrentTime', params: {} }]);
  });

  it('a client-side request the server never answers rejects after requestTimeoutMs', async () => {
    peer.answer = () => undefined;
    const s = await start({ requestTimeoutMs: 300 });
    const error = await rejection(s.request('getCurrentTime'));
    expect(error.message).to.match(/no answer to POST \/api\/v1\/SIM_COAP_TOKEN\/rpc within 300 ms/);
  });

  it('periodic telemetry: POST /api/v1/{token}/telemetry', async () => {
    await start({ telemetryIntervalMs: 50 });
    await waitFor(() => peer.telemetry.length >= 2, 'telemetry');
    expect(JSON.parse(peer.telemetry[0]!)).to.have.key('temperature');
  });

  it('--no-ack: nothing is posted back', async () => {
    const s = await start({ noAck: true });
    peer.send(1, 'setValue', true);
    await waitFor(() => s.received.length === 1, 'the command');
    await sleep(150);
    expect(peer.replies).to.deep.equal([]);
  });

  it('an observation the server ends is registered again', async () => {
    await start();
    peer.endObservation('4.04');
    await waitFor(() => peer.registrations.length === 2 && peer.observed, 'the second registration', 5000);
    expect(await peer.call(8, 'checkStatus', null)).to.deep.equal({ status: true });
  });

  it('a refused token (4.01) rejects runSimulator', async () => {
    const error = await rejection(runSimulator({ token: 'WRONG', protocol: 'coap', port: peer.port, print: () => {} }));
    expect(error.message).to.match(/refused the access token \(4\.01\)/);
  });

  it('close() deregisters the observation (GET, Observe=1)', async () => {
    const s = await start();
    await s.close();
    await waitFor(() => peer.deregistrations.length === 1, 'the deregistration');
    sim = undefined;
  });
});
