// Small device-side servers (MQTT on mqtt-connection, HTTP on node:http, CoAP on the coap
// package) that the simulator connects to over real sockets: each sends commands, records what
// the simulator sends back and answers its client-side requests. Test peers, not transports.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createHttpServer, type IncomingMessage as HttpRequest, type ServerResponse } from 'node:http';
import { createServer as createCoapServer, ObserveWriteStream, type IncomingMessage as CoapRequest, type OutgoingMessage as CoapResponse, type Server as CoapServer } from 'coap';
import { createRequire } from 'node:module';
import type { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { IConnectPacket, IPublishPacket, ISubscribePacket, Packet } from 'mqtt-packet';

/** The little of mqtt-connection (which ships no types) the peer uses: packets in as events, out by write(). */
interface MqttConn extends EventEmitter {
  write(packet: Packet, cb?: (err?: Error | null) => void): boolean;
  destroy(): void;
}
const Connection = createRequire(import.meta.url)('mqtt-connection') as new (duplex: Duplex) => MqttConn;

export async function waitFor<T>(probe: () => T | undefined | null | false, what = 'condition', timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The error `p` rejects with; fails when it resolves. */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

/** Answers a client-side request: the reply's JSON text, or undefined for no answer. */
export type ClientRpcAnswer = (method: string, params: unknown) => string | undefined;

export const currentTimeAnswer: ClientRpcAnswer = (method) => (method === 'getCurrentTime' ? '1700000000000' : JSON.stringify({ error: `unknown ${method}` }));

// ---- MQTT -----------------------------------------------------------------------------------

export interface MqttPeerConnection {
  readonly conn: MqttConn;
  readonly socket: Socket;
  readonly connect: IConnectPacket;
  readonly subscriptions: string[];
  /** PUBLISH packets from the device, in order. */
  readonly publishes: IPublishPacket[];
  /** Message ids of our commands the device acknowledged. */
  readonly pubacks: number[];
  disconnected: boolean;
}

export class MqttPeer {
  readonly connections: MqttPeerConnection[] = [];
  /** CONNACK code for the next CONNECTs (0 = accept). */
  refuseWith = 0;
  answer: ClientRpcAnswer = currentTimeAnswer;
  private readonly server: NetServer;
  private nextMessageId = 1;
  port = 0;

  constructor(readonly token: string) {
    this.server = createNetServer((socket) => this.accept(socket));
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  get last(): MqttPeerConnection {
    const c = this.connections.at(-1);
    if (!c) throw new Error('no connection yet');
    return c;
  }

  private accept(socket: Socket): void {
    const conn = new Connection(socket);
    let state: MqttPeerConnection | undefined;
    conn.on('error', () => conn.destroy());
    conn.on('close', () => {
      if (state) state.disconnected = true;
    });
    conn.on('connect', (p: Packet) => {
      const packet = p as IConnectPacket;
      const v5 = packet.protocolVersion === 5;
      const refused = packet.username !== this.token ? (v5 ? 0x86 : 4) : this.refuseWith;
      conn.write(v5 ? { cmd: 'connack', reasonCode: refused, sessionPresent: false } : { cmd: 'connack', returnCode: refused, sessionPresent: false });
      if (refused !== 0) {
        socket.end();
        return;
      }
      state = { conn, socket, connect: packet, subscriptions: [], publishes: [], pubacks: [], disconnected: false };
      this.connections.push(state);
    });
    conn.on('subscribe', (p: Packet) => {
      const packet = p as ISubscribePacket;
      state?.subscriptions.push(...packet.subscriptions.map((s) => s.topic));
      conn.write({ cmd: 'suback', messageId: packet.messageId, granted: packet.subscriptions.map((s) => Math.min(s.qos, 1)) });
    });
    conn.on('publish', (p: Packet) => {
      const packet = p as IPublishPacket;
      state?.publishes.push(packet);
      if (packet.qos === 1) conn.write({ cmd: 'puback', messageId: packet.messageId });
      // A client-side request: answered on the response topic of the same variant.
      const m = /^(v1\/devices\/me\/rpc|v2\/r)\/(request|req)\/(\d+)$/.exec(packet.topic);
      if (m) {
        const body = JSON.parse(packet.payload.toString()) as { method: string; params: unknown };
        const reply = this.answer(body.method, body.params);
        const base = m[1] === 'v2/r' ? 'v2/r/res/' : 'v1/devices/me/rpc/response/';
        if (reply !== undefined) conn.write({ cmd: 'publish', topic: base + m[3], payload: reply, qos: 0, retain: false, dup: false });
      }
    });
    conn.on('puback', (p: Packet) => {
      if (p.cmd === 'puback' && p.messageId !== undefined) state?.pubacks.push(p.messageId);
    });
    conn.on('pingreq', () => conn.write({ cmd: 'pingresp' }));
    conn.on('disconnect', () => conn.destroy());
  }

  /** Sends command `id` (QoS 1 unless told) on the live connection; returns the MQTT message id. */
  send(id: number, method: string, params: unknown, opts: { qos?: 0 | 1; variant?: 'v1' | 'v2' } = {}): number {
    const c = this.last;
    const topic = (opts.variant === 'v2' ? 'v2/r/req/' : 'v1/devices/me/rpc/request/') + id;
    const messageId = this.nextMessageId++;
    c.conn.write({ cmd: 'publish', topic, payload: JSON.stringify({ method, params }), qos: opts.qos ?? 1, messageId, retain: false, dup: false });
    return messageId;
  }

  /** The device's publishes on `prefix`… of the live connection. */
  published(prefix: string): IPublishPacket[] {
    return this.connections.flatMap((c) => c.publishes.filter((p) => p.topic.startsWith(prefix)));
  }

  /** Sends command `id` and waits for the reply on `…/response/{id}` (parsed). */
  async call(id: number, method: string, params: unknown, variant: 'v1' | 'v2' = 'v1'): Promise<unknown> {
    const topic = (variant === 'v2' ? 'v2/r/res/' : 'v1/devices/me/rpc/response/') + id;
    this.send(id, method, params, { variant });
    const reply = await waitFor(() => this.published(topic)[0], `the reply on ${topic}`);
    return JSON.parse(reply.payload.toString()) as unknown;
  }

  /** Drops every connection, as a crashed server would. */
  dropAll(): void {
    for (const c of this.connections) c.socket.destroy();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ---- HTTP -----------------------------------------------------------------------------------

interface Poll {
  readonly res: ServerResponse;
  readonly timer: NodeJS.Timeout;
  readonly timeout: number;
}

export class HttpPeer {
  /** `timeout` of every poll, in order. */
  readonly polls: number[] = [];
  readonly replies: { id: number; body: string; contentType: string | undefined }[] = [];
  readonly telemetry: string[] = [];
  readonly clientRequests: string[] = [];
  /** Poll requests whose connection went away before an answer. */
  abortedPolls = 0;
  answer: ClientRpcAnswer = currentTimeAnswer;
  private readonly queue: string[] = [];
  private waiting: Poll | undefined;
  private readonly server = createHttpServer((req, res) => this.handle(req, res));
  port = 0;

  constructor(readonly token: string) {}

  /** `port` 0 = a free one; a given one restarts a "server" on the port it had. */
  async start(port = 0): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  get polling(): boolean {
    return this.waiting !== undefined;
  }

  /** Queues command `id`; a waiting poll gets it at once (one command per poll, as ThingsBoard). */
  send(id: number, method: string, params: unknown): void {
    this.queue.push(JSON.stringify({ id, method, params }));
    this.flush();
  }

  async call(id: number, method: string, params: unknown): Promise<unknown> {
    this.send(id, method, params);
    const r = await waitFor(() => this.replies.find((x) => x.id === id), `the reply to ${id}`);
    return JSON.parse(r.body) as unknown;
  }

  private flush(): void {
    const poll = this.waiting;
    const next = this.queue[0];
    if (!poll || next === undefined) return;
    this.queue.shift();
    this.waiting = undefined;
    clearTimeout(poll.timer);
    poll.res.writeHead(200, { 'content-type': 'application/json' }).end(next);
  }

  private handle(req: HttpRequest, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://peer');
    const m = /^\/api\/v1\/([^/]+)\/(rpc|telemetry)(?:\/(\d+))?$/.exec(url.pathname);
    if (!m) return void res.writeHead(404).end();
    if (decodeURIComponent(m[1] ?? '') !== this.token) return void res.writeHead(401).end();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (req.method === 'GET' && m[2] === 'rpc' && m[3] === undefined) {
        const timeout = Number(url.searchParams.get('timeout') ?? '60000');
        this.polls.push(timeout);
        const timer = setTimeout(() => {
          if (this.waiting?.res === res) this.waiting = undefined;
          res.writeHead(408).end();
        }, timeout);
        this.waiting = { res, timer, timeout };
        res.on('close', () => {
          if (this.waiting?.res !== res) return;
          clearTimeout(timer);
          this.waiting = undefined;
          this.abortedPolls++;
        });
        this.flush();
      } else if (req.method === 'POST' && m[2] === 'rpc' && m[3] !== undefined) {
        this.replies.push({ id: Number(m[3]), body, contentType: req.headers['content-type'] });
        res.writeHead(200).end();
      } else if (req.method === 'POST' && m[2] === 'rpc') {
        this.clientRequests.push(body);
        const b = JSON.parse(body) as { method: string; params: unknown };
        const reply = this.answer(b.method, b.params);
        if (reply === undefined) res.writeHead(408).end();
        else res.writeHead(200, { 'content-type': 'application/json' }).end(reply);
      } else if (req.method === 'POST' && m[2] === 'telemetry') {
        this.telemetry.push(body);
        res.writeHead(200).end();
      } else res.writeHead(405).end();
    });
  }

  async close(): Promise<void> {
    if (this.waiting) clearTimeout(this.waiting.timer);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ---- CoAP -----------------------------------------------------------------------------------

export class CoapPeer {
  /** Observe registrations (GET Observe=0): their confirmable flag. */
  readonly registrations: { confirmable: boolean }[] = [];
  readonly deregistrations: number[] = [];
  readonly replies: { id: number; body: string }[] = [];
  readonly telemetry: string[] = [];
  readonly clientRequests: string[] = [];
  answer: ClientRpcAnswer = currentTimeAnswer;
  /** Answer registrations with this code instead (e.g. 4.01). */
  refuseWith: string | undefined;
  private observer: ObserveWriteStream | undefined;
  private sock: UdpSocket | undefined;
  private readonly server: CoapServer = createCoapServer({ type: 'udp4' }, (req, res) => this.handle(req, res));
  port = 0;

  constructor(readonly token: string) {}

  async start(): Promise<number> {
    // Our own bound socket: the coap server does not tell which free port it took.
    const sock: UdpSocket = (this.sock = createSocket('udp4'));
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
    this.port = sock.address().port;
    await new Promise<void>((resolve, reject) => this.server.listen(sock, (e) => (e ? reject(e) : resolve())));
    return this.port;
  }

  get observed(): boolean {
    return this.observer !== undefined;
  }

  /** Notifies the observer with command `id` (a CON notification: the registration was CON). */
  send(id: number, method: string, params: unknown): void {
    if (!this.observer) throw new Error('nobody observes');
    this.observer.write(JSON.stringify({ id, method, params }));
  }

  async call(id: number, method: string, params: unknown): Promise<unknown> {
    this.send(id, method, params);
    const r = await waitFor(() => this.replies.find((x) => x.id === id), `the reply to ${id}`);
    return JSON.parse(r.body) as unknown;
  }

  /** Ends the observation with an error notification, as ThingsBoard does when the session ends. */
  endObservation(code = '4.04'): void {
    const obs = this.observer;
    this.observer = undefined;
    if (!obs) return;
    obs.statusCode = code;
    obs.end(Buffer.alloc(0));
  }

  private handle(req: CoapRequest, res: CoapResponse | ObserveWriteStream): void {
    const m = /^\/api\/v1\/([^/]+)\/(rpc|telemetry)(?:\/(\d+))?$/.exec(req.url.split('?')[0] ?? '');
    const answer = (code: string, body?: string) => {
      res.statusCode = code;
      res.end(body === undefined ? undefined : Buffer.from(body));
    };
    if (!m) return answer('4.04');
    if (m[1] !== this.token) return answer('4.01');
    const body = req.payload.toString('utf8');
    if (req.method === 'GET' && m[2] === 'rpc' && m[3] === undefined) {
      if (res instanceof ObserveWriteStream) {
        if (this.refuseWith) return answer(this.refuseWith);
        this.registrations.push({ confirmable: req._packet.confirmable === true });
        this.observer = res;
        // The registration's answer: 2.03 VALID with an Observe counter and no payload (spec §7.3).
        res.statusCode = '2.03';
        res.write(Buffer.alloc(0));
        res.statusCode = '2.05';
        res.on('finish', () => {
          if (this.observer === res) this.observer = undefined;
        });
        return;
      }
      if (req.headers.Observe === 1) {
        this.deregistrations.push(Date.now());
        this.observer?.end();
        this.observer = undefined;
        return answer('2.05');
      }
      return answer('4.05');
    }
    if (req.method === 'POST' && m[2] === 'rpc' && m[3] !== undefined) {
      this.replies.push({ id: Number(m[3]), body });
      return answer('2.01');
    }
    if (req.method === 'POST' && m[2] === 'rpc') {
      this.clientRequests.push(body);
      const b = JSON.parse(body) as { method: string; params: unknown };
      const reply = this.answer(b.method, b.params);
      return reply === undefined ? undefined : answer('2.05', reply);
    }
    if (req.method === 'POST' && m[2] === 'telemetry') {
      this.telemetry.push(body);
      return answer('2.01');
    }
    return answer('4.05');
  }

  async close(): Promise<void> {
    this.observer?.end();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await new Promise<void>((resolve) => {
      try {
        this.sock?.close(() => resolve());
      } catch {
        resolve(); // the server closed it already
      }
    });
  }
}
