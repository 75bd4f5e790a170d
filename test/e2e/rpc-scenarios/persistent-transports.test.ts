// Persistent RPC over the three device transports — MQTT.js, HTTP long poll (fetch), node-coap
// Observe — with every status transition checked twice: GET /api/rpc/persistent/{rpcId} at each
// step (the device holds its acknowledgement so SENT can be seen), and the RPC_<STATUS> events the
// tenant's root chain records as telemetry (spec/rpc.md §6.2, §6.4, §7).
import { expect } from 'chai';
import {
  coapCall,
  coapObserve,
  expectEvents,
  gatedDevice,
  getRpc,
  httpPoll,
  httpReply,
  isRecord,
  mqttDevice,
  rpcIdOf,
  sleep,
  startScenarioSystem,
  waitFor,
  waitForStatus,
  type ScenarioSystem,
  type TestDevice,
} from './kit.js';

describe('persistent RPC over MQTT, HTTP and CoAP: statuses by REST and by RPC_* events', function () {
  this.timeout(20_000);
  let s: ScenarioSystem;
  const ends: (() => unknown)[] = [];

  before(async () => {
    s = await startScenarioSystem();
  });
  after(async () => {
    await s?.close();
  });
  afterEach(async () => {
    for (const end of ends.splice(0)) await Promise.resolve(end()).catch(() => undefined);
  });

  const persistent = async (dev: TestDevice, body: Record<string, unknown>, kind: 'twoway' | 'oneway' = 'twoway') =>
    rpcIdOf(await s.api.call('POST', `/api/rpc/${kind}/${dev.id}`, { token: s.admin, body: { params: {}, persistent: true, timeout: 15_000, ...body } }));
  const status = async (rpcId: string) => (await getRpc(s.api, s.admin, rpcId)).status;

  it('MQTT QoS 1: QUEUED (offline) → SENT (PUBACK held) → DELIVERED (PUBACK) → SUCCESSFUL (reply)', async () => {
    const dev = await s.device('MQTT persistent');
    const rpcId = await persistent(dev, { method: 'setMode', params: { mode: 'eco' } });
    expect(await status(rpcId)).to.equal('QUEUED');
    const d = await gatedDevice(s.mqttPort, dev.token, 'hold');
    ends.push(d.end);
    await waitFor('the command', () => d.held.length === 1);
    const cmd = d.held[0];
    if (!cmd) throw new Error('no command');
    expect(cmd).to.deep.include({ method: 'setMode', params: { mode: 'eco' }, qos: 1 });
    await waitForStatus(s.api, s.admin, rpcId, 'SENT');
    await sleep(150);
    expect(await status(rpcId), 'no PUBACK yet').to.equal('SENT');
    cmd.release();
    await waitForStatus(s.api, s.admin, rpcId, 'DELIVERED');
    await d.reply(cmd.requestId, '{"mode":"eco"}');
    expect((await waitForStatus(s.api, s.admin, rpcId, 'SUCCESSFUL')).response).to.deep.equal({ mode: 'eco' });
    await expectEvents(s.api, s.admin, dev.id, rpcId, ['QUEUED', 'SENT', 'DELIVERED', 'SUCCESSFUL']);
  });

  it('MQTT QoS 0, two-way: QUEUED → DELIVERED → SUCCESSFUL (no SENT); a non-JSON reply is stored as {"error": text}', async () => {
    const dev = await s.device('MQTT QoS0 persistent');
    const d = await mqttDevice(s.mqttPort, dev.token, { qos: 0 });
    ends.push(d.end);
    const rpcId = await persistent(dev, { method: 'ping' });
    await waitForStatus(s.api, s.admin, rpcId, 'DELIVERED');
    const cmd = d.commands[0];
    if (!cmd) throw new Error('no command');
    await d.reply(cmd.requestId, 'pong');
    expect((await waitForStatus(s.api, s.admin, rpcId, 'SUCCESSFUL')).response).to.deep.equal({ error: 'pong' });
    await expectEvents(s.api, s.admin, dev.id, rpcId, ['QUEUED', 'DELIVERED', 'SUCCESSFUL']);
  });

  it('HTTP long poll: QUEUED → DELIVERED (the poll answered) → SUCCESSFUL (POST rpc/{id})', async () => {
    const dev = await s.device('HTTP persistent');
    const rpcId = await persistent(dev, { method: 'getConfig', params: { section: 'net' } });
    expect(await status(rpcId)).to.equal('QUEUED');
    const polled = await httpPoll(s.api, dev.token, 5000);
    expect(polled.status).to.equal(200);
    if (!isRecord(polled.json) || typeof polled.json.id !== 'number') throw new Error(`not a command: ${polled.text}`);
    expect(polled.json).to.deep.include({ method: 'getConfig', params: { section: 'net' } });
    await waitForStatus(s.api, s.admin, rpcId, 'DELIVERED');
    // The next poll does not get it again.
    expect((await httpPoll(s.api, dev.token, 300)).status).to.equal(408);
    expect((await httpReply(s.api, dev.token, polled.json.id, '{"dhcp":true}')).status).to.equal(200);
    expect((await waitForStatus(s.api, s.admin, rpcId, 'SUCCESSFUL')).response).to.deep.equal({ dhcp: true });
    await expectEvents(s.api, s.admin, dev.id, rpcId, ['QUEUED', 'DELIVERED', 'SUCCESSFUL']);
  });

  it('HTTP long poll: one command per poll, in order', async () => {
    const dev = await s.device('HTTP two queued');
    const first = await persistent(dev, { method: 'first' }, 'oneway');
    const second = await persistent(dev, { method: 'second' }, 'oneway');
    const p1 = await httpPoll(s.api, dev.token, 3000);
    const p2 = await httpPoll(s.api, dev.token, 3000);
    expect([p1.json, p2.json].map((j) => (isRecord(j) ? j.method : null))).to.deep.equal(['first', 'second']);
    await waitForStatus(s.api, s.admin, first, 'DELIVERED');
    await waitForStatus(s.api, s.admin, second, 'DELIVERED');
    await expectEvents(s.api, s.admin, dev.id, second, ['QUEUED', 'DELIVERED']);
  });

  it('HTTP long poll, delivered but never answered: QUEUED → DELIVERED → EXPIRED', async () => {
    const dev = await s.device('HTTP expiring');
    const rpcId = await persistent(dev, { method: 'slow', timeout: 1200 });
    expect((await httpPoll(s.api, dev.token, 3000)).status).to.equal(200);
    await waitForStatus(s.api, s.admin, rpcId, 'DELIVERED');
    await waitForStatus(s.api, s.admin, rpcId, 'EXPIRED', 5000);
    await expectEvents(s.api, s.admin, dev.id, rpcId, ['QUEUED', 'DELIVERED', 'EXPIRED']);
  });

  it('CoAP Observe, CON: QUEUED → SENT (ACK held) → DELIVERED (ACK) → SUCCESSFUL (POST rpc/{id}, 2.01)', async () => {
    const dev = await s.device('CoAP persistent');
    const rpcId = await persistent(dev, { method: 'setLed', params: { on: true } });
    expect(await status(rpcId)).to.equal('QUEUED');
    const obs = await coapObserve(s.coapPort, dev.token, { holdAcks: true });
    ends.push(() => obs.close());
    expect(obs.first.code).to.equal('2.03');
    await waitFor('the notification', () => obs.commands.length === 1);
    const cmd = obs.commands[0];
    if (!cmd) throw new Error('no command');
    expect(cmd).to.deep.include({ method: 'setLed', params: { on: true } });
    await waitForStatus(s.api, s.admin, rpcId, 'SENT');
    obs.releaseAcks();
    await waitForStatus(s.api, s.admin, rpcId, 'DELIVERED');
    const replied = await coapCall(s.coapPort, 'POST', `/api/v1/${dev.token}/rpc/${cmd.id}`, '{ "on" : true }');
    expect(replied.code).to.equal('2.01');
    expect((await waitForStatus(s.api, s.admin, rpcId, 'SUCCESSFUL')).response).to.deep.equal({ on: true });
    await expectEvents(s.api, s.admin, dev.id, rpcId, ['QUEUED', 'SENT', 'DELIVERED', 'SUCCESSFUL']);
  });

  it('CoAP Observe, NON, one-way: QUEUED → DELIVERED once sent', async () => {
    const dev = await s.device('CoAP NON persistent');
    const obs = await coapObserve(s.coapPort, dev.token, { confirmable: false });
    ends.push(() => obs.close());
    const rpcId = await persistent(dev, { method: 'reboot', params: { delay: 0 } }, 'oneway');
    await waitForStatus(s.api, s.admin, rpcId, 'DELIVERED');
    await waitFor('the notification', () => obs.commands.length === 1);
    expect(obs.commands[0]).to.deep.include({ method: 'reboot', params: { delay: 0 } });
    await expectEvents(s.api, s.admin, dev.id, rpcId, ['QUEUED', 'DELIVERED']);
  });

  it('DELETE of a QUEUED RPC: RPC_DELETED event, 404 afterwards, never sent', async () => {
    const dev = await s.device('deleted');
    const rpcId = await persistent(dev, { method: 'never' });
    const del = await s.api.call('DELETE', `/api/rpc/persistent/${rpcId}`, { token: s.admin });
    expect([del.status, del.text]).to.deep.equal([200, '']);
    expect((await s.api.call('GET', `/api/rpc/persistent/${rpcId}`, { token: s.admin })).status).to.equal(404);
    await expectEvents(s.api, s.admin, dev.id, rpcId, ['QUEUED', 'DELETED']);
    const d = await mqttDevice(s.mqttPort, dev.token);
    ends.push(d.end);
    await sleep(300);
    expect(d.commands).to.deep.equal([]);
  });
});
