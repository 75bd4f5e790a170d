// spec/rpc.md §15: every worked scenario with a REST call (S1–S7, S9, S11; S8 is in
// submit-strategies.test.ts, S10 in client-side-rpc.test.ts) on BOTH v1 (/api/plugins/rpc) and v2
// (/api/rpc), with §2.5's statuses, against the real system: startSystem (REST API, MQTT, CoAP,
// HTTP device API, rule engine, RPC service) on a real redis-server, MQTT.js / fetch as devices, the
// shipped root chain plus a recorder of the RPC_* events (kit.ts).
import { expect } from 'chai';
import {
  expectEvents,
  gatedDevice,
  httpPoll,
  httpReply,
  isRecord,
  mqttDevice,
  noConnectionStatus,
  rpcIdOf,
  rpcPath,
  sleep,
  startScenarioSystem,
  timeoutStatus,
  VERSIONS,
  waitFor,
  waitForStatus,
  type ScenarioSystem,
  type TestDevice,
} from './kit.js';

describe('RPC scenarios S1–S11 on v1 and v2 (spec/rpc.md §15, §2.5)', function () {
  this.timeout(40_000);
  let s: ScenarioSystem;
  const ends: (() => Promise<void>)[] = [];

  before(async () => {
    // retries: the cap is 1 here, so S7 ("retries omitted") ends after one re-send.
    s = await startScenarioSystem({ env: { ACTORS_RPC_MAX_RETRIES: '1' } });
  });
  after(async () => {
    await s?.close();
  });
  afterEach(async () => {
    for (const end of ends.splice(0)) await end().catch(() => undefined);
  });

  const post = (version: 'v1' | 'v2', kind: 'oneway' | 'twoway', device: TestDevice, body: unknown) => s.api.call('POST', rpcPath(version, kind, device.id), { token: s.admin, body });

  async function online(device: TestDevice, opts: Parameters<typeof mqttDevice>[2] = {}) {
    const d = await mqttDevice(s.mqttPort, device.token, opts);
    ends.push(d.end);
    return d;
  }

  for (const v of VERSIONS) {
    describe(`${v}`, () => {
      it(`S1 two-way, device online (QoS 1): 200 with the device's reply; §2.5 406 for a non-JSON reply, 200 empty for an empty one`, async () => {
        const dev = await s.device(`S1 ${v}`);
        const d = await online(dev, { answer: (c) => (c.method === 'setGpio' ? '{"ok":true}' : c.method === 'text' ? 'ok' : '') });
        const res = await post(v, 'twoway', dev, { method: 'setGpio', params: { pin: 23, value: 1 }, timeout: 5000 });
        expect([res.status, res.json]).to.deep.equal([200, { ok: true }]);
        expect(res.contentType).to.match(/^application\/json/);
        expect(d.commands).to.have.length(1);
        expect(d.commands[0]).to.deep.include({ method: 'setGpio', params: { pin: 23, value: 1 }, qos: 1 });
        expect(d.commands[0]?.topic).to.match(/^v1\/devices\/me\/rpc\/request\/\d+$/);
        const notJson = await post(v, 'twoway', dev, { method: 'text', params: {}, timeout: 5000 });
        expect([notJson.status, notJson.text]).to.deep.equal([406, '']);
        const empty = await post(v, 'twoway', dev, { method: 'empty', params: {}, timeout: 5000 });
        expect([empty.status, empty.text]).to.deep.equal([200, '']);
        // Request ids grow per device.
        expect(d.commands.map((c) => c.requestId)).to.deep.equal([0, 1, 2].map((i) => (d.commands[0]?.requestId ?? 0) + i));
      });

      it(`S2 two-way, device offline: ${noConnectionStatus(v)} with an empty body at expiry; a device subscribing within the window gets it and answers`, async () => {
        const dev = await s.device(`S2 ${v}`);
        const t0 = Date.now();
        const res = await post(v, 'twoway', dev, { method: 'm', params: {}, timeout: 1000 });
        const took = Date.now() - t0;
        expect([res.status, res.text]).to.deep.equal([noConnectionStatus(v), '']);
        expect(took).to.be.within(900, 2500);
        // Subscribing 400 ms into a 3 s window: the call goes on as S1.
        const call = post(v, 'twoway', dev, { method: 'later', params: { x: 1 }, timeout: 3000 });
        await sleep(400);
        const d = await online(dev, { answer: () => '{"late":"but fine"}' });
        const answered = await call;
        expect([answered.status, answered.json]).to.deep.equal([200, { late: 'but fine' }]);
        expect(d.commands.map((c) => c.method)).to.deep.equal(['later']);
      });

      it(`S3 two-way, received but never answered: ${timeoutStatus(v)} at expiry; the late reply is dropped`, async () => {
        const dev = await s.device(`S3 ${v}`);
        const d = await online(dev, { answer: (c) => (c.method === 'again' ? '{"n":2}' : undefined) });
        const t0 = Date.now();
        const res = await post(v, 'twoway', dev, { method: 'silent', params: {}, timeout: 1000 });
        expect([res.status, res.text]).to.deep.equal([timeoutStatus(v), '']);
        expect(Date.now() - t0).to.be.within(900, 2500);
        const silent = d.commands.find((c) => c.method === 'silent');
        if (!silent) throw new Error('the device never got the command');
        await d.reply(silent.requestId, '{"n":1}');
        const again = await post(v, 'twoway', dev, { method: 'again', params: {}, timeout: 5000 });
        expect([again.status, again.json]).to.deep.equal([200, { n: 2 }]);
      });

      it(`S4 one-way: online 200 with an empty body right after the publish; offline ${noConnectionStatus(v)} at expiry`, async () => {
        const dev = await s.device(`S4 ${v}`);
        const offline = await post(v, 'oneway', dev, { method: 'blink', params: {}, timeout: 1000 });
        expect([offline.status, offline.text]).to.deep.equal([noConnectionStatus(v), '']);
        // Offline at the call, subscribed 400 ms later: answered when it is sent (§2.5).
        const waiting = post(v, 'oneway', dev, { method: 'wake', params: {}, timeout: 3000 });
        await sleep(400);
        const d = await online(dev);
        const woke = await waiting;
        expect([woke.status, woke.text]).to.deep.equal([200, '']);
        expect(d.commands.map((c) => c.method)).to.deep.equal(['wake']);
        const res = await post(v, 'oneway', dev, { method: 'blink', params: { times: 3 }, timeout: 5000 });
        expect([res.status, res.text]).to.deep.equal([200, '']);
        await waitFor('the command', () => d.commands.length === 2);
        expect(d.commands[1]).to.deep.include({ method: 'blink', params: { times: 3 } });
      });

      it(`already expired on arrival (expirationTime in the past): nobody answers, the REST fallback gives ${timeoutStatus(v)} after ≈1 s; a persistent one is stored EXPIRED`, async () => {
        const dev = await s.device(`expired ${v}`);
        const t0 = Date.now();
        const [light, stored] = await Promise.all([
          post(v, 'twoway', dev, { method: 'm', params: {}, expirationTime: Date.now() - 1000 }),
          post(v, 'twoway', dev, { method: 'p', params: {}, expirationTime: Date.now() - 1000, persistent: true }),
        ]);
        expect([light.status, light.text]).to.deep.equal([timeoutStatus(v), '']);
        expect([stored.status, stored.text]).to.deep.equal([timeoutStatus(v), '']);
        expect(Date.now() - t0).to.be.within(800, 3000);
        const page = await s.api.call('GET', `/api/rpc/persistent/device/${dev.id}?pageSize=10&page=0`, { token: s.admin });
        expect(page.status).to.equal(200);
        const rows = isRecord(page.json) && Array.isArray(page.json.data) ? (page.json.data as unknown[]) : [];
        expect(rows.map((r) => (isRecord(r) ? r.status : null))).to.deep.equal(['EXPIRED']);
        const row = rows[0];
        const rpcId = isRecord(row) && isRecord(row.id) ? String(row.id.id) : '';
        await expectEvents(s.api, s.admin, dev.id, rpcId, ['EXPIRED']);
      });

      it('S5 persistent two-way, offline then online: 200 {"rpcId"} at once, QUEUED → SENT → DELIVERED → SUCCESSFUL (REST and RPC_* events)', async () => {
        const dev = await s.device(`S5 ${v}`);
        const t0 = Date.now();
        const rpcId = rpcIdOf(await post(v, 'twoway', dev, { method: 'getState', params: { all: true }, persistent: true, timeout: 60_000, additionalInfo: { note: 'S5' } }));
        expect(Date.now() - t0).to.be.below(1500);
        const queued = await waitForStatus(s.api, s.admin, rpcId, 'QUEUED');
        expect(queued.json).to.deep.include({ id: { entityType: 'RPC', id: rpcId }, deviceId: { entityType: 'DEVICE', id: dev.id }, additionalInfo: { note: 'S5' } });
        const request = queued.json.request;
        expect(isRecord(request) && request.body).to.deep.equal({ method: 'getState', params: '{"all":true}' });
        await online(dev, { answer: () => '{"r":1}' });
        const done = await waitForStatus(s.api, s.admin, rpcId, 'SUCCESSFUL');
        expect(done.response).to.deep.equal({ r: 1 });
        await expectEvents(s.api, s.admin, dev.id, rpcId, ['QUEUED', 'SENT', 'DELIVERED', 'SUCCESSFUL']);
      });

      it('S5.4 persistent, the device never comes: QUEUED → EXPIRED at the expiration time', async () => {
        const dev = await s.device(`S5.4 ${v}`);
        const rpcId = rpcIdOf(await post(v, 'twoway', dev, { method: 'm', params: {}, persistent: true, timeout: 800 }));
        await waitForStatus(s.api, s.admin, rpcId, 'EXPIRED', 5000);
        await expectEvents(s.api, s.admin, dev.id, rpcId, ['QUEUED', 'EXPIRED']);
      });

      it('S6 persistent one-way to a QoS 0 subscription: QUEUED → DELIVERED, no SENT', async () => {
        const dev = await s.device(`S6 ${v}`);
        const d = await online(dev, { qos: 0 });
        const rpcId = rpcIdOf(await post(v, 'oneway', dev, { method: 'reboot', params: null, persistent: true, timeout: 10_000 }));
        const done = await waitForStatus(s.api, s.admin, rpcId, 'DELIVERED');
        expect(done.response).to.equal(null);
        expect(d.commands).to.have.length(1);
        expect(d.commands[0]).to.deep.include({ method: 'reboot', params: null, qos: 0 });
        await expectEvents(s.api, s.admin, dev.id, rpcId, ['QUEUED', 'DELIVERED']);
      });

      it('S9 refusals: 404/403 plain text from the access check, 400/401/413/500 envelopes', async () => {
        const dev = await s.device(`S9 ${v}`);
        const body = { method: 'm', params: {} };
        const call = (path: string, o: { token?: string; body?: unknown }) => s.api.call('POST', path, { token: o.token, body: o.body });
        const unknown = await call(rpcPath(v, 'twoway', '0b8f1d5e-1111-4222-8333-944445555666'), { token: s.admin, body });
        expect([unknown.status, unknown.text]).to.deep.equal([404, "Device with requested id wasn't found!"]);
        expect(unknown.contentType).to.match(/^text\/plain/);
        const bad = await call(rpcPath(v, 'twoway', dev.id), { token: s.admin, body: '{"method": ' });
        expect(bad.status).to.equal(400);
        expect(bad.json).to.deep.include({ status: 400, message: 'Invalid request body', errorCode: 31 });
        const foreign = await call(rpcPath(v, 'oneway', dev.id), { token: await s.api.login(s.world.customerUserEmail), body });
        expect([foreign.status, foreign.text]).to.deep.equal([403, "You don't have permission to perform this operation!"]);
        const sysadmin = await call(rpcPath(v, 'twoway', dev.id), { token: await s.api.login(s.world.sysadminEmail), body });
        expect([sysadmin.status, sysadmin.text]).to.deep.equal([403, 'System administrator is not allowed to perform this operation!']);
        const noAuth = await call(rpcPath(v, 'twoway', dev.id), { body });
        expect(noAuth.status).to.equal(401);
        expect(noAuth.json).to.deep.include({ status: 401, errorCode: 10 });
        const badId = await call(rpcPath(v, 'twoway', 'not-a-uuid'), { token: s.admin, body });
        expect(badId.status).to.equal(400);
        const noMethod = await call(rpcPath(v, 'twoway', dev.id), { token: s.admin, body: { params: {} } });
        expect(noMethod.status).to.equal(500);
        expect(noMethod.json).to.deep.include({ status: 500, errorCode: 2 });
        const huge = await call(rpcPath(v, 'twoway', dev.id), { token: s.admin, body: JSON.stringify({ method: 'm', params: { blob: 'x'.repeat(16 * 1024 * 1024) } }) });
        expect(huge.status).to.equal(413);
      });

      it('S11 HTTP long poll: the poll gets {"id","method","params"}, the device posts its reply, the REST caller gets it; no command → 408', async () => {
        const dev = await s.device(`S11 ${v}`);
        const idle = await httpPoll(s.api, dev.token, 500);
        expect([idle.status, idle.text]).to.deep.equal([408, '']);
        const poll = httpPoll(s.api, dev.token, 5000);
        await sleep(150);
        const call = post(v, 'twoway', dev, { method: 'readout', params: { ch: [1, 2] }, timeout: 5000 });
        const polled = await poll;
        expect(polled.status).to.equal(200);
        if (!isRecord(polled.json)) throw new Error(`not a command: ${polled.text}`);
        expect(polled.json).to.deep.include({ method: 'readout', params: { ch: [1, 2] } });
        expect(polled.json.id).to.be.a('number');
        const posted = await httpReply(s.api, dev.token, Number(polled.json.id), '{"result":"ok"}');
        expect(posted.status).to.equal(200);
        const res = await call;
        expect([res.status, res.json]).to.deep.equal([200, { result: 'ok' }]);
      });
    });
  }

  it('S7 a device that never PUBACKs (BURST): TIMEOUT → re-send → FAILED with the reason (v2, retries omitted = cap 1; v1, retries 0); a lightweight caller is answered at the last TIMEOUT (beyond #3)', async function () {
    this.timeout(40_000);
    // transport.mqtt.timeout is 10 s in startSystem (no setting reaches MqttTransport's ackTimeoutMs).
    const devs = await Promise.all(['S7 v2 persistent', 'S7 v1 persistent', 'S7 v1 lightweight', 'S7 v2 lightweight'].map((n) => s.device(n)));
    const [p2, p1, l1, l2] = devs as [TestDevice, TestDevice, TestDevice, TestDevice];
    const stuck = await Promise.all(devs.map((d) => gatedDevice(s.mqttPort, d.token, 'never')));
    for (const st of stuck) ends.push(st.end);
    const t0 = Date.now();
    const light1 = post('v1', 'twoway', l1, { method: 'm', params: {}, timeout: 20_000, retries: 0 }).then((r) => ({ r, at: Date.now() - t0 }));
    const light2 = post('v2', 'twoway', l2, { method: 'm', params: {}, timeout: 20_000, retries: 0 }).then((r) => ({ r, at: Date.now() - t0 }));
    const rpc2 = rpcIdOf(await post('v2', 'twoway', p2, { method: 'stuck', params: {}, persistent: true, timeout: 60_000 }));
    const rpc1 = rpcIdOf(await post('v1', 'oneway', p1, { method: 'stuck', params: {}, persistent: true, timeout: 60_000, retries: 0 }));

    const failed1 = await waitForStatus(s.api, s.admin, rpc1, 'FAILED', 14_000);
    expect(failed1.response).to.deep.equal({ error: 'There was a Timeout and all retry attempts have been exhausted. Retry attempts set: 0' });
    await expectEvents(s.api, s.admin, p1.id, rpc1, ['QUEUED', 'SENT', 'FAILED']);
    for (const [{ r, at }, v] of [
      [await light1, 'v1'],
      [await light2, 'v2'],
    ] as const) {
      expect([r.status, r.text], v).to.deep.equal([timeoutStatus(v), '']);
      expect(at, `${v} answered at the delivery timeout, not at expiry (20 s)`).to.be.within(9000, 14_000);
    }

    const failed2 = await waitForStatus(s.api, s.admin, rpc2, 'FAILED', 14_000);
    expect(Date.now() - t0).to.be.within(19_000, 30_000);
    expect(failed2.response).to.deep.equal({ error: 'There was a Timeout and all retry attempts have been exhausted. Retry attempts set: 1' });
    await expectEvents(s.api, s.admin, p2.id, rpc2, ['QUEUED', 'SENT', 'TIMEOUT', 'SENT', 'FAILED']);
    // The re-send went to the same session, with the same request id.
    const got = stuck[0]?.held ?? [];
    expect(got.map((c) => c.method)).to.deep.equal(['stuck', 'stuck']);
    expect(got[1]?.requestId).to.equal(got[0]?.requestId);
  });
});
