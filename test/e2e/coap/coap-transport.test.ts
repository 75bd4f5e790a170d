// The CoAP device API over real UDP sockets, node-coap as the device (spec/rpc.md §7.3, §8).
import { expect } from 'chai';
import { createSocket, type Socket } from 'node:dgram';
import { Agent, request, type IncomingMessage, type ObserveReadStream } from 'coap';
import { MsgType } from '../../../src/msg/msg-types.js';
import { CoapTransport } from '../../../src/transport/coap/coap-transport.js';
import type { TransportLimits } from '../../../src/transport/transport-api.js';
import { command, startTransportFixture, TOKEN, TOKEN_B, waitFor, type TransportFixture, type TransportUnderTest } from '../http/transport-fixture.js';

interface Coap extends TransportUnderTest {
  readonly transport: CoapTransport;
  readonly port: number;
}

interface Answer {
  readonly code: string;
  readonly text: string;
  readonly contentFormat: unknown;
}

/** An RPC observation as the device sees it. */
interface Observation {
  /** The answer to the observe request. */
  readonly first: Answer;
  /** Notifications after it: code and payload. */
  readonly notes: Answer[];
  readonly res: ObserveReadStream;
}

describe('CoAP transport', function () {
  this.timeout(20_000);
  let fx: TransportFixture;
  const transports: CoapTransport[] = [];
  const sockets: Socket[] = [];

  before(async () => {
    fx = await startTransportFixture();
    const device = { entityType: 'DEVICE' as const, id: fx.deviceId };
    await fx.store.store.attributes.save(device, 'CLIENT_SCOPE', { fw: '1.0.2' });
    await fx.store.store.attributes.save(device, 'SHARED_SCOPE', { interval: 30 });
  });
  after(() => fx.close());
  afterEach(async () => {
    await Promise.all(transports.splice(0).map((t) => t.close()));
    for (const socket of sockets.splice(0)) socket.close();
    await waitFor(() => fx.sessions.size === 0, 2000, 'every session to be unregistered');
  });

  async function coap(limits: Partial<TransportLimits> = {}, timeoutMs?: number): Promise<Coap> {
    const under = fx.context(limits);
    const transport = new CoapTransport(under.ctx, { port: 0, host: '127.0.0.1', sessions: fx.sessions, auth: fx.auth, timeoutMs });
    transports.push(transport);
    const port = await transport.start();
    return { ...under, transport, port };
  }

  /**
   * A device: node-coap's agent on a socket of its own. With the socket given, the agent does not
   * close it when its last request ends (it would before sending an Observe=1 deregistration).
   */
  function agent(socket = createSocket('udp4')): Agent {
    sockets.push(socket);
    return new Agent({ type: 'udp4', socket });
  }

  /** The CoAP message types (0 CON, 1 NON, 2 ACK, 3 RST) of the 2.05 messages a socket receives: the commands. */
  function typesOnWire(socket: Socket): number[] {
    const types: number[] = [];
    socket.on('message', (datagram: Buffer) => {
      if (datagram.length >= 4 && datagram[1] === 0x45) types.push(((datagram[0] ?? 0) >> 4) & 0x3);
    });
    return types;
  }

  /** A device that never acknowledges: node-coap with its empty ACKs dropped at the socket. */
  function deafAgent(): Agent {
    const socket = createSocket('udp4');
    sockets.push(socket);
    const send = socket.send.bind(socket) as (...args: unknown[]) => void;
    (socket as unknown as { send: (...args: unknown[]) => void }).send = (...args: unknown[]) => {
      const [datagram] = args;
      const emptyAck = Buffer.isBuffer(datagram) && datagram.length === 4 && ((datagram[0] ?? 0) >> 4) === 0x6;
      if (!emptyAck) return send(...args);
      const done = args[args.length - 1];
      if (typeof done === 'function') setImmediate(done as () => void);
    };
    return new Agent({ type: 'udp4', socket });
  }

  function call(port: number, method: 'GET' | 'POST' | 'PUT', path: string, payload?: string, opts: { confirmable?: boolean; query?: string; agent?: Agent; observe?: 1 } = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = request({ hostname: '127.0.0.1', port, method, pathname: path, query: opts.query, confirmable: opts.confirmable ?? true, agent: opts.agent ?? agent(), observe: opts.observe });
      req.on('response', (res: IncomingMessage) => resolve({ code: res.code, text: res.payload.toString(), contentFormat: res.headers['Content-Format'] }));
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  function observe(port: number, accessToken: string, opts: { confirmable?: boolean; agent?: Agent; token?: Buffer; feature?: 'rpc' | 'attributes' } = {}): Promise<Observation> {
    return new Promise((resolve, reject) => {
      const req = request({
        hostname: '127.0.0.1',
        port,
        method: 'GET',
        pathname: `/api/v1/${accessToken}/${opts.feature ?? 'rpc'}`,
        observe: true,
        confirmable: opts.confirmable ?? true,
        agent: opts.agent ?? agent(),
        token: opts.token,
      });
      req.on('response', (res: ObserveReadStream) => {
        const observation: Observation = { first: { code: res.code, text: res.payload.toString(), contentFormat: res.headers['Content-Format'] }, notes: [], res };
        let first = true;
        res.on('data', (chunk: Buffer) => {
          if (first) return void (first = false); // the observe response itself
          observation.notes.push({ code: res.code, text: chunk.toString(), contentFormat: res.headers['Content-Format'] });
        });
        resolve(observation);
      });
      req.on('error', reject);
      req.end();
    });
  }

  describe('telemetry and attributes', () => {
    it('POST telemetry → 2.01 and POST_TELEMETRY_REQUEST; NON requests too', async () => {
      const { port, engine } = await coap();
      expect((await call(port, 'POST', `/api/v1/${TOKEN}/telemetry`, '{"temperature":25}')).code).to.equal('2.01');
      expect((await call(port, 'POST', `/api/v1/${TOKEN}/telemetry`, '{"ts":1000,"values":{"t":1}}', { confirmable: false })).code).to.equal('2.01');
      const msgs = engine.ofType(MsgType.POST_TELEMETRY_REQUEST);
      expect(msgs.map((m) => m.data)).to.deep.equal(['{"temperature":25}', '{"t":1}']);
      expect(msgs[1]?.metaData).to.include({ ts: '1000', deviceName: 'Thermostat A' });
    });

    it('4.01 for an unknown token, 4.00 naming the problem for bad or empty payloads', async () => {
      const { port, engine } = await coap();
      expect((await call(port, 'POST', '/api/v1/NO_SUCH_TOKEN/telemetry', '{"a":1}')).code).to.equal('4.01');
      const broken = await call(port, 'POST', `/api/v1/${TOKEN}/telemetry`, '{"a":');
      expect(broken.code).to.equal('4.00');
      expect(broken.text).to.match(/^payload is not valid JSON/);
      const empty = await call(port, 'POST', `/api/v1/${TOKEN}/attributes`);
      expect(empty).to.include({ code: '4.00', text: 'payload is empty' });
      expect((await call(port, 'POST', `/api/v1/${TOKEN}/attributes`, '[1]')).text).to.equal('attributes must be a JSON object');
      expect(engine.msgs).to.have.length(0);
    });

    it('POST attributes → 2.01; GET attributes → 2.05 JSON, 4.04 when none', async () => {
      const { port, engine } = await coap();
      expect((await call(port, 'POST', `/api/v1/${TOKEN}/attributes`, '{"fw":"1.0.3"}')).code).to.equal('2.01');
      expect(engine.ofType(MsgType.POST_ATTRIBUTES_REQUEST)[0]?.data).to.equal('{"fw":"1.0.3"}');
      const all = await call(port, 'GET', `/api/v1/${TOKEN}/attributes`);
      expect(all.code).to.equal('2.05');
      expect(all.contentFormat).to.equal('application/json');
      expect(JSON.parse(all.text)).to.deep.equal({ client: { fw: '1.0.2' }, shared: { interval: 30 } });
      const some = await call(port, 'GET', `/api/v1/${TOKEN}/attributes`, undefined, { query: 'sharedKeys=interval' });
      expect(JSON.parse(some.text)).to.deep.equal({ shared: { interval: 30 } });
      expect((await call(port, 'GET', `/api/v1/${TOKEN}/attributes`, undefined, { query: 'clientKeys=nope' })).code).to.equal('4.04');
      expect((await call(port, 'GET', '/api/v1/NO_SUCH_TOKEN/attributes')).code).to.equal('4.01');
    });

    it('4.13 above maxPayloadBytes; 4.04 outside /api/v1; 4.00 for GET telemetry; 4.05 for PUT', async () => {
      const { port, engine } = await coap({ maxPayloadBytes: 512 });
      const big = await call(port, 'POST', `/api/v1/${TOKEN}/telemetry`, JSON.stringify({ blob: 'x'.repeat(600) }));
      expect(big).to.include({ code: '4.13', text: 'payload too large: at most 512 bytes' });
      expect((await call(port, 'POST', `/api/v1/${TOKEN}/telemetry`, JSON.stringify({ blob: 'x'.repeat(400) }))).code).to.equal('2.01');
      expect((await call(port, 'POST', `/other/${TOKEN}/telemetry`, '{}')).code).to.equal('4.04');
      expect((await call(port, 'GET', `/api/v1/${TOKEN}/telemetry`)).code).to.equal('4.00');
      expect((await call(port, 'PUT', `/api/v1/${TOKEN}/telemetry`, '{}')).code).to.equal('4.05');
      expect(engine.msgs).to.have.length(1);
    });

    it('4.13 for a blockwise (Block1) upload above the default 64 KiB', async () => {
      const { port, engine } = await coap();
      const answer = await new Promise<Answer>((resolve, reject) => {
        const req = request({ hostname: '127.0.0.1', port, method: 'POST', pathname: `/api/v1/${TOKEN}/telemetry`, agent: agent() });
        req.setOption('Block1', Buffer.of(0x06)); // 1024-byte blocks
        req.on('response', (res: IncomingMessage) => resolve({ code: res.code, text: res.payload.toString(), contentFormat: undefined }));
        req.on('error', reject);
        req.write(JSON.stringify({ blob: 'x'.repeat(70_000) }));
        req.end();
      });
      expect(answer.code).to.equal('4.13');
      expect(engine.msgs).to.have.length(0);
    });

    it('4.29 above the device rate', async () => {
      const { port } = await coap({ deviceMsgsPerSecond: 1 });
      expect((await call(port, 'POST', `/api/v1/${TOKEN}/telemetry`, '{"n":1}')).code).to.equal('2.01');
      expect((await call(port, 'POST', `/api/v1/${TOKEN}/telemetry`, '{"n":2}')).code).to.equal('4.29');
      expect((await call(port, 'POST', `/api/v1/${TOKEN_B}/telemetry`, '{"n":1}')).code).to.equal('2.01');
    });
  });

  describe('RPC by Observe', () => {
    it('CON: 2.03 first, the command as a CON notification; SENT (persistent) then DELIVERED on the ACK', async () => {
      const { port, listener, transport } = await coap();
      const socket = createSocket('udp4');
      const wire = typesOnWire(socket);
      const device = await observe(port, TOKEN, { agent: agent(socket) });
      expect(device.first.code).to.equal('2.03');
      const session = await listener.subscribed();
      expect(session).to.include({ protocol: 'coap', rpcSubscribed: true });
      expect(fx.sessions.local(session.sessionId)).to.equal(session);
      expect(transport.observationCount).to.equal(1);
      session.sendRpcRequest(command(0, { persistent: true }));
      await waitFor(() => device.notes.length === 1, 3000, 'the notification');
      expect(device.notes[0]).to.deep.equal({ code: '2.05', text: '{"id":0,"method":"setGpio","params":{"pin":23,"value":1}}', contentFormat: 'application/json' });
      await listener.next((e) => e.kind === 'status' && e.status === 'DELIVERED');
      expect(listener.of(session)).to.deep.equal(['subscribe', 'status:0:SENT', 'status:0:DELIVERED']);
      // A lightweight command gets no SENT.
      session.sendRpcRequest(command(1));
      await listener.next((e) => e.kind === 'status' && e.requestId === 1);
      expect(listener.of(session).slice(3)).to.deep.equal(['status:1:DELIVERED']);
      expect(device.notes.map((n) => (JSON.parse(n.text) as { id: number }).id)).to.deep.equal([0, 1]);
      expect(wire, 'message types of the notifications').to.deep.equal([0, 0]);
    });

    it('NON: notifications are NON and DELIVERED is reported once sent', async () => {
      const { port, listener } = await coap();
      const socket = createSocket('udp4');
      const wire = typesOnWire(socket);
      const device = await observe(port, TOKEN, { confirmable: false, agent: agent(socket) });
      expect(device.first.code).to.equal('2.03');
      const session = await listener.subscribed();
      session.sendRpcRequest(command(5, { persistent: true, method: 'reboot', params: '{}' }));
      session.sendRpcRequest(command(6, { method: 'reboot', params: '{}' }));
      await waitFor(() => device.notes.length === 2, 3000, 'the notifications');
      // NON, not the ACK type node-coap itself gives notifications after the first.
      expect(wire, 'message types of the notifications').to.deep.equal([1, 1]);
      expect(JSON.parse(device.notes[0]?.text ?? '')).to.deep.equal({ id: 5, method: 'reboot', params: {} });
      await listener.next((e) => e.kind === 'status' && e.requestId === 6);
      expect(listener.of(session)).to.deep.equal(['subscribe', 'status:5:DELIVERED', 'status:6:DELIVERED']);
    });

    it('CON without an ACK: TIMEOUT after min(COAP timeout, expiration − now)', async () => {
      const { port, listener } = await coap({}, 400);
      const device = await observe(port, TOKEN, { agent: deafAgent() });
      const session = await listener.subscribed();
      // The COAP timeout (400 ms) is the shorter here …
      let sent = performance.now();
      session.sendRpcRequest(command(1, { expirationTime: Date.now() + 10_000 }));
      const first = await listener.next((e) => e.kind === 'status' && e.requestId === 1);
      expect(first.status).to.equal('TIMEOUT');
      expect(first.at - sent).to.be.within(350, 2000);
      // … and here the expiration.
      sent = performance.now();
      session.sendRpcRequest(command(2, { expirationTime: Date.now() + 150, persistent: true }));
      const second = await listener.next((e) => e.kind === 'status' && e.requestId === 2 && e.status === 'TIMEOUT');
      expect(second.at - sent).to.be.within(100, 350);
      expect(listener.of(session)).to.deep.equal(['subscribe', 'status:1:TIMEOUT', 'status:2:SENT', 'status:2:TIMEOUT']);
      // The device did get them (it only never acknowledged).
      await waitFor(() => device.notes.length >= 2, 3000, 'the notifications');
    });

    it('deregistration (Observe=1) ends the subscription and the session', async () => {
      const { port, listener, transport } = await coap();
      const device = await observe(port, TOKEN);
      const session = await listener.subscribed();
      // Only the observer itself (its address, port and token) can deregister.
      expect((await call(port, 'GET', `/api/v1/${TOKEN}/rpc`, undefined, { observe: 1 })).code).to.equal('4.04');
      expect(session.rpcSubscribed).to.equal(true);
      device.res.close(true);
      await listener.next((e) => e.kind === 'closed' && e.session === session);
      expect(listener.of(session)).to.deep.equal(['subscribe', 'unsubscribe', 'closed']);
      expect(session.rpcSubscribed).to.equal(false);
      expect(transport.observationCount).to.equal(0);
      session.sendRpcRequest(command(9));
      await new Promise((r) => setTimeout(r, 100));
      expect(device.notes).to.have.length(0);
    });

    it('a device that forgot the observation resets the notification: TIMEOUT, subscription ended', async () => {
      const { port, listener, transport } = await coap();
      const device = await observe(port, TOKEN);
      const session = await listener.subscribed();
      device.res.close(); // forgets it without telling the server: the next notification gets an RST
      session.sendRpcRequest(command(4));
      await listener.next((e) => e.kind === 'closed' && e.session === session);
      await listener.next((e) => e.kind === 'status' && e.requestId === 4);
      expect(listener.of(session)).to.have.members(['subscribe', 'status:4:TIMEOUT', 'unsubscribe', 'closed']);
      expect(transport.observationCount).to.equal(0);
    });

    it('a newer observation of the device replaces the older one (2.02 to the old)', async () => {
      const { port, listener, transport } = await coap();
      const older = await observe(port, TOKEN);
      const olderSession = await listener.subscribed();
      const newer = await observe(port, TOKEN);
      expect(newer.first.code).to.equal('2.03');
      const newerSession = (await listener.next((e) => e.kind === 'subscribe' && e.session !== olderSession)).session;
      await waitFor(() => older.notes.length === 1, 3000, 'the 2.02 to the older observation');
      expect(older.notes[0]?.code).to.equal('2.02');
      expect(listener.of(olderSession)).to.deep.equal(['subscribe', 'closed']);
      expect(transport.observationCount).to.equal(1);
      newerSession.sendRpcRequest(command(3));
      await waitFor(() => newer.notes.length === 1, 3000, 'the command on the newer observation');
    });

    it('the same observer registering again (same token) takes over without a 2.02', async () => {
      const { port, listener, transport } = await coap();
      const device = agent();
      const first = await observe(port, TOKEN, { agent: device });
      const firstSession = await listener.subscribed();
      const again = await observe(port, TOKEN, { agent: device, token: first.res._packet.token });
      expect(again.first.code).to.equal('2.03');
      const secondSession = (await listener.next((e) => e.kind === 'subscribe' && e.session !== firstSession)).session;
      expect(listener.of(firstSession)).to.deep.equal(['subscribe', 'closed']);
      expect(transport.observationCount).to.equal(1);
      secondSession.sendRpcRequest(command(2));
      await waitFor(() => again.notes.length === 1, 3000, 'the command on the renewed observation');
      expect(first.notes).to.have.length(0);
    });

    it('4.01 for an unknown token; the transport closing ends observations with 5.03', async () => {
      const { port, listener, transport } = await coap();
      expect((await observe(port, 'NO_SUCH_TOKEN')).first.code).to.equal('4.01');
      const device = await observe(port, TOKEN);
      const session = await listener.subscribed();
      await transport.close();
      await waitFor(() => device.notes.length === 1, 3000, 'the last notification');
      expect(device.notes[0]?.code).to.equal('5.03');
      expect(listener.of(session)).to.deep.equal(['subscribe', 'closed']);
    });

    it('closing answers a waiting client-side RPC with 5.03', async () => {
      const { port, engine, transport } = await coap();
      const waiting = call(port, 'POST', `/api/v1/${TOKEN}/rpc`, '{"method":"slow"}');
      await waitFor(() => engine.msgs.length === 1, 3000, 'the request to reach the rule engine');
      await transport.close();
      expect((await waiting).code).to.equal('5.03');
    });
  });

  describe('attribute updates by Observe', () => {
    const observeAttributes = (port: number, token: string, opts: { confirmable?: boolean; agent?: Agent } = {}) => observe(port, token, { ...opts, feature: 'attributes' });
    /** The device's attribute observation, as registered. */
    const attributeSession = () => fx.sessions.localOfDevice(fx.deviceId).find((s) => !s.rpcSubscribed);

    it('CON: 2.05 with the current shared attributes first, then each change and deletion as a CON notification', async () => {
      const { port, transport, listener } = await coap();
      const socket = createSocket('udp4');
      const wire = typesOnWire(socket);
      const device = await observeAttributes(port, TOKEN, { agent: agent(socket) });
      expect(device.first).to.deep.equal({ code: '2.05', text: '{"shared":{"interval":30}}', contentFormat: 'application/json' });
      await waitFor(() => attributeSession() !== undefined, 3000, 'the observation to be registered');
      expect(transport.observationCount).to.equal(1);
      await fx.sessions.pushAttributeUpdate(fx.deviceId, { shared: { interval: 45, mode: 'eco' } });
      await fx.sessions.pushAttributeUpdate(fx.deviceId, { deleted: ['mode'] });
      await waitFor(() => device.notes.length === 2, 3000, 'two notifications');
      expect(device.notes).to.deep.equal([
        { code: '2.05', text: '{"interval":45,"mode":"eco"}', contentFormat: 'application/json' },
        { code: '2.05', text: '{"deleted":["mode"]}', contentFormat: 'application/json' },
      ]);
      expect(wire, 'message types: the piggybacked first response, then CON notifications').to.deep.equal([2, 0, 0]);
      // Not an RPC subscription: the RPC service hears nothing of it.
      expect(listener.events).to.have.length(0);
    });

    it('NON: NON notifications; a device without shared attributes gets {} first', async () => {
      const { port } = await coap();
      const socket = createSocket('udp4');
      const wire = typesOnWire(socket);
      const device = await observeAttributes(port, TOKEN_B, { confirmable: false, agent: agent(socket) });
      expect(device.first).to.include({ code: '2.05', text: '{}' });
      await waitFor(() => fx.sessions.localOfDevice(fx.deviceIdB).length === 1, 3000, 'the observation to be registered');
      await fx.sessions.pushAttributeUpdate(fx.deviceIdB, { shared: { on: true } });
      await waitFor(() => device.notes.length === 1, 3000, 'the notification');
      expect(device.notes[0]?.text).to.equal('{"on":true}');
      expect(wire).to.deep.equal([1, 1]);
    });

    it('deregistration (Observe=1) ends it: 2.02, unregistered, no more notifications', async () => {
      const { port, transport } = await coap();
      const socket = createSocket('udp4');
      const device = await observeAttributes(port, TOKEN, { agent: agent(socket) });
      await waitFor(() => attributeSession() !== undefined, 3000, 'the observation to be registered');
      // Only the observer itself can deregister.
      expect((await call(port, 'GET', `/api/v1/${TOKEN}/attributes`, undefined, { observe: 1 })).code).to.equal('4.04');
      device.res.close(true);
      await waitFor(() => transport.observationCount === 0 && fx.sessions.size === 0, 3000, 'the observation to end');
      await fx.sessions.pushAttributeUpdate(fx.deviceId, { shared: { interval: 1 } });
      await new Promise((r) => setTimeout(r, 100));
      expect(device.notes).to.have.length(0);
    });

    it('a device that forgot the observation resets the next notification: the observation ends', async () => {
      const { port, transport } = await coap();
      const device = await observeAttributes(port, TOKEN);
      await waitFor(() => attributeSession() !== undefined, 3000, 'the observation to be registered');
      device.res.close(); // without telling the server: the next notification gets an RST
      await fx.sessions.pushAttributeUpdate(fx.deviceId, { shared: { interval: 2 } });
      await waitFor(() => transport.observationCount === 0 && fx.sessions.size === 0, 3000, 'the observation to end');
    });

    it('an RPC and an attribute observation live side by side, each taking only its own', async () => {
      const { port, transport, listener } = await coap();
      const rpc = await observe(port, TOKEN);
      const attributes = await observeAttributes(port, TOKEN);
      expect(transport.observationCount).to.equal(2);
      const rpcSession = await listener.subscribed();
      await waitFor(() => fx.sessions.localOfDevice(fx.deviceId).length === 2, 3000, 'both to be registered');
      await fx.sessions.pushAttributeUpdate(fx.deviceId, { shared: { interval: 3 } });
      rpcSession.sendRpcRequest(command(1));
      await waitFor(() => rpc.notes.length === 1 && attributes.notes.length === 1, 3000, 'one notification each');
      expect(JSON.parse(rpc.notes[0]?.text ?? '')).to.include({ id: 1 });
      expect(attributes.notes[0]?.text).to.equal('{"interval":3}');
    });

    it('4.01 for an unknown token, 4.00 for an Observe value other than 0 or 1; closing ends it with 5.03', async () => {
      const { port, transport } = await coap();
      expect((await observeAttributes(port, 'NO_SUCH_TOKEN')).first.code).to.equal('4.01');
      const odd = await new Promise<string>((resolve, reject) => {
        const req = request({ hostname: '127.0.0.1', port, method: 'GET', pathname: `/api/v1/${TOKEN}/attributes`, agent: agent() });
        req.setOption('Observe', Buffer.of(5));
        req.on('response', (res: IncomingMessage) => resolve(res.code));
        req.on('error', reject);
        req.end();
      });
      expect(odd).to.equal('4.00');
      const device = await observeAttributes(port, TOKEN);
      await transport.close();
      await waitFor(() => device.notes.length === 1, 3000, 'the last notification');
      expect(device.notes[0]?.code).to.equal('5.03');
    });
  });

  describe('device events', () => {
    const telemetry = (port: number, token = TOKEN) => call(port, 'POST', `/api/v1/${token}/telemetry`, '{"t":1}');

    it('first request → CONNECT_EVENT; later ones within the interval → nothing; unknown tokens → nothing', async () => {
      const { port, engine } = await coap();
      expect((await telemetry(port)).code).to.equal('2.01');
      expect(engine.eventTypes(fx.deviceId)).to.deep.equal(['CONNECT_EVENT']);
      expect(JSON.parse(engine.events[0]?.data ?? '')).to.include({ active: true });
      await telemetry(port);
      await call(port, 'GET', `/api/v1/${TOKEN}/attributes`);
      await telemetry(port, 'NO_SUCH_TOKEN');
      expect(engine.events.map((m) => m.type)).to.deep.equal(['CONNECT_EVENT']);
    });

    it('ACTIVITY_EVENT after the interval; silence → INACTIVITY_EVENT then DISCONNECT_EVENT', async () => {
      const under = fx.context({ inactivityTimeoutMs: 600 });
      const transport = new CoapTransport(under.ctx, { port: 0, host: '127.0.0.1', sessions: fx.sessions, auth: fx.auth, activityReportIntervalMs: 100 });
      transports.push(transport);
      const port = await transport.start();
      await telemetry(port);
      await new Promise((r) => setTimeout(r, 150));
      await telemetry(port);
      expect(under.engine.eventTypes(fx.deviceId)).to.deep.equal(['CONNECT_EVENT', 'ACTIVITY_EVENT']);
      await waitFor(() => under.engine.eventTypes(fx.deviceId).length === 4, 5000, 'INACTIVITY_EVENT and DISCONNECT_EVENT');
      expect(under.engine.eventTypes(fx.deviceId)).to.deep.equal(['CONNECT_EVENT', 'ACTIVITY_EVENT', 'INACTIVITY_EVENT', 'DISCONNECT_EVENT']);
    });

    it('an observation keeps the device present (reported as activity); closing disconnects present devices', async () => {
      const under = fx.context({ inactivityTimeoutMs: 300 });
      const transport = new CoapTransport(under.ctx, { port: 0, host: '127.0.0.1', sessions: fx.sessions, auth: fx.auth, activityReportIntervalMs: 100 });
      transports.push(transport);
      const port = await transport.start();
      const socket = createSocket('udp4');
      const device = await observe(port, TOKEN, { agent: agent(socket) });
      await telemetry(port, TOKEN_B);
      // B goes silent and is disconnected; A observes and stays.
      await waitFor(() => under.engine.eventTypes(fx.deviceIdB).includes('DISCONNECT_EVENT'), 5000, 'B to be disconnected');
      await new Promise((r) => setTimeout(r, 300));
      // Waiting is being there: reported as activity every interval, never as inactivity.
      const waiting = under.engine.eventTypes(fx.deviceId);
      expect(waiting[0]).to.equal('CONNECT_EVENT');
      expect(waiting.length).to.be.greaterThan(2);
      expect(new Set(waiting.slice(1))).to.deep.equal(new Set(['ACTIVITY_EVENT']));
      device.res.close(true);
      // The deregistration is answered (the client's CON retransmissions stop) before the server goes.
      await waitFor(() => transport.observationCount === 0, 3000, 'the observation to end');
      await transport.close();
      const all = under.engine.eventTypes(fx.deviceId);
      expect(all.slice(-1)).to.deep.equal(['DISCONNECT_EVENT']);
      expect(all).to.not.include('INACTIVITY_EVENT');
      expect(under.engine.eventTypes(fx.deviceIdB)).to.deep.equal(['CONNECT_EVENT', 'INACTIVITY_EVENT', 'DISCONNECT_EVENT']);
    });
  });

  describe('RPC replies and client-side RPC', () => {
    it('POST rpc/{id} → 5.00 when the RPC service could not hand the reply on (Redis away), so the device posts it again', async () => {
      const { port, listener } = await coap();
      listener.responseOutcome = () => Promise.reject(new Error('Redis is away (test)'));
      expect((await call(port, 'POST', `/api/v1/${TOKEN}/rpc/5`, '{"ok":true}')).code).to.equal('5.00');
      listener.responseOutcome = () => Promise.resolve();
      expect((await call(port, 'POST', `/api/v1/${TOKEN}/rpc/5`, '{"ok":true}')).code).to.equal('2.01');
    });

    it('POST rpc/{id} with a JSON object → 2.01, handed on re-serialized', async () => {
      const { port, listener } = await coap();
      expect((await call(port, 'POST', `/api/v1/${TOKEN}/rpc/5`, '{ "ok" : true }')).code).to.equal('2.01');
      const reply = await listener.next((e) => e.kind === 'response');
      expect(reply).to.include({ requestId: 5, text: '{"ok":true}' });
      expect(reply.session.device.deviceId).to.equal(fx.deviceId);
      expect((await call(port, 'POST', `/api/v1/${TOKEN}/rpc/5`, '"ok"')).text).to.equal('an RPC reply must be a JSON object');
      expect((await call(port, 'POST', `/api/v1/${TOKEN}/rpc/5`, 'ok')).code).to.equal('4.00');
      expect((await call(port, 'POST', `/api/v1/${TOKEN}/rpc/five`, '{}')).code).to.equal('4.00');
      expect((await call(port, 'POST', `/api/v1/NO_SUCH_TOKEN/rpc/5`, '{}')).code).to.equal('4.01');
      expect(listener.events.filter((e) => e.kind === 'response')).to.have.length(1);
    });

    it('a reply on a device with an observation comes through that session', async () => {
      const { port, listener } = await coap();
      await observe(port, TOKEN);
      const session = await listener.subscribed();
      expect((await call(port, 'POST', `/api/v1/${TOKEN}/rpc/0`, '{"done":1}')).code).to.equal('2.01');
      expect((await listener.next((e) => e.kind === 'response')).session).to.equal(session);
    });

    it('client-side RPC: 2.05 with the chain\'s reply; requestId 0 in the metadata', async () => {
      const { port, engine } = await coap();
      engine.answer = () => '{"time":1631881236974}';
      const answer = await call(port, 'POST', `/api/v1/${TOKEN}/rpc`, '{"method":"getCurrentTime","params":{}}');
      expect(answer).to.deep.equal({ code: '2.05', text: '{"time":1631881236974}', contentFormat: 'application/json' });
      const [msg] = engine.ofType(MsgType.TO_SERVER_RPC_REQUEST);
      expect(msg?.metaData).to.include({ requestId: '0', serviceId: 'transport-test' });
      expect(fx.sessions.local(msg?.metaData.sessionId ?? '')).to.equal(undefined);
    });

    it('client-side RPC: {"error":"timeout"} after min(COAP timeout, client-side RPC timeout); 4.00 malformed; 5.00 not queued', async () => {
      const { port, engine } = await coap({ clientSideRpcTimeoutMs: 60_000 }, 300);
      const started = Date.now();
      const answer = await call(port, 'POST', `/api/v1/${TOKEN}/rpc`, '{"method":"slow"}');
      expect(answer).to.include({ code: '2.05', text: '{"error":"timeout"}' });
      expect(Date.now() - started).to.be.within(280, 3000);
      expect((await call(port, 'POST', `/api/v1/${TOKEN}/rpc`, '{"params":1}')).text).to.equal('an RPC request needs a "method" string');
      expect((await call(port, 'POST', `/api/v1/${TOKEN}/rpc`, 'not json')).code).to.equal('4.00');
      engine.failing = true;
      expect((await call(port, 'POST', `/api/v1/${TOKEN}/rpc`, '{"method":"m"}')).code).to.equal('5.00');
    });
  });
});
