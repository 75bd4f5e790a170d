// The simulator over ThingsBoard's CoAP device API (spec/rpc.md §7.3): a confirmable Observe
// registration on `/api/v1/{token}/rpc` brings the commands as notifications; replies are
// `POST /api/v1/{token}/rpc/{id}`, client-side requests `POST /api/v1/{token}/rpc`.
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { Agent, ObserveReadStream, type CoapRequestParams, type IncomingMessage } from 'coap';
import { errorText, parseCommand, type DeviceLink, type LinkHandlers, type LinkSettings } from './link.js';

const REGISTER_TIMEOUT_MS = 10_000;
const RETRY_MS = 1000;

/** A CoAP response code `c.dd` → its class (2 = success, 4 = client error, 5 = server error). */
const codeClass = (code: string): number => Number(code.split('.')[0]);

export class CoapLink implements DeviceLink {
  readonly description: string;
  // Our own UDP socket under a private agent: node-coap closes its own sockets whenever no
  // request is open (and throws closing one twice), which races with our shutdown.
  private readonly socket: Socket;
  private readonly agent: Agent;
  /** Open exchanges: close() fails them at once instead of leaving them to their timeouts. */
  private readonly open = new Set<(e: Error) => void>();
  private readonly base: string;
  private observation: ObserveReadStream | undefined;
  /** The registration's token: the deregistration must carry the same one. */
  private observeToken: Buffer | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closing = false;

  constructor(
    private readonly s: LinkSettings,
    private readonly on: LinkHandlers,
  ) {
    this.socket = createSocket(isIPv6(s.host) ? 'udp6' : 'udp4');
    this.agent = new Agent({ socket: this.socket });
    this.base = `/api/v1/${s.token}`;
    this.description = `coap://${s.host}:${s.port} (observe, confirmable)`;
  }

  start(): Promise<void> {
    return this.register();
  }

  /** One Observe registration; resolves once the server confirmed it. */
  private register(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = () => {
        settled = true;
        clearTimeout(timer);
        this.open.delete(fail);
      };
      const fail = (e: Error) => {
        if (settled) return;
        settle();
        reject(e);
      };
      this.open.add(fail);
      const token = randomBytes(8);
      const req = this.agent.request({ ...this.target(`/rpc`), method: 'GET', observe: true, token });
      const timer = setTimeout(() => {
        this.agent.abort(req);
        fail(new Error(`no answer from ${this.description} within ${REGISTER_TIMEOUT_MS} ms`));
      }, REGISTER_TIMEOUT_MS);
      req.on('error', (e: Error) => fail(new Error(`observe ${this.description}: ${e.message}`)));
      req.on('timeout', (e: Error) => fail(new Error(`observe ${this.description}: ${e.message}`)));
      req.on('response', (res: IncomingMessage) => {
        if (settled) return;
        if (codeClass(res.code) !== 2 || res.headers.Observe === undefined) {
          const why = res.code === '4.01' || res.code === '4.03' ? 'the server refused the access token' : 'the server did not accept the observation';
          if (res instanceof ObserveReadStream) res.close(false);
          fail(new Error(`${why} (${res.code}${res.payload.length ? `: ${res.payload.toString('utf8')}` : ''})`));
          return;
        }
        settle();
        const stream = res as ObserveReadStream; // an Observe header makes it one (agent.js)
        this.observation = stream;
        this.observeToken = token;
        stream.on('data', (payload: Buffer) => this.onNotification(stream, payload));
        stream.on('close', () => this.onObservationEnd(stream));
        resolve();
      });
      req.end();
    });
  }

  private onNotification(stream: ObserveReadStream, payload: Buffer): void {
    if (codeClass(stream.code) !== 2) {
      // ThingsBoard ends an observation with an error notification (e.g. the device was deleted).
      this.on.info(`the server ended the observation (${stream.code}${payload.length ? `: ${payload.toString('utf8')}` : ''})`);
      stream.close(false);
      return;
    }
    if (payload.length === 0) return; // the registration's own answer carries no command
    const cmd = parseCommand(payload.toString('utf8'));
    if (typeof cmd === 'string') this.on.info(`ignored a notification: ${cmd}`);
    else this.on.command(cmd);
  }

  private onObservationEnd(stream: ObserveReadStream): void {
    if (this.observation !== stream) return;
    this.observation = undefined;
    if (this.closing) return;
    const again = () => {
      this.retryTimer = undefined;
      if (this.closing) return;
      this.register().then(
        () => this.on.info('observing again'),
        (e: unknown) => {
          if (/refused the access token/.test(errorText(e))) this.on.fatal(e as Error);
          else this.retryTimer = setTimeout(again, RETRY_MS);
        },
      );
    };
    this.on.info(`observation ended; registering again`);
    this.retryTimer = setTimeout(again, RETRY_MS);
  }

  private target(path: string): CoapRequestParams {
    return { hostname: this.s.host, port: this.s.port, pathname: this.base + path, confirmable: true };
  }

  private post(path: string, body: string, timeoutMs: number): Promise<IncomingMessage> {
    if (this.closing) return Promise.reject(new Error('the simulator is closed'));
    return this.exchange({ ...this.target(path), method: 'POST', contentFormat: 'application/json' }, Buffer.from(body, 'utf8'), timeoutMs);
  }

  /** One request and its response. */
  private exchange(params: CoapRequestParams, body: Buffer | undefined, timeoutMs: number): Promise<IncomingMessage> {
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = this.agent.request(params);
      const finish = () => {
        clearTimeout(timer);
        this.open.delete(fail);
      };
      const fail = (e: Error) => {
        finish();
        reject(e);
      };
      const timer = setTimeout(() => {
        this.agent.abort(req);
        fail(new Error(`no answer to ${params.method ?? 'GET'} ${params.pathname ?? ''} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.open.add(fail);
      req.on('error', fail);
      req.on('timeout', fail);
      req.on('response', (res: IncomingMessage) => {
        finish();
        resolve(res);
      });
      req.end(body);
    });
  }

  async reply(id: number, body: string): Promise<void> {
    const res = await this.post(`/rpc/${id}`, body, REGISTER_TIMEOUT_MS);
    if (codeClass(res.code) !== 2) throw new Error(`reply to ${id}: ${res.code}${res.payload.length ? ` ${res.payload.toString('utf8')}` : ''}`);
  }

  async request(method: string, params: unknown): Promise<string> {
    const res = await this.post('/rpc', JSON.stringify({ method, params }), this.s.requestTimeoutMs);
    if (codeClass(res.code) !== 2) throw new Error(`client-side request ${method}: ${res.code}${res.payload.length ? ` ${res.payload.toString('utf8')}` : ''}`);
    return res.payload.toString('utf8');
  }

  async telemetry(body: string): Promise<void> {
    const res = await this.post('/telemetry', body, REGISTER_TIMEOUT_MS);
    if (codeClass(res.code) !== 2) throw new Error(`telemetry: ${res.code}`);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearTimeout(this.retryTimer);
    const obs = this.observation;
    this.observation = undefined;
    if (obs && this.observeToken) {
      obs.close(false);
      // Deregister (GET, Observe=1, same token) so the server stops notifying a port that is
      // going away; a server that is gone already must not hold the shutdown up for long.
      await this.exchange({ ...this.target('/rpc'), method: 'GET', observe: 1, token: this.observeToken }, undefined, 1000).catch(() => undefined);
    }
    for (const fail of [...this.open]) fail(new Error('the simulator closed before the answer'));
    // Stops the agent's retransmissions; with our socket it leaves the socket to us.
    this.agent.close();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
