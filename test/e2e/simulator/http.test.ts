// The simulator over the HTTP device API against a long-poll server written here (node:http).
import { expect } from 'chai';
import { runSimulator, type Simulator, type SimulatorOptions } from '../../../src/simulator/index.js';
import { HttpPeer, rejection, sleep, waitFor } from './peers.js';

const TOKEN = 'SIM_HTTP_TOKEN';

describe('simulator over HTTP (against a test long-poll server)', function () {
  this.timeout(15_000);
  let peer: HttpPeer;
  let sim: Simulator | undefined;
  let lines: string[];

  beforeEach(async () => {
    peer = new HttpPeer(TOKEN);
    await peer.start();
    lines = [];
  });
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
    await peer.close();
  });

  const start = async (over: Partial<SimulatorOptions> = {}) => {
    sim = await runSimulator({ token: TOKEN, protocol: 'http', port: peer.port, print: (l) => lines.push(l), ...over });
    await waitFor(() => peer.polling, 'the first poll');
    return sim;
  };

  it('long-polls GET /api/v1/{token}/rpc?timeout= and POSTs each reply to /rpc/{id} as JSON', async () => {
    const s = await start({ httpPollTimeoutMs: 30_000 });
    expect(peer.polls).to.deep.equal([30_000]);
    expect(await peer.call(4, 'doSomething', { a: [1, 2] })).to.deep.equal({ method: 'doSomething', params: { a: [1, 2] } });
    expect(peer.replies[0]!.contentType).to.equal('application/json');
    expect(s.received.map((c) => [c.id, c.method])).to.deep.equal([[4, 'doSomething']]);
    // One command per poll: it polls again right after.
    await waitFor(() => peer.polls.length === 2, 'the next poll');
    expect(lines).to.include('← command 4 doSomething {"a":[1,2]}');
    expect(lines).to.include('→ reply 4 {"method":"doSomething","params":{"a":[1,2]}}');
  });

  it('a 408 (no command before the timeout) just starts the next poll', async () => {
    await start({ httpPollTimeoutMs: 100 });
    await waitFor(() => peer.polls.length >= 3, 'three polls');
    expect(await peer.call(1, 'setValue', true)).to.equal(true);
    expect(await peer.call(2, 'getValue', null)).to.equal(true);
  });

  it('switch and GPIO methods, checkStatus', async () => {
    const s = await start();
    expect(await peer.call(1, 'setValue', 7)).to.equal(7);
    expect(await peer.call(2, 'setGpioStatus', { pin: 23, enabled: true })).to.deep.equal({ '23': true });
    expect(await peer.call(3, 'getGpioStatus', null)).to.deep.equal({ '23': true });
    expect(await peer.call(4, 'checkStatus', null)).to.deep.equal({ status: true });
    expect(s.state).to.deep.equal({ value: 7, gpio: { '23': true } });
  });

  it('commands queued while no poll waits are fetched one per poll, in order', async () => {
    await start();
    peer.send(1, 'setValue', 1);
    peer.send(2, 'setValue', 2);
    peer.send(3, 'getValue', null);
    await waitFor(() => peer.replies.length === 3, 'three replies');
    expect(peer.replies.map((r) => [r.id, JSON.parse(r.body) as unknown])).to.deep.equal([
      [1, 1],
      [2, 2],
      [3, 2],
    ]);
  });

  it('client-side request: POST /api/v1/{token}/rpc, the reply is the response body', async () => {
    const s = await start();
    expect(await s.request('getCurrentTime')).to.equal(1700000000000);
    expect(peer.clientRequests.map((b) => JSON.parse(b) as unknown)).to.deep.equal([{ method: 'getCurrentTime', params: {} }]);
    // 408: the server's sync session gave up.
    peer.answer = () => undefined;
    const error = await rejection(s.request('slow'));
    expect(error.message).to.match(/HTTP 408/);
    expect(lines).to.include('← response 1 1700000000000');
  });

  it('periodic telemetry: POST /api/v1/{token}/telemetry', async () => {
    await start({ telemetryIntervalMs: 50 });
    await waitFor(() => peer.telemetry.length >= 2, 'telemetry');
    expect(JSON.parse(peer.telemetry[0]!)).to.have.key('temperature');
  });

  it('--no-ack: commands are received, nothing is posted back', async () => {
    const s = await start({ noAck: true });
    peer.send(1, 'setValue', true);
    await waitFor(() => s.received.length === 1, 'the command');
    await sleep(150);
    expect(peer.replies).to.deep.equal([]);
  });

  it('a refused token (401) ends the simulator: `done` rejects', async () => {
    sim = await runSimulator({ token: 'WRONG', protocol: 'http', port: peer.port, print: (l) => lines.push(l) });
    const error = await rejection(sim.done);
    expect(error.message).to.match(/refused the access token \(HTTP 401\)/);
    expect(peer.polls).to.deep.equal([]);
  });

  it('the server down: keeps polling, reports it once, and recovers', async () => {
    const port = peer.port;
    sim = await runSimulator({ token: TOKEN, protocol: 'http', port, print: (l) => lines.push(l) });
    await waitFor(() => peer.polling, 'the first poll');
    await peer.close();
    await waitFor(() => lines.some((l) => /poll failed/.test(l)), 'the failure line');
    await sleep(1500);
    expect(lines.filter((l) => /poll failed/.test(l))).to.have.length(1);
    peer = new HttpPeer(TOKEN);
    await peer.start(port);
    await waitFor(() => peer.polling, 'a poll on the restarted server', 5000);
    expect(await peer.call(1, 'checkStatus', null)).to.deep.equal({ status: true });
  });

  it('close() aborts the waiting poll', async () => {
    const s = await start();
    await s.close();
    await waitFor(() => peer.abortedPolls === 1, 'the aborted poll');
    await s.done;
    sim = undefined;
  });
});
