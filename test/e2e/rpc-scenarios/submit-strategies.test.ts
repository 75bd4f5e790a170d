// The three submit strategies (ACTORS_RPC_SUBMIT_STRATEGY_TYPE, spec/rpc.md §5.5), the re-send after
// a delivery timeout in a sequential strategy (beyond-thingsboard #2), and S8: close the session on
// a delivery timeout (ACTORS_RPC_CLOSE_SESSION_ON_RPC_DELIVERY_TIMEOUT, §5.6). Each block runs the
// real system with its settings from the environment; the device is MQTT.js (MQTT 5) holding back
// its PUBACKs (kit.ts gatedDevice), and every status is read through the REST API and the RPC_*
// events the root chain records.
import { expect } from 'chai';
import {
  expectEvents,
  gatedDevice,
  getRpc,
  mqttDevice,
  rpcIdOf,
  rpcPath,
  sleep,
  startScenarioSystem,
  waitFor,
  waitForStatus,
  type GatedDevice,
  type ScenarioSystem,
  type TestDevice,
} from './kit.js';

/** ADMINISTRATIVE_ACTION */
const RC_ADMINISTRATIVE_ACTION = 0x98;

function strategySuite(strategy: string, env: Record<string, string>, body: (ctx: () => Ctx) => void): void {
  describe(`submit strategy ${strategy}`, function () {
    this.timeout(20_000);
    let s: ScenarioSystem;
    const ends: (() => Promise<void>)[] = [];
    before(async () => {
      s = await startScenarioSystem({ env: { ACTORS_RPC_SUBMIT_STRATEGY_TYPE: strategy, ...env } });
    });
    after(async () => {
      await s?.close();
    });
    afterEach(async () => {
      for (const end of ends.splice(0)) await end().catch(() => undefined);
    });
    body(() => ({
      s,
      post: async (dev, body, kind = 'twoway') => s.api.call('POST', rpcPath('v2', kind, dev.id), { token: s.admin, body }),
      persistent: async (dev, method, extra = {}) => rpcIdOf(await s.api.call('POST', rpcPath('v2', 'twoway', dev.id), { token: s.admin, body: { method, params: {}, persistent: true, timeout: 15_000, ...extra } })),
      status: async (rpcId) => (await getRpc(s.api, s.admin, rpcId)).status,
      gated: async (dev, mode) => {
        const d = await gatedDevice(s.mqttPort, dev.token, mode);
        ends.push(d.end);
        return d;
      },
      onEnd: (fn) => ends.push(fn),
    }));
  });
}

interface Ctx {
  readonly s: ScenarioSystem;
  post(dev: TestDevice, body: unknown, kind?: 'oneway' | 'twoway'): ReturnType<ScenarioSystem['api']['call']>;
  persistent(dev: TestDevice, method: string, extra?: Record<string, unknown>): Promise<string>;
  status(rpcId: string): Promise<string>;
  gated(dev: TestDevice, mode: 'hold' | 'never'): Promise<GatedDevice>;
  onEnd(fn: () => Promise<void>): void;
}

async function heldCommand(d: GatedDevice, index: number, method: string) {
  await waitFor(`command #${index} (${method})`, () => d.held.length > index);
  const c = d.held[index];
  if (!c) throw new Error('no command');
  expect(c.method).to.equal(method);
  return c;
}

strategySuite('BURST', {}, (ctx) => {
  it('both commands go out at once, before the first is acknowledged', async () => {
    const { s, persistent, status, gated } = ctx();
    const dev = await s.device('burst');
    const d = await gated(dev, 'hold');
    const a = await persistent(dev, 'a');
    const b = await persistent(dev, 'b');
    await waitForStatus(s.api, s.admin, a, 'SENT');
    await waitForStatus(s.api, s.admin, b, 'SENT');
    const ca = await heldCommand(d, 0, 'a');
    ca.release();
    const cb = await heldCommand(d, 1, 'b');
    cb.release();
    await waitForStatus(s.api, s.admin, a, 'DELIVERED');
    await waitForStatus(s.api, s.admin, b, 'DELIVERED');
    await d.reply(cb.requestId, '{"b":2}');
    await d.reply(ca.requestId, '{"a":1}');
    expect((await waitForStatus(s.api, s.admin, a, 'SUCCESSFUL')).response).to.deep.equal({ a: 1 });
    expect((await waitForStatus(s.api, s.admin, b, 'SUCCESSFUL')).response).to.deep.equal({ b: 2 });
    expect(await status(a)).to.equal('SUCCESSFUL');
    await expectEvents(s.api, s.admin, dev.id, b, ['QUEUED', 'SENT', 'DELIVERED', 'SUCCESSFUL']);
  });
});

strategySuite('SEQUENTIAL_ON_ACK_FROM_DEVICE', {}, (ctx) => {
  it('the next command goes out when the previous one is acknowledged (not answered); a lightweight one-way call is answered at its PUBACK', async () => {
    const { s, persistent, status, gated, post } = ctx();
    const dev = await s.device('seq ack');
    const d = await gated(dev, 'hold');
    const a = await persistent(dev, 'a');
    const b = await persistent(dev, 'b');
    await waitForStatus(s.api, s.admin, a, 'SENT');
    await sleep(300);
    expect(await status(b), 'b waits for the PUBACK of a').to.equal('QUEUED');
    let onewayAnswered = false;
    const oneway = post(dev, { method: 'c', params: {}, timeout: 8000 }, 'oneway').then((r) => {
      onewayAnswered = true;
      return r;
    });
    (await heldCommand(d, 0, 'a')).release();
    await waitForStatus(s.api, s.admin, a, 'DELIVERED');
    await waitForStatus(s.api, s.admin, b, 'SENT');
    expect(await status(a), 'a is not answered yet').to.equal('DELIVERED');
    (await heldCommand(d, 1, 'b')).release();
    await waitForStatus(s.api, s.admin, b, 'DELIVERED');
    const cc = await heldCommand(d, 2, 'c');
    await sleep(200);
    expect(onewayAnswered, 'the one-way call waits for its PUBACK').to.equal(false);
    cc.release();
    const res = await oneway;
    expect([res.status, res.text]).to.deep.equal([200, '']);
    await d.reply(d.held[0]?.requestId ?? -1, '{"a":1}');
    expect((await waitForStatus(s.api, s.admin, a, 'SUCCESSFUL')).response).to.deep.equal({ a: 1 });
    await expectEvents(s.api, s.admin, dev.id, b, ['QUEUED', 'SENT', 'DELIVERED']);
  });

  it('a delivery TIMEOUT re-sends at once (beyond #2), the next command waits; a new session gets it and it goes through', async function () {
    this.timeout(25_000);
    const { s, persistent, status, gated, onEnd } = ctx();
    const dev = await s.device('seq ack retry');
    const stuck = await gated(dev, 'never');
    const t0 = Date.now();
    const a = await persistent(dev, 'a', { retries: 1, timeout: 30_000 });
    const b = await persistent(dev, 'b', { timeout: 30_000 });
    // transport.mqtt.timeout: 10 s (startSystem).
    await waitFor('the re-send of a', () => stuck.held.length === 2, 14_000);
    expect(Date.now() - t0).to.be.within(9500, 13_000);
    expect(stuck.held.map((c) => c.method)).to.deep.equal(['a', 'a']);
    expect(await status(b)).to.equal('QUEUED');
    await stuck.end();
    const d = await mqttDevice(s.mqttPort, dev.token, { answer: (c) => `{"${c.method}":true}` });
    onEnd(d.end);
    expect((await waitForStatus(s.api, s.admin, a, 'SUCCESSFUL')).response).to.deep.equal({ a: true });
    expect((await waitForStatus(s.api, s.admin, b, 'SUCCESSFUL')).response).to.deep.equal({ b: true });
    expect(d.commands.map((c) => c.method)).to.deep.equal(['a', 'b']);
    await expectEvents(s.api, s.admin, dev.id, a, ['QUEUED', 'SENT', 'TIMEOUT', 'SENT', 'DELIVERED', 'SUCCESSFUL']);
    await expectEvents(s.api, s.admin, dev.id, b, ['QUEUED', 'SENT', 'DELIVERED', 'SUCCESSFUL']);
  });
});

strategySuite('SEQUENTIAL_ON_RESPONSE_FROM_DEVICE', { ACTORS_RPC_RESPONSE_TIMEOUT_MS: '800' }, (ctx) => {
  it('the next command goes out when the previous one is answered; a delivered command left unanswered FAILs after ACTORS_RPC_RESPONSE_TIMEOUT_MS', async () => {
    const { s, persistent, status, gated } = ctx();
    const dev = await s.device('seq response');
    const d = await gated(dev, 'hold');
    const a = await persistent(dev, 'a');
    const b = await persistent(dev, 'b');
    const ca = await heldCommand(d, 0, 'a');
    await waitForStatus(s.api, s.admin, a, 'SENT');
    ca.release();
    await waitForStatus(s.api, s.admin, a, 'DELIVERED');
    await sleep(300);
    expect(await status(b), 'b waits for the reply to a').to.equal('QUEUED');
    await d.reply(ca.requestId, '{"a":1}');
    await waitForStatus(s.api, s.admin, a, 'SUCCESSFUL');
    const cb = await heldCommand(d, 1, 'b');
    await waitForStatus(s.api, s.admin, b, 'SENT');
    const delivered = Date.now();
    cb.release();
    const failed = await waitForStatus(s.api, s.admin, b, 'FAILED', 5000);
    expect(Date.now() - delivered).to.be.within(700, 3000);
    expect(failed.response).to.deep.equal({ error: 'There was a timeout awaiting for RPC response from device.' });
    await expectEvents(s.api, s.admin, dev.id, b, ['QUEUED', 'SENT', 'DELIVERED', 'FAILED']);
  });
});

describe('S8 close the session on a delivery timeout (ACTORS_RPC_CLOSE_SESSION_ON_RPC_DELIVERY_TIMEOUT=true, retries 0)', function () {
  this.timeout(25_000);
  let s: ScenarioSystem;
  const ends: (() => Promise<void>)[] = [];
  before(async () => {
    s = await startScenarioSystem({ env: { ACTORS_RPC_CLOSE_SESSION_ON_RPC_DELIVERY_TIMEOUT: 'true' } });
  });
  after(async () => {
    for (const end of ends.splice(0)) await end().catch(() => undefined);
    await s?.close();
  });

  it('v1 and v2: back to QUEUED, the device is disconnected (MQTT 5 reason 0x98); on reconnect it gets the command again and answers', async () => {
    const devs = await Promise.all(['S8 v1', 'S8 v2'].map((n) => s.device(n)));
    const runs = devs.map(async (dev, i) => {
      const v = i === 0 ? 'v1' : 'v2';
      const stuck = await gatedDevice(s.mqttPort, dev.token, 'never');
      ends.push(stuck.end);
      const closed = new Promise<void>((resolve) => stuck.client.once('close', () => resolve()));
      const rpcId = rpcIdOf(await s.api.call('POST', rpcPath(v, 'twoway', dev.id), { token: s.admin, body: { method: 'setpoint', params: { t: 21 }, persistent: true, retries: 0, timeout: 30_000 } }));
      await waitForStatus(s.api, s.admin, rpcId, 'SENT');
      await closed;
      expect(stuck.disconnects, `${v}: DISCONNECT reason`).to.deep.equal([RC_ADMINISTRATIVE_ACTION]);
      expect((await getRpc(s.api, s.admin, rpcId)).status).to.equal('QUEUED');
      const d = await mqttDevice(s.mqttPort, dev.token, { answer: () => '{"t":21}' });
      ends.push(d.end);
      expect((await waitForStatus(s.api, s.admin, rpcId, 'SUCCESSFUL')).response).to.deep.equal({ t: 21 });
      expect(d.commands.map((c) => c.method)).to.deep.equal(['setpoint']);
      await expectEvents(s.api, s.admin, dev.id, rpcId, ['QUEUED', 'SENT', 'QUEUED', 'SENT', 'DELIVERED', 'SUCCESSFUL']);
    });
    await Promise.all(runs);
  });
});
