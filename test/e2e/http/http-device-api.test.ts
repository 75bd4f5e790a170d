// The HTTP device API over real sockets (fetch), on a real Store and session registry
// (spec/rpc.md §7.2, §8).
import { expect } from 'chai';
import Fastify, { type FastifyInstance } from 'fastify';
import { MsgType } from '../../../src/msg/msg-types.js';
import { httpDeviceApi, type HttpDeviceApiOptions } from '../../../src/transport/http/http-device-api.js';
import type { TransportLimits } from '../../../src/transport/transport-api.js';
import { command, startTransportFixture, TOKEN, TOKEN_B, waitFor, type TransportFixture, type TransportUnderTest } from './transport-fixture.js';

interface Api extends TransportUnderTest {
  readonly app: FastifyInstance;
  readonly url: string;
}

describe('HTTP device API', function () {
  this.timeout(20_000);
  let fx: TransportFixture;
  const apps: FastifyInstance[] = [];

  before(async () => {
    fx = await startTransportFixture();
    const device = { entityType: 'DEVICE' as const, id: fx.deviceId };
    await fx.store.store.attributes.save(device, 'CLIENT_SCOPE', { fw: '1.0.2', uptime: 42 });
    await fx.store.store.attributes.save(device, 'SHARED_SCOPE', { interval: 30, config: { mode: 'eco' } });
  });
  after(() => fx.close());
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
    expect(fx.sessions.size, 'sessions left registered').to.equal(0);
  });

  async function api(limits: Partial<TransportLimits> = {}, opts: Partial<HttpDeviceApiOptions> = {}): Promise<Api> {
    const under = fx.context(limits);
    const app = Fastify();
    await app.register(httpDeviceApi(under.ctx, { sessions: fx.sessions, auth: fx.auth, ...opts }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    apps.push(app);
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return { ...under, app, url: `http://127.0.0.1:${address.port}/api/v1` };
  }

  function post(url: string, body: string | Uint8Array, contentType: string | null = 'application/json', signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = contentType ? { 'content-type': contentType } : {};
    return fetch(url, { method: 'POST', body, headers, signal });
  }

  describe('telemetry', () => {
    it('queues one POST_TELEMETRY_REQUEST per timestamp and answers 200', async () => {
      const { url, engine } = await api();
      const simple = await post(`${url}/${TOKEN}/telemetry`, '{"temperature":25,"on":true}');
      expect(simple.status).to.equal(200);
      expect(await simple.text()).to.equal('');
      const many = await post(`${url}/${TOKEN}/telemetry`, '[{"ts":1000,"values":{"t":1}},{"ts":2000,"values":{"t":2}}]');
      expect(many.status).to.equal(200);
      const msgs = engine.ofType(MsgType.POST_TELEMETRY_REQUEST);
      expect(msgs.map((m) => m.data)).to.deep.equal(['{"temperature":25,"on":true}', '{"t":1}', '{"t":2}']);
      expect(msgs[1]?.metaData).to.include({ ts: '1000', deviceName: 'Thermostat A', deviceType: 'thermostat' });
      expect(msgs[0]?.originator).to.deep.equal({ entityType: 'DEVICE', id: fx.deviceId });
    });

    it('takes JSON under any content type, or none', async () => {
      const { url, engine } = await api();
      expect((await post(`${url}/${TOKEN}/telemetry`, '{"a":1}', 'text/plain')).status).to.equal(200);
      expect((await post(`${url}/${TOKEN}/telemetry`, new TextEncoder().encode('{"b":2}'), null)).status).to.equal(200);
      expect(engine.msgs.map((m) => m.data)).to.deep.equal(['{"a":1}', '{"b":2}']);
    });

    it('401 with an empty body for an unknown token, and nothing queued', async () => {
      const { url, engine } = await api();
      const res = await post(`${url}/NO_SUCH_TOKEN/telemetry`, '{"a":1}');
      expect(res.status).to.equal(401);
      expect(await res.text()).to.equal('');
      expect(engine.msgs).to.have.length(0);
    });

    it('400 naming the problem for malformed JSON, a wrong shape, an empty body', async () => {
      const { url, engine } = await api();
      const broken = await post(`${url}/${TOKEN}/telemetry`, '{"temperature": 25');
      expect(broken.status).to.equal(400);
      expect(await broken.text()).to.match(/^payload is not valid JSON: /);
      const shape = await post(`${url}/${TOKEN}/telemetry`, '[1, 2]');
      expect(shape.status).to.equal(400);
      expect(await shape.text()).to.match(/telemetry must be a JSON object/);
      const empty = await post(`${url}/${TOKEN}/telemetry`, '');
      expect(empty.status).to.equal(400);
      expect(await empty.text()).to.equal('payload is empty');
      expect(engine.msgs).to.have.length(0);
    });

    it('500 when the rule-engine queue does not take the message', async () => {
      const { url, engine } = await api();
      engine.failing = true;
      expect((await post(`${url}/${TOKEN}/telemetry`, '{"a":1}')).status).to.equal(500);
    });

    it('413 above the body limit (50 MiB by default, here lowered)', async () => {
      const { url, engine } = await api({}, { maxBodyBytes: 1024 });
      const res = await post(`${url}/${TOKEN}/telemetry`, JSON.stringify({ blob: 'x'.repeat(2000) }));
      expect(res.status).to.equal(413);
      expect(await res.text()).to.equal('payload too large: at most 1024 bytes');
      expect(engine.msgs).to.have.length(0);
    });
  });

  describe('attributes', () => {
    it('POST queues POST_ATTRIBUTES_REQUEST; a non-object is 400', async () => {
      const { url, engine } = await api();
      expect((await post(`${url}/${TOKEN}/attributes`, '{"fw":"1.0.3"}')).status).to.equal(200);
      const [msg] = engine.ofType(MsgType.POST_ATTRIBUTES_REQUEST);
      expect(msg?.data).to.equal('{"fw":"1.0.3"}');
      const bad = await post(`${url}/${TOKEN}/attributes`, '"fw"');
      expect(bad.status).to.equal(400);
      expect(await bad.text()).to.equal('attributes must be a JSON object');
      expect((await post(`${url}/NO_SUCH_TOKEN/attributes`, '{"a":1}')).status).to.equal(401);
    });

    it('GET answers {"client":{...},"shared":{...}} as ThingsBoard selects them', async () => {
      const { url } = await api();
      const get = async (query: string) => {
        const res = await fetch(`${url}/${TOKEN}/attributes${query}`);
        expect(res.status).to.equal(200);
        expect(res.headers.get('content-type')).to.match(/^application\/json/);
        return res.json() as Promise<unknown>;
      };
      // No keys: everything of both scopes.
      expect(await get('')).to.deep.equal({ client: { fw: '1.0.2', uptime: 42 }, shared: { config: { mode: 'eco' }, interval: 30 } });
      // Keys of one scope only: nothing of the other.
      expect(await get('?clientKeys=fw,missing')).to.deep.equal({ client: { fw: '1.0.2' } });
      expect(await get('?sharedKeys=interval')).to.deep.equal({ shared: { interval: 30 } });
      expect(await get('?clientKeys=uptime&sharedKeys=config')).to.deep.equal({ client: { uptime: 42 }, shared: { config: { mode: 'eco' } } });
      // Nothing found: both scopes left out.
      expect(await get('?clientKeys=nope')).to.deep.equal({});
      expect((await fetch(`${url}/NO_SUCH_TOKEN/attributes`)).status).to.equal(401);
    });
  });

  describe('RPC long poll', () => {
    it('delivers one command as {"id","method","params"} and reports DELIVERED at once', async () => {
      const { url, listener } = await api();
      const poll = fetch(`${url}/${TOKEN}/rpc?timeout=5000`);
      const session = await listener.subscribed();
      expect(session.protocol).to.equal('http');
      expect(session.rpcSubscribed).to.equal(true);
      expect(session.device.deviceId).to.equal(fx.deviceId);
      expect(fx.sessions.local(session.sessionId), 'registered while polling').to.equal(session);
      session.sendRpcRequest(command(3));
      // A SYNC session takes one command: a second one is not sent and not reported.
      session.sendRpcRequest(command(4));
      const res = await poll;
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^application\/json/);
      expect(await res.json()).to.deep.equal({ id: 3, method: 'setGpio', params: { pin: 23, value: 1 } });
      await listener.next((e) => e.kind === 'closed' && e.session === session);
      expect(listener.of(session)).to.deep.equal(['subscribe', 'status:3:DELIVERED', 'closed']);
      expect(session.rpcSubscribed).to.equal(false);
    });

    it('408 with an empty body when no command comes before the timeout', async () => {
      const { url, listener } = await api();
      const started = Date.now();
      const res = await fetch(`${url}/${TOKEN}/rpc?timeout=300`);
      expect(res.status).to.equal(408);
      expect(await res.text()).to.equal('');
      expect(Date.now() - started).to.be.within(280, 3000);
      const session = await listener.subscribed();
      await listener.next((e) => e.kind === 'closed' && e.session === session);
      expect(listener.of(session)).to.deep.equal(['subscribe', 'closed']);
    });

    it('timeout absent or 0 → the default; never longer than maxLongPollMs', async () => {
      const { url } = await api({}, { defaultLongPollMs: 200, maxLongPollMs: 400 });
      for (const query of ['', '?timeout=0']) {
        const started = Date.now();
        expect((await fetch(`${url}/${TOKEN}/rpc${query}`)).status).to.equal(408);
        expect(Date.now() - started).to.be.within(180, 2000);
      }
      const started = Date.now();
      expect((await fetch(`${url}/${TOKEN}/rpc?timeout=60000`)).status).to.equal(408);
      expect(Date.now() - started).to.be.within(380, 3000);
    });

    it('401 for an unknown token, 400 for a timeout that is not a number', async () => {
      const { url, listener } = await api();
      const res = await fetch(`${url}/NO_SUCH_TOKEN/rpc?timeout=100`);
      expect(res.status).to.equal(401);
      expect(await res.text()).to.equal('');
      const bad = await fetch(`${url}/${TOKEN}/rpc?timeout=soon`);
      expect(bad.status).to.equal(400);
      expect(await bad.text()).to.equal('timeout must be a whole number of milliseconds');
      expect(listener.events).to.have.length(0);
    });

    it('a command whose params are not JSON is an RPC error; the poll goes on', async () => {
      const { url, listener } = await api();
      const poll = fetch(`${url}/${TOKEN}/rpc?timeout=5000`);
      const session = await listener.subscribed();
      session.sendRpcRequest(command(7, { params: '{not json' }));
      const error = await listener.next((e) => e.kind === 'error');
      expect(error.requestId).to.equal(7);
      expect(error.text).to.match(/^Failed to convert device RPC command to HTTP msg: params are not JSON/);
      expect(session.rpcSubscribed).to.equal(true);
      session.sendRpcRequest(command(8, { method: 'reboot', params: '' }));
      expect(await (await poll).json()).to.deep.equal({ id: 8, method: 'reboot', params: null });
    });

    it('a client that goes away ends its session', async () => {
      const { url, listener } = await api();
      const abort = new AbortController();
      const poll = fetch(`${url}/${TOKEN}/rpc?timeout=5000`, { signal: abort.signal }).catch((e: Error) => e);
      const session = await listener.subscribed();
      abort.abort();
      expect(await poll).to.be.instanceOf(Error);
      await listener.next((e) => e.kind === 'closed' && e.session === session);
      expect(session.rpcSubscribed).to.equal(false);
      await waitFor(() => fx.sessions.size === 0, 2000, 'the session to be unregistered');
    });

    it('a session closed from outside (registry, shutdown) answers 408', async () => {
      const { url, listener, app } = await api();
      const first = fetch(`${url}/${TOKEN}/rpc?timeout=5000`);
      (await listener.subscribed()).close('a newer session of this device took over');
      expect((await first).status).to.equal(408);
      const second = fetch(`${url}/${TOKEN}/rpc?timeout=60000`);
      await listener.next((e) => e.kind === 'subscribe' && e.session !== listener.events[0]?.session);
      const started = Date.now();
      await app.close();
      expect((await second).status).to.equal(408);
      expect(Date.now() - started).to.be.below(2000);
    });
  });

  describe('attribute-update long poll', () => {
    const updates = (url: string, token = TOKEN, timeout = '5000') => fetch(`${url}/${token}/attributes/updates?timeout=${timeout}`);
    /** Until the poll's session is registered, where SessionRegistry.pushAttributeUpdate finds it. */
    const polling = () => waitFor(() => fx.sessions.localOfDevice(fx.deviceId).length === 1, 3000, 'the long poll to be registered');

    it('answers a shared-attribute change as {"key": value} (200, JSON); the session ends with it', async () => {
      const { url, listener } = await api();
      const poll = updates(url);
      await polling();
      const [session] = fx.sessions.localOfDevice(fx.deviceId);
      expect(session?.protocol).to.equal('http');
      expect(session?.rpcSubscribed, 'an attribute poll takes no commands').to.equal(false);
      await fx.sessions.pushAttributeUpdate(fx.deviceId, { shared: { interval: 60, config: { mode: 'boost' } } });
      const res = await poll;
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^application\/json/);
      expect(await res.json()).to.deep.equal({ interval: 60, config: { mode: 'boost' } });
      await waitFor(() => fx.sessions.size === 0, 2000, 'the session to be unregistered');
      expect(listener.events.filter((e) => e.kind === 'subscribe'), 'no RPC subscription').to.have.length(0);
    });

    it('answers a deletion as {"deleted": [...]}, and both in one update', async () => {
      const { url } = await api();
      const first = updates(url);
      await polling();
      await fx.sessions.pushAttributeUpdate(fx.deviceId, { deleted: ['interval', 'config'] });
      expect(await (await first).json()).to.deep.equal({ deleted: ['interval', 'config'] });
      await waitFor(() => fx.sessions.size === 0, 2000, 'the first poll to end');
      const second = updates(url);
      await polling();
      // An update with nothing in it is not an answer: the poll waits for a real one.
      await fx.sessions.pushAttributeUpdate(fx.deviceId, { shared: {}, deleted: [] });
      await fx.sessions.pushAttributeUpdate(fx.deviceId, { shared: { a: 1 }, deleted: ['b'] });
      expect(await (await second).json()).to.deep.equal({ a: 1, deleted: ['b'] });
    });

    it('408 with an empty body when nothing changes before the timeout; the default and maximum as the RPC poll', async () => {
      const { url } = await api({}, { defaultLongPollMs: 200, maxLongPollMs: 400 });
      const res = await updates(url, TOKEN, '150');
      expect(res.status).to.equal(408);
      expect(await res.text()).to.equal('');
      expect((await fetch(`${url}/${TOKEN}/attributes/updates`)).status).to.equal(408);
      expect((await updates(url, TOKEN, '60000')).status).to.equal(408);
      expect(fx.sessions.size).to.equal(0);
    });

    it('401 for an unknown token, 400 for a timeout that is not a number', async () => {
      const { url, engine } = await api();
      const res = await updates(url, 'NO_SUCH_TOKEN');
      expect(res.status).to.equal(401);
      expect(await res.text()).to.equal('');
      const bad = await updates(url, TOKEN, 'soon');
      expect(bad.status).to.equal(400);
      expect(await bad.text()).to.equal('timeout must be a whole number of milliseconds');
      expect(engine.events, 'no device became present').to.have.length(0);
    });

    it('an update goes to the attribute poll only; a command to the RPC poll only', async () => {
      const { url, listener } = await api();
      const rpcPoll = fetch(`${url}/${TOKEN}/rpc?timeout=5000`);
      const rpcSession = await listener.subscribed();
      const attrPoll = updates(url);
      await waitFor(() => fx.sessions.localOfDevice(fx.deviceId).length === 2, 3000, 'both polls to be registered');
      await fx.sessions.pushAttributeUpdate(fx.deviceId, { shared: { interval: 5 } });
      expect(await (await attrPoll).json()).to.deep.equal({ interval: 5 });
      expect(rpcSession.rpcSubscribed, 'the RPC poll still waits').to.equal(true);
      rpcSession.sendRpcRequest(command(11));
      expect(await (await rpcPoll).json()).to.deep.equal({ id: 11, method: 'setGpio', params: { pin: 23, value: 1 } });
    });

    it('the server closing answers an open attribute poll with 408', async () => {
      const { url, app } = await api();
      const poll = updates(url, TOKEN, '60000');
      await polling();
      await app.close();
      expect((await poll).status).to.equal(408);
    });
  });

  describe('device events', () => {
    const telemetry = (url: string, token = TOKEN) => post(`${url}/${token}/telemetry`, '{"t":1}');

    it('first request → CONNECT_EVENT (queued before the request is answered); more requests within the interval → nothing more', async () => {
      const { url, engine } = await api({}, { activityReportIntervalMs: 60_000 });
      expect((await telemetry(url)).status).to.equal(200);
      expect(engine.eventTypes(fx.deviceId)).to.deep.equal(['CONNECT_EVENT']);
      const [connect] = engine.events;
      expect(connect?.originator).to.deep.equal({ entityType: 'DEVICE', id: fx.deviceId });
      expect(connect?.metaData).to.include({ deviceName: 'Thermostat A', deviceType: 'thermostat' });
      expect(JSON.parse(connect?.data ?? '')).to.include({ active: true });
      for (let i = 0; i < 3; i++) expect((await fetch(`${url}/${TOKEN}/attributes`)).status).to.equal(200);
      expect(engine.eventTypes(fx.deviceId)).to.deep.equal(['CONNECT_EVENT']);
      // Another device is present on its own.
      await telemetry(url, TOKEN_B);
      expect(engine.eventTypes(fx.deviceIdB)).to.deep.equal(['CONNECT_EVENT']);
      // Unknown tokens are nobody.
      await telemetry(url, 'NO_SUCH_TOKEN');
      expect(engine.events).to.have.length(2);
    });

    it('ACTIVITY_EVENT once the interval passed; silence → INACTIVITY_EVENT then DISCONNECT_EVENT; the next request connects again', async () => {
      const { url, engine } = await api({ inactivityTimeoutMs: 600 }, { activityReportIntervalMs: 100 });
      await telemetry(url);
      await new Promise((r) => setTimeout(r, 150));
      await telemetry(url);
      expect(engine.eventTypes(fx.deviceId)).to.deep.equal(['CONNECT_EVENT', 'ACTIVITY_EVENT']);
      await waitFor(() => engine.eventTypes(fx.deviceId).length === 4, 5000, 'INACTIVITY_EVENT and DISCONNECT_EVENT');
      expect(engine.eventTypes(fx.deviceId)).to.deep.equal(['CONNECT_EVENT', 'ACTIVITY_EVENT', 'INACTIVITY_EVENT', 'DISCONNECT_EVENT']);
      const [inactive, disconnect] = engine.events.slice(2);
      expect(JSON.parse(inactive?.data ?? '')).to.include({ active: false });
      expect(JSON.parse(disconnect?.data ?? '')).to.have.property('lastDisconnectTime');
      await telemetry(url);
      expect(engine.eventTypes(fx.deviceId).slice(4)).to.deep.equal(['CONNECT_EVENT']);
    });

    it('an open long poll keeps the device present past inactivityTimeoutMs (reported as activity)', async () => {
      const { url, engine } = await api({ inactivityTimeoutMs: 300 }, { activityReportIntervalMs: 100 });
      const res = await fetch(`${url}/${TOKEN}/rpc?timeout=900`);
      expect(res.status).to.equal(408);
      // Three inactivity timeouts went by while the device waited: waiting was reported as activity.
      const waiting = engine.eventTypes(fx.deviceId);
      expect(waiting[0]).to.equal('CONNECT_EVENT');
      expect(waiting.length).to.be.greaterThan(2);
      expect(new Set(waiting.slice(1))).to.deep.equal(new Set(['ACTIVITY_EVENT']));
      await waitFor(() => engine.eventTypes(fx.deviceId).includes('DISCONNECT_EVENT'), 5000, 'the device to go silent');
      // The poll's end may still be reported as activity; then silence.
      expect(engine.eventTypes(fx.deviceId).slice(waiting.length).filter((t) => t !== 'ACTIVITY_EVENT')).to.deep.equal(['INACTIVITY_EVENT', 'DISCONNECT_EVENT']);
    });

    it('closing the API: DISCONNECT_EVENT for every present device before close() resolves', async () => {
      const { url, engine, app } = await api();
      await telemetry(url);
      await telemetry(url, TOKEN_B);
      await app.close();
      expect(engine.eventTypes(fx.deviceId)).to.deep.equal(['CONNECT_EVENT', 'DISCONNECT_EVENT']);
      expect(engine.eventTypes(fx.deviceIdB)).to.deep.equal(['CONNECT_EVENT', 'DISCONNECT_EVENT']);
    });

    it('an event the queue does not take is dropped; the request is still answered', async () => {
      const { url, engine } = await api();
      engine.failing = true;
      const res = await fetch(`${url}/${TOKEN}/attributes`);
      expect(res.status).to.equal(200);
      expect(engine.events).to.have.length(0);
    });
  });

  describe('RPC reply', () => {
    it('hands the body as text to the RPC service and answers 200, also for a stale id', async () => {
      const { url, listener } = await api();
      const res = await post(`${url}/${TOKEN}/rpc/3`, '{"result":"ok"}');
      expect(res.status).to.equal(200);
      expect(await res.text()).to.equal('');
      const reply = await listener.next((e) => e.kind === 'response');
      expect(reply).to.include({ requestId: 3, text: '{"result":"ok"}' });
      expect(reply.session.device.deviceId).to.equal(fx.deviceId);
      // Arbitrary text is passed on as is (MQTT/HTTP do not validate it).
      expect((await post(`${url}/${TOKEN}/rpc/99`, 'plain words', 'text/plain')).status).to.equal(200);
      expect((await listener.next((e) => e.kind === 'response' && e.requestId === 99)).text).to.equal('plain words');
    });

    it('401 bad token, 400 non-integer id or empty body, 413 above 64 KiB', async () => {
      const { url, listener } = await api();
      expect((await post(`${url}/NO_SUCH_TOKEN/rpc/3`, '{}')).status).to.equal(401);
      const badId = await post(`${url}/${TOKEN}/rpc/three`, '{}');
      expect(badId.status).to.equal(400);
      expect(await badId.text()).to.equal('the request id must be an integer');
      expect((await post(`${url}/${TOKEN}/rpc/3`, '')).status).to.equal(400);
      const big = await post(`${url}/${TOKEN}/rpc/3`, JSON.stringify({ blob: 'x'.repeat(65_536) }));
      expect(big.status).to.equal(413);
      expect(await big.text()).to.equal('payload too large: at most 65536 bytes');
      const atLimit = `"${'x'.repeat(65_534)}"`;
      expect((await post(`${url}/${TOKEN}/rpc/4`, atLimit)).status).to.equal(200);
      expect(listener.events.filter((e) => e.kind === 'response').map((e) => e.requestId)).to.deep.equal([4]);
    });

    it('500 when the RPC service could not hand the reply on (Redis away), so the device posts it again', async () => {
      const { url, listener } = await api();
      listener.responseOutcome = () => Promise.reject(new Error('Redis is away (test)'));
      expect((await post(`${url}/${TOKEN}/rpc/3`, '{"result":"ok"}')).status).to.equal(500);
      listener.responseOutcome = () => Promise.resolve();
      expect((await post(`${url}/${TOKEN}/rpc/3`, '{"result":"ok"}')).status).to.equal(200);
    });
  });

  describe('client-side RPC', () => {
    it('round trip: TO_SERVER_RPC_REQUEST with requestId 0, the chain replies through the session', async () => {
      const { url, engine } = await api();
      engine.answer = (msg) => JSON.stringify({ time: 1631881236974, asked: (JSON.parse(msg.data) as { method: string }).method });
      const res = await post(`${url}/${TOKEN}/rpc`, '{"method":"getCurrentTime","params":{}}');
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^application\/json/);
      expect(await res.json()).to.deep.equal({ time: 1631881236974, asked: 'getCurrentTime' });
      const [msg] = engine.ofType(MsgType.TO_SERVER_RPC_REQUEST);
      expect(JSON.parse(msg?.data ?? '')).to.deep.equal({ method: 'getCurrentTime', params: {} });
      expect(msg?.metaData).to.include({ requestId: '0', serviceId: 'transport-test', deviceName: 'Thermostat A', deviceType: 'thermostat' });
      expect(msg?.metaData.sessionId).to.match(/^[0-9a-f-]{36}$/);
      expect(fx.sessions.local(msg?.metaData.sessionId ?? ''), 'unregistered after the reply').to.equal(undefined);
    });

    it('a reply that is not JSON comes back as text/plain; params missing → null', async () => {
      const { url, engine } = await api();
      engine.answer = () => 'pong';
      const res = await post(`${url}/${TOKEN}/rpc`, '{"method":"ping"}');
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/plain/);
      expect(await res.text()).to.equal('pong');
      expect(engine.msgs[0]?.data).to.equal('{"method":"ping","params":null}');
    });

    it('no reply within clientSideRpcTimeoutMs → 200 {"error":"timeout"}', async () => {
      const { url, engine } = await api({ clientSideRpcTimeoutMs: 300 });
      const started = Date.now();
      const res = await post(`${url}/${TOKEN}/rpc`, '{"method":"getCurrentTime","params":{}}');
      expect(res.status).to.equal(200);
      expect(await res.json()).to.deep.equal({ error: 'timeout' });
      expect(Date.now() - started).to.be.within(280, 3000);
      expect(engine.msgs).to.have.length(1);
    });

    it('400 for malformed JSON or no method, 401 bad token, 413 above 64 KiB, 500 when not queued', async () => {
      const { url, engine } = await api();
      const broken = await post(`${url}/${TOKEN}/rpc`, '{"method":');
      expect(broken.status).to.equal(400);
      expect(await broken.text()).to.match(/^payload is not valid JSON/);
      const noMethod = await post(`${url}/${TOKEN}/rpc`, '{"params":{}}');
      expect(noMethod.status).to.equal(400);
      expect(await noMethod.text()).to.equal('an RPC request needs a "method" string');
      expect((await post(`${url}/NO_SUCH_TOKEN/rpc`, '{"method":"m"}')).status).to.equal(401);
      expect((await post(`${url}/${TOKEN}/rpc`, JSON.stringify({ method: 'm', params: 'x'.repeat(70_000) }))).status).to.equal(413);
      expect(engine.msgs).to.have.length(0);
      engine.failing = true;
      expect((await post(`${url}/${TOKEN}/rpc`, '{"method":"m"}')).status).to.equal(500);
    });
  });

  describe('rate limits', () => {
    it('429 above the device rate', async () => {
      const { url, engine } = await api({ deviceMsgsPerSecond: 2 });
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await post(`${url}/${TOKEN}/telemetry`, `{"n":${i}}`)).status);
      expect(statuses).to.deep.equal([200, 200, 429]);
      expect(engine.msgs).to.have.length(2);
      // Another device of the tenant has its own bucket.
      expect((await post(`${url}/${TOKEN_B}/telemetry`, '{"n":0}')).status).to.equal(200);
      const limited = await fetch(`${url}/${TOKEN}/attributes`);
      expect(limited.status).to.equal(429);
      expect(await limited.text()).to.match(/rate limit/);
    });

    it('429 above the tenant rate, across its devices', async () => {
      const { url } = await api({ tenantMsgsPerSecond: 3 });
      const statuses: number[] = [];
      for (const token of [TOKEN, TOKEN, TOKEN_B, TOKEN_B]) statuses.push((await post(`${url}/${token}/telemetry`, '{"n":1}')).status);
      expect(statuses).to.deep.equal([200, 200, 200, 429]);
    });
  });
});
