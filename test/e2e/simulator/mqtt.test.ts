// The simulator over MQTT against a device-side MQTT server written here (mqtt-connection).
import { expect } from 'chai';
import { runSimulator, type Simulator, type SimulatorOptions } from '../../../src/simulator/index.js';
import { MqttPeer, rejection, sleep, waitFor } from './peers.js';

const TOKEN = 'SIM_MQTT_TOKEN';

describe('simulator over MQTT (against a test MQTT server)', function () {
  this.timeout(15_000);
  let peer: MqttPeer;
  let sim: Simulator | undefined;
  let lines: string[];

  beforeEach(async () => {
    peer = new MqttPeer(TOKEN);
    await peer.start();
    lines = [];
  });
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
    await peer.close();
  });

  const start = async (over: Partial<SimulatorOptions> = {}) => {
    sim = await runSimulator({ token: TOKEN, port: peer.port, print: (l) => lines.push(l), ...over });
    return sim;
  };

  it('connects with the token as user name (MQTT 3.1.1) and subscribes to the v1 request and response topics', async () => {
    await start();
    const c = peer.last;
    expect(c.connect.username).to.equal(TOKEN);
    expect(c.connect.protocolVersion).to.equal(4);
    expect(c.subscriptions).to.have.members(['v1/devices/me/rpc/request/+', 'v1/devices/me/rpc/response/+']);
    expect(lines[0]).to.match(/^connected to mqtt:\/\/127\.0\.0\.1:\d+ \(MQTT 3\.1\.1, v1 topics\)/);
  });

  it('echoes unknown methods, PUBACKs the command and prints the command and the reply', async () => {
    const s = await start();
    const messageId = peer.send(12, 'doSomething', { a: 1 });
    const reply = await waitFor(() => peer.published('v1/devices/me/rpc/response/12')[0], 'reply');
    expect(JSON.parse(reply.payload.toString())).to.deep.equal({ method: 'doSomething', params: { a: 1 } });
    expect(reply.qos).to.equal(1);
    await waitFor(() => peer.last.pubacks.includes(messageId), 'PUBACK of the command');
    expect(s.received).to.have.length(1);
    expect(s.received[0]).to.include({ id: 12, method: 'doSomething' });
    expect(lines).to.include('← command 12 doSomething {"a":1}');
    expect(lines).to.include('→ reply 12 {"method":"doSomething","params":{"a":1}}');
  });

  it('setValue/getValue keep a boolean or number; checkStatus answers {"status":true}', async () => {
    const s = await start();
    expect(await peer.call(1, 'getValue', null)).to.equal(false);
    expect(await peer.call(2, 'setValue', true)).to.equal(true);
    expect(await peer.call(3, 'getValue', null)).to.equal(true);
    expect(s.state.value).to.equal(true);
    expect(await peer.call(4, 'setValue', 42.5)).to.equal(42.5);
    expect(await peer.call(5, 'getValue', {})).to.equal(42.5);
    // Params stored as text come back as a string: still a value.
    expect(await peer.call(6, 'setValue', 'false')).to.equal(false);
    expect(await peer.call(7, 'setValue', { nope: 1 })).to.deep.equal({ error: 'setValue expects a boolean or a number' });
    expect(s.state.value).to.equal(false);
    expect(await peer.call(8, 'checkStatus', null)).to.deep.equal({ status: true });
  });

  it('setGpioStatus answers the whole pin map, getGpioStatus reads it', async () => {
    const s = await start({ initialState: { gpio: { '7': false } } });
    expect(await peer.call(1, 'setGpioStatus', { pin: 11, enabled: true })).to.deep.equal({ '7': false, '11': true });
    expect(await peer.call(2, 'setGpioStatus', { pin: '7', enabled: true })).to.deep.equal({ '7': true, '11': true });
    expect(await peer.call(3, 'getGpioStatus', null)).to.deep.equal({ '7': true, '11': true });
    expect(s.state.gpio).to.deep.equal({ '7': true, '11': true });
    expect(await peer.call(4, 'setGpioStatus', { pin: 'x' })).to.have.property('error');
  });

  it('client-side request: publishes on rpc/request/{n} and resolves with the reply from rpc/response/{n}', async () => {
    const s = await start();
    expect(await s.request('getCurrentTime')).to.equal(1700000000000);
    const req = peer.published('v1/devices/me/rpc/request/');
    expect(req.map((p) => p.topic)).to.deep.equal(['v1/devices/me/rpc/request/1']);
    expect(JSON.parse(req[0]!.payload.toString())).to.deep.equal({ method: 'getCurrentTime', params: {} });
    expect(await s.request('getWeather', { city: 'Kyiv' })).to.deep.equal({ error: 'unknown getWeather' });
    expect(peer.published('v1/devices/me/rpc/request/2')).to.have.length(1);
    expect(lines).to.include('→ request 1 getCurrentTime {}');
    expect(lines).to.include('← response 1 1700000000000');
  });

  it('a client-side request without an answer rejects after requestTimeoutMs', async () => {
    peer.answer = () => undefined;
    const s = await start({ requestTimeoutMs: 200 });
    const error = await rejection(s.request('getCurrentTime'));
    expect(error.message).to.match(/no reply to client-side request 1 \(getCurrentTime\) within 200 ms/);
  });

  it('periodic telemetry: {"temperature": n} on v1/devices/me/telemetry', async () => {
    await start({ telemetryIntervalMs: 50 });
    const sent = await waitFor(() => (peer.published('v1/devices/me/telemetry').length >= 3 ? peer.published('v1/devices/me/telemetry') : undefined), 'telemetry');
    for (const p of sent) {
      const t = (JSON.parse(p.payload.toString()) as { temperature: unknown }).temperature;
      expect(t).to.be.a('number').within(15, 35);
    }
  });

  it('MQTT 5 with the short v2 topics', async () => {
    const s = await start({ mqtt5: true, mqttTopics: 'v2' });
    expect(peer.last.connect.protocolVersion).to.equal(5);
    expect(peer.last.subscriptions).to.have.members(['v2/r/req/+', 'v2/r/res/+']);
    expect(await peer.call(5, 'setValue', 1, 'v2')).to.equal(1);
    expect(await s.request('getCurrentTime')).to.equal(1700000000000);
    expect(peer.published('v2/r/req/1')).to.have.length(1);
    await s.sendTelemetry({ temperature: 20 });
    await waitFor(() => peer.published('v2/t')[0], 'v2 telemetry');
  });

  it('--no-ack: no PUBACK and no reply, yet later commands still arrive', async () => {
    const s = await start({ noAck: true });
    const first = peer.send(1, 'setValue', true);
    const second = peer.send(2, 'getValue', null);
    await waitFor(() => s.received.length === 2, 'both commands');
    await sleep(200);
    expect(peer.last.pubacks).to.not.include.members([first, second]);
    expect(peer.last.pubacks).to.deep.equal([]);
    expect(peer.published('v1/devices/me/rpc/response/')).to.deep.equal([]);
    expect(s.state.value).to.equal(false);
    expect(lines).to.include('  (not answered: --no-ack)');
  });

  it('--oneway METHOD: executed and acknowledged, not answered', async () => {
    const s = await start({ oneway: ['setValue'] });
    const messageId = peer.send(1, 'setValue', true);
    await waitFor(() => peer.last.pubacks.includes(messageId), 'PUBACK');
    expect(s.state.value).to.equal(true);
    expect(await peer.call(2, 'getValue', null)).to.equal(true);
    expect(peer.published('v1/devices/me/rpc/response/1')).to.deep.equal([]);
  });

  it('a QoS 0 command is answered too', async () => {
    await start();
    peer.send(3, 'checkStatus', null, { qos: 0 });
    const reply = await waitFor(() => peer.published('v1/devices/me/rpc/response/3')[0], 'reply');
    expect(JSON.parse(reply.payload.toString())).to.deep.equal({ status: true });
  });

  it('reconnects after the server drops it, re-subscribes and answers again', async () => {
    const s = await start();
    peer.dropAll();
    await waitFor(() => peer.connections.length === 2 && peer.connections[1]!.subscriptions.length > 0, 'the second connection', 8000);
    expect(peer.connections[1]!.subscriptions).to.include('v1/devices/me/rpc/request/+');
    expect(await peer.call(9, 'checkStatus', null)).to.deep.equal({ status: true });
    expect(lines.some((l) => /reconnected/.test(l))).to.equal(true);
    expect(s.received.map((c) => c.id)).to.deep.equal([9]);
  });

  it('a refused token rejects runSimulator; a wrong one too', async () => {
    const error = await rejection(runSimulator({ token: 'WRONG', port: peer.port, print: () => {} }));
    expect(error.message).to.match(/cannot connect to mqtt:.*Bad username or password/i);
    peer.refuseWith = 5;
    const error2 = await rejection(runSimulator({ token: TOKEN, port: peer.port, print: () => {} }));
    expect(error2.message).to.match(/Not authorized/i);
  });

  it('the token refused on a reconnect: `done` rejects and the simulator stops', async () => {
    const s = await start();
    peer.refuseWith = 5;
    peer.dropAll();
    const error = await rejection(s.done);
    expect(error.message).to.match(/refused the access token/);
    expect(lines.some((l) => l.startsWith('! the server refused the access token'))).to.equal(true);
  });

  it('nobody listening: runSimulator rejects at once', async () => {
    const port = peer.port;
    await peer.close();
    peer = new MqttPeer(TOKEN); // for afterEach
    await peer.start();
    const error = await rejection(runSimulator({ token: TOKEN, port, print: () => {} }));
    expect(error.message).to.match(/ECONNREFUSED/);
  });

  it('close() disconnects cleanly and settles `done`', async () => {
    const s = await start();
    await s.close();
    await s.done;
    await waitFor(() => peer.last.disconnected, 'the disconnect');
    sim = undefined;
  });
});
