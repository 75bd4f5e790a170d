// Server-side and client-side RPC end to end: REST calls (v1 and v2) answered by a real MQTT
// device through the queues and the shipped root chain (spec/rpc.md §2, §15 S1–S5, S9, S10),
// the persistent RPC endpoints, and the beyond-ThingsBoard items visible from outside (#4, #6).
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import mqtt, { type MqttClient } from 'mqtt';
import { startRpcSystem, TOKEN_A, TOKEN_B, type RpcSystem } from './rpc-system.js';

const RELATED_CHAIN = fileURLToPath(new URL('../../../rule-chains/device_to_related_device.json', import.meta.url));

async function device(port: number, token: string): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { username: token, reconnectPeriod: 0, connectTimeout: 5000 });
}

/**
 * Subscribes to commands; answers each with `answer(method, params)` (undefined: stays silent),
 * after `delayMs` (MQTT.js acknowledges a command only after its 'message' handlers ran, so an
 * immediate reply overtakes the PUBACK).
 */
async function commandsTo(client: MqttClient, answer: (method: string, params: unknown) => string | undefined, delayMs = 0): Promise<{ topic: string; payload: string }[]> {
  const got: { topic: string; payload: string }[] = [];
  client.on('message', (topic, payload) => {
    if (!topic.startsWith('v1/devices/me/rpc/request/')) return;
    got.push({ topic, payload: payload.toString() });
    const { method, params } = JSON.parse(payload.toString()) as { method: string; params: unknown };
    const reply = answer(method, params);
    if (reply === undefined) return;
    const send = () => void client.publishAsync(topic.replace('/request/', '/response/'), reply, { qos: 1 });
    if (delayMs > 0) setTimeout(send, delayMs);
    else send();
  });
  await client.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });
  return got;
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('RPC end to end: REST, queues, root chain, MQTT device', function () {
  this.timeout(30_000);
  let sys: RpcSystem;
  let admin: string;
  let client: MqttClient | undefined;

  before(async () => {
    sys = await startRpcSystem();
    admin = await sys.login(sys.world.admin);
  });
  after(async () => {
    await sys?.close();
  });
  afterEach(async () => {
    await client?.endAsync(true);
    client = undefined;
  });

  const devA = () => sys.world.deviceA.id.id;

  describe('server-side RPC', () => {
    it('v2 two-way, device online: 200 with the device reply; the device got {"method","params"} (S1)', async () => {
      client = await device(sys.mqttPort, TOKEN_A);
      const got = await commandsTo(client, () => '{"ok":true}');
      const res = await sys.call('POST', `/api/rpc/twoway/${devA()}`, { token: admin, body: { method: 'setGpio', params: { pin: 23, value: 1 } } });
      expect(res.status).to.equal(200);
      expect(res.json).to.deep.equal({ ok: true });
      expect(got).to.have.length(1);
      expect(got[0].topic).to.match(/^v1\/devices\/me\/rpc\/request\/\d+$/);
      expect(JSON.parse(got[0].payload)).to.deep.equal({ method: 'setGpio', params: { pin: 23, value: 1 } });
    });

    it('v1 two-way with a text body: the same, via /api/plugins/rpc', async () => {
      client = await device(sys.mqttPort, TOKEN_A);
      await commandsTo(client, (_m, params) => JSON.stringify(params));
      const res = await sys.call('POST', `/api/plugins/rpc/twoway/${devA()}`, { token: admin, body: '{"method":"echo","params":[1,"two"]}', contentType: 'text/plain' });
      expect(res.status).to.equal(200);
      expect(res.json).to.deep.equal([1, 'two']);
    });

    it('one-way, device online: 200 with an empty body (S4)', async () => {
      client = await device(sys.mqttPort, TOKEN_A);
      const got = await commandsTo(client, () => undefined);
      const res = await sys.call('POST', `/api/rpc/oneway/${devA()}`, { token: admin, body: { method: 'blink', params: {} } });
      expect(res.status).to.equal(200);
      expect(res.text).to.equal('');
      await waitFor('command', () => got.length === 1);
    });

    it('a reply that is not JSON: 406', async () => {
      client = await device(sys.mqttPort, TOKEN_A);
      await commandsTo(client, () => 'ok');
      const res = await sys.call('POST', `/api/rpc/twoway/${devA()}`, { token: admin, body: { method: 'm', params: {} } });
      expect(res.status).to.equal(406);
    });

    it('device offline: v1 409, v2 504, at expiry (S2)', async () => {
      const soon = () => Date.now() + 600;
      const v1 = await sys.call('POST', `/api/plugins/rpc/twoway/${devA()}`, { token: admin, body: { method: 'm', params: {}, expirationTime: soon() } });
      expect(v1.status).to.equal(409);
      expect(v1.text).to.equal('');
      const v2 = await sys.call('POST', `/api/rpc/twoway/${devA()}`, { token: admin, body: { method: 'm', params: {}, expirationTime: soon() } });
      expect(v2.status).to.equal(504);
    });

    it('received but never answered: v1 408 (S3)', async () => {
      client = await device(sys.mqttPort, TOKEN_A);
      await commandsTo(client, () => undefined);
      const res = await sys.call('POST', `/api/plugins/rpc/twoway/${devA()}`, { token: admin, body: { method: 'm', params: {}, expirationTime: Date.now() + 700 } });
      expect(res.status).to.equal(408);
    });

    it('refusals: plain-text 404/403 of the access check, envelopes for body and auth errors (S9, beyond #4)', async () => {
      const body = { method: 'm', params: {} };
      const unknown = await sys.call('POST', '/api/rpc/twoway/0b8f1d5e-1111-4222-8333-944445555666', { token: admin, body });
      expect([unknown.status, unknown.text]).to.deep.equal([404, "Device with requested id wasn't found!"]);
      expect(unknown.contentType).to.match(/^text\/plain/);
      const sys403 = await sys.call('POST', `/api/rpc/twoway/${devA()}`, { token: await sys.login(sys.world.sysadmin), body });
      expect([sys403.status, sys403.text]).to.deep.equal([403, 'System administrator is not allowed to perform this operation!']);
      const foreign = await sys.call('POST', `/api/rpc/twoway/${devA()}`, { token: await sys.login(sys.world.customerUser), body });
      expect([foreign.status, foreign.text]).to.deep.equal([403, "You don't have permission to perform this operation!"]);
      const bad = await sys.call('POST', `/api/rpc/twoway/${devA()}`, { token: admin, body: '{not json' });
      expect(bad.status).to.equal(400);
      expect(bad.json).to.deep.include({ status: 400, message: 'Invalid request body', errorCode: 31 });
      const tooLong = await sys.call('POST', `/api/rpc/twoway/${devA()}`, { token: admin, body: { method: 'm', params: {}, timeout: 600_000 } });
      expect(tooLong.status).to.equal(400);
      expect((tooLong.json as { message: string }).message).to.contain('300000 ms');
      const noAuth = await sys.call('POST', `/api/rpc/twoway/${devA()}`, { body });
      expect(noAuth.json).to.deep.include({ status: 401, errorCode: 10 });
      const badId = await sys.call('POST', '/api/rpc/twoway/not-a-uuid', { token: admin, body });
      expect(badId.status).to.equal(400);
    });
  });

  describe('HTTP device API', () => {
    it('a long poll gets the command, the device posts its reply, the REST caller gets it (S11)', async () => {
      const poll = fetch(`${sys.apiUrl}/api/v1/${TOKEN_A}/rpc?timeout=20000`);
      await new Promise((r) => setTimeout(r, 200));
      const call = sys.call('POST', `/api/rpc/twoway/${devA()}`, { token: admin, body: { method: 'm', params: { a: 1 } } });
      const polled = await poll;
      expect(polled.status).to.equal(200);
      const cmd = (await polled.json()) as { id: number; method: string; params: unknown };
      expect(cmd).to.deep.include({ method: 'm', params: { a: 1 } });
      expect(cmd.id).to.be.a('number');
      const posted = await fetch(`${sys.apiUrl}/api/v1/${TOKEN_A}/rpc/${cmd.id}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"result":"ok"}' });
      expect(posted.status).to.equal(200);
      const res = await call;
      expect([res.status, res.json]).to.deep.equal([200, { result: 'ok' }]);
    });
  });

  describe('persistent RPC', () => {
    it('200 {"rpcId"} at once; the device answers later; the stored RPC goes QUEUED → … → SUCCESSFUL (S5)', async () => {
      const res = await sys.call('POST', `/api/rpc/twoway/${devA()}`, { token: admin, body: { method: 'getState', params: {}, persistent: true, timeout: 60_000 } });
      expect(res.status).to.equal(200);
      const { rpcId } = res.json as { rpcId: string };
      const queued = await sys.call('GET', `/api/rpc/persistent/${rpcId}`, { token: admin });
      expect(queued.json).to.deep.include({ status: 'QUEUED' });
      client = await device(sys.mqttPort, TOKEN_A);
      await commandsTo(client, () => '{"r":1}', 100);
      await waitFor('SUCCESSFUL', async () => ((await sys.call('GET', `/api/rpc/persistent/${rpcId}`, { token: admin })).json as { status: string }).status === 'SUCCESSFUL');
      const done = (await sys.call('GET', `/api/rpc/persistent/${rpcId}`, { token: admin })).json as { response: unknown; id: unknown };
      expect(done.response).to.deep.equal({ r: 1 });
      expect(done.id).to.deep.equal({ entityType: 'RPC', id: rpcId });
      // The events reached the rule engine (the root chain's "Other" branch logs them).
      await waitFor('RPC_SUCCESSFUL event', () => sys.processed.some((m) => m.type === 'RPC_SUCCESSFUL'));
      const types = sys.processed.filter((m) => /^RPC_(QUEUED|SENT|DELIVERED|SUCCESSFUL|TIMEOUT|EXPIRED|FAILED)$/.test(m.type) && (JSON.parse(m.data) as { id?: { id: string } }).id?.id === rpcId).map((m) => m.type);
      expect(types).to.deep.equal(['RPC_QUEUED', 'RPC_SENT', 'RPC_DELIVERED', 'RPC_SUCCESSFUL']);
    });

    it('listing, status filter, DELETED → 400, DELETE (tenant admin only), then 404', async () => {
      const made = await sys.call('POST', `/api/rpc/oneway/${devA()}`, { token: admin, body: { method: 'later', params: {}, persistent: true, timeout: 60_000 } });
      const { rpcId } = made.json as { rpcId: string };
      const page = await sys.call('GET', `/api/rpc/persistent/device/${devA()}?pageSize=10&page=0&rpcStatus=QUEUED&sortProperty=createdTime&sortOrder=DESC`, { token: admin });
      expect(page.status).to.equal(200);
      expect((page.json as { data: { id: { id: string } }[] }).data.map((r) => r.id.id)).to.include(rpcId);
      const deleted = await sys.call('GET', `/api/rpc/persistent/device/${devA()}?pageSize=10&page=0&rpcStatus=DELETED`, { token: admin });
      expect(deleted.status).to.equal(400);
      const bogus = await sys.call('GET', `/api/rpc/persistent/device/${devA()}?pageSize=10&page=0&rpcStatus=queued`, { token: admin });
      expect(bogus.status).to.equal(400);
      const customer = await sys.login(sys.world.customerUser);
      expect((await sys.call('DELETE', `/api/rpc/persistent/${rpcId}`, { token: customer })).json).to.deep.include({ status: 403, errorCode: 20 });
      expect((await sys.call('GET', `/api/rpc/persistent/${rpcId}`, { token: customer })).status).to.equal(403);
      const del = await sys.call('DELETE', `/api/rpc/persistent/${rpcId}`, { token: admin });
      expect([del.status, del.text]).to.deep.equal([200, '']);
      const gone = await sys.call('GET', `/api/rpc/persistent/${rpcId}`, { token: admin });
      expect(gone.status).to.equal(404);
      expect(gone.json).to.deep.include({ message: `Rpc with id [${rpcId}] is not found`, errorCode: 32 });
      await waitFor('RPC_DELETED event', () => sys.processed.some((m) => m.type === 'RPC_DELETED'));
      // Never sent after its deletion.
      client = await device(sys.mqttPort, TOKEN_A);
      const got = await commandsTo(client, () => undefined);
      await new Promise((r) => setTimeout(r, 300));
      expect(got.map((g) => (JSON.parse(g.payload) as { method: string }).method)).to.not.include('later');
    });
  });

  describe('client-side RPC', () => {
    it('getCurrentTime is answered by the root chain (S10)', async () => {
      client = await device(sys.mqttPort, TOKEN_A);
      await client.subscribeAsync('v1/devices/me/rpc/response/+', { qos: 1 });
      const reply = new Promise<{ topic: string; payload: string }>((resolve) => client?.on('message', (topic, p) => resolve({ topic, payload: p.toString() })));
      const before = Date.now();
      await client.publishAsync('v1/devices/me/rpc/request/7', '{"method":"getCurrentTime","params":{}}', { qos: 1 });
      const got = await reply;
      expect(got.topic).to.equal('v1/devices/me/rpc/response/7');
      expect(Number(got.payload)).to.be.within(before, Date.now());
    });

    it('a method the chain does not answer gets {"error":"no reply from rule chain"} at once (beyond #6)', async () => {
      client = await device(sys.mqttPort, TOKEN_A);
      await client.subscribeAsync('v1/devices/me/rpc/response/+', { qos: 1 });
      const reply = new Promise<{ topic: string; payload: string }>((resolve) => client?.on('message', (topic, p) => resolve({ topic, payload: p.toString() })));
      const t0 = Date.now();
      await client.publishAsync('v1/devices/me/rpc/request/8', '{"method":"unknownMethod","params":{}}', { qos: 1 });
      const got = await reply;
      expect(got.topic).to.equal('v1/devices/me/rpc/response/8');
      expect(JSON.parse(got.payload)).to.deep.equal({ error: 'no reply from rule chain' });
      expect(Date.now() - t0).to.be.below(5000);
    });
  });
  describe('device to related device (§9, shipped chain device_to_related_device.json)', () => {
    it('A asks, the device A uses answers, A gets the answer; without a related device A gets the error', async () => {
      const tenantId = sys.world.tenant.id.id;
      const chain = await sys.chains.importChain(tenantId, JSON.parse(await readFile(RELATED_CHAIN, 'utf8')) as unknown);
      const profile = await sys.store.deviceProfiles.create(tenantId, { name: 'controller', defaultRuleChainId: chain.id.id });
      const controller = await sys.store.devices.create(tenantId, { name: 'Controller C', type: 'controller', deviceProfileId: profile.id.id });
      await sys.store.credentials.save(tenantId, controller.id.id, 'RPC_E2E_CONTROLLER');
      const a = await device(sys.mqttPort, 'RPC_E2E_CONTROLLER');
      const b = await device(sys.mqttPort, TOKEN_B);
      try {
        await a.subscribeAsync('v1/devices/me/rpc/response/+', { qos: 1 });
        const replies: { topic: string; payload: string }[] = [];
        a.on('message', (topic, p) => replies.push({ topic, payload: p.toString() }));

        // No related device yet: the chain's Failure branch answers A.
        await a.publishAsync('v1/devices/me/rpc/request/1', '{"method":"getTemperature","params":{}}', { qos: 1 });
        await waitFor('error reply', () => replies.length === 1);
        expect(replies[0].topic).to.equal('v1/devices/me/rpc/response/1');
        expect((JSON.parse(replies[0].payload) as { error: string }).error).to.match(/^no related device/);

        await sys.store.relations.save(tenantId, { from: controller.id, to: sys.world.deviceB.id, type: 'Uses' });
        const toB = await commandsTo(b, (method) => (method === 'getTemperature' ? '{"temperature":25}' : undefined), 50);
        await a.publishAsync('v1/devices/me/rpc/request/2', '{"method":"getTemperature","params":{}}', { qos: 1 });
        await waitFor('B\'s answer at A', () => replies.length === 2);
        expect(toB).to.have.length(1);
        expect(replies[1]).to.deep.equal({ topic: 'v1/devices/me/rpc/response/2', payload: '{"temperature":25}' });
        // The original message ended long before B answered: no "no reply" error came in between.
        await new Promise((r) => setTimeout(r, 200));
        expect(replies).to.have.length(2);
      } finally {
        await a.endAsync(true);
        await b.endAsync(true);
      }
    });
  });
});
