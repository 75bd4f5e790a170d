// The simulator over ThingsBoard's MQTT device API (spec/rpc.md §7.1): user name = access token,
// commands on `…/rpc/request/{id}`, replies and client-side requests on the matching topics.
import { createConnection } from 'node:net';
import { MqttClient, type IClientOptions, type IPublishPacket } from 'mqtt';
import { errorText, parseCommand, type DeviceLink, type LinkHandlers, type LinkSettings } from './link.js';

export type MqttTopicVariant = 'v1' | 'v2';

export interface MqttLinkSettings extends LinkSettings {
  /** 4 = MQTT 3.1.1, 5 = MQTT 5. */
  readonly protocolVersion: 4 | 5;
  readonly topics: MqttTopicVariant;
}

const TOPICS: Readonly<Record<MqttTopicVariant, { request: string; response: string; telemetry: string }>> = {
  v1: { request: 'v1/devices/me/rpc/request/', response: 'v1/devices/me/rpc/response/', telemetry: 'v1/devices/me/telemetry' },
  v2: { request: 'v2/r/req/', response: 'v2/r/res/', telemetry: 'v2/t' },
};

/** CONNACK codes that mean the token itself is refused: reconnecting cannot help. */
const AUTH_REFUSALS = new Set([4, 5, 0x86, 0x87]);

interface Pending {
  readonly resolve: (text: string) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export class MqttLink implements DeviceLink {
  readonly description: string;
  private client: MqttClient | undefined;
  private readonly topics: (typeof TOPICS)[MqttTopicVariant];
  private readonly pending = new Map<number, Pending>();
  private nextRequestId = 1;
  private connectedOnce = false;
  private closing = false;

  constructor(
    private readonly s: MqttLinkSettings,
    private readonly on: LinkHandlers,
  ) {
    this.topics = TOPICS[s.topics];
    this.description = `mqtt://${s.host}:${s.port} (MQTT ${s.protocolVersion === 5 ? '5' : '3.1.1'}, ${s.topics} topics)`;
  }

  start(): Promise<void> {
    const { host, port } = this.s;
    const options: IClientOptions = {
      protocolVersion: this.s.protocolVersion,
      username: this.s.token,
      clientId: `rpc-chains-sim-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
      clean: true,
      keepalive: 60,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
    };
    // Our own stream builder: MQTT.js's TCP one gives no way to set TCP_NODELAY, and small
    // command/reply packets would otherwise wait for Nagle's algorithm. Covers reconnects too.
    const client = new MqttClient(() => createConnection({ host, port, noDelay: true }), options);
    this.client = client;
    if (this.s.noAck) {
      // handleMessage's callback error makes MQTT.js skip the PUBACK of a QoS 1 command, so the
      // server sees the delivery time out (its packet loop goes on regardless of the error).
      client.handleMessage = (packet, done) => done(packet.topic.startsWith(this.topics.request) ? new Error('PUBACK withheld (--no-ack)') : undefined);
    }
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet));
    client.on('disconnect', (packet) => this.on.info(`server sent DISCONNECT${packet.reasonCode !== undefined ? ` (reason 0x${packet.reasonCode.toString(16)})` : ''}`));
    client.on('close', () => {
      if (this.connectedOnce && !this.closing) this.on.info('connection closed; reconnecting');
    });

    return new Promise<void>((resolve, reject) => {
      let settled = false;
      client.on('error', (e: Error & { code?: unknown }) => {
        const refused = typeof e.code === 'number' && AUTH_REFUSALS.has(e.code);
        if (!settled) {
          settled = true;
          client.end(true);
          reject(new Error(`cannot connect to ${this.description}: ${e.message}`));
        } else if (refused) {
          this.on.fatal(new Error(`the server refused the access token: ${e.message}`));
        } else if (!this.closing) {
          this.on.info(`mqtt error: ${e.message}`);
        }
      });
      client.on('connect', () => {
        if (this.connectedOnce) {
          this.on.info('reconnected'); // MQTT.js re-subscribes by itself
          return;
        }
        this.connectedOnce = true;
        client.subscribeAsync({ [`${this.topics.request}+`]: { qos: 1 }, [`${this.topics.response}+`]: { qos: 1 } }).then(
          (grants) => {
            const refused = grants.filter((g) => g.qos >= 0x80).map((g) => g.topic);
            if (settled) return;
            settled = true;
            if (refused.length > 0) {
              client.end(true);
              reject(new Error(`the server refused the subscription to ${refused.join(', ')}`));
            } else resolve();
          },
          (e: unknown) => {
            if (settled) return;
            settled = true;
            client.end(true);
            reject(new Error(`subscribe failed: ${errorText(e)}`));
          },
        );
      });
    });
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const text = payload.toString('utf8');
    if (topic.startsWith(this.topics.request)) {
      const suffix = topic.slice(this.topics.request.length);
      const id = /^\d+$/.test(suffix) ? Number(suffix) : NaN;
      const cmd = parseCommand(text, id);
      if (typeof cmd === 'string') this.on.info(`ignored a command on ${topic} (QoS ${packet.qos}): ${Number.isNaN(id) ? 'the topic has no integer id' : cmd}`);
      else this.on.command(cmd);
      return;
    }
    if (topic.startsWith(this.topics.response)) {
      const id = Number(topic.slice(this.topics.response.length));
      const p = this.pending.get(id);
      if (!p) {
        this.on.info(`a reply for no pending request on ${topic}: ${text}`);
        return;
      }
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.resolve(text);
      return;
    }
    this.on.info(`unexpected publish on ${topic}: ${text}`);
  }

  private get live(): MqttClient {
    if (!this.client || this.closing) throw new Error('the simulator is closed');
    return this.client;
  }

  async reply(id: number, body: string): Promise<void> {
    await this.live.publishAsync(this.topics.response + id, body, { qos: 1 });
  }

  request(method: string, params: unknown): Promise<string> {
    const client = this.live;
    const id = this.nextRequestId++;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no reply to client-side request ${id} (${method}) within ${this.s.requestTimeoutMs} ms`));
      }, this.s.requestTimeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      client.publishAsync(this.topics.request + id, JSON.stringify({ method, params }), { qos: 1 }).catch((e: unknown) => {
        if (!this.pending.delete(id)) return;
        clearTimeout(timer);
        reject(new Error(`client-side request ${id} not sent: ${errorText(e)}`));
      });
    });
  }

  async telemetry(body: string): Promise<void> {
    await this.live.publishAsync(this.topics.telemetry, body, { qos: 1 });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error('the simulator closed before the reply'));
    }
    this.pending.clear();
    const client = this.client;
    if (!client) return;
    // Replies still awaiting PUBACK get a moment; a graceful end() would wait for them forever
    // if the server never answers, so after that the connection is forced shut.
    if (client.connected && Object.keys(client.outgoing).length > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        client.once('outgoingEmpty', () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    await client.endAsync(!client.connected || Object.keys(client.outgoing).length > 0);
  }
}
