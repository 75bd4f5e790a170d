// A device speaking MQTT over a plain socket with mqtt-packet, so that a scenario decides every
// acknowledgement: whether a command is PUBACKed (a device that stops acknowledging), when a
// publish counts as acknowledged (its PUBACK), and what happens when the connection goes.
import { connect, type Socket } from 'node:net';
import { generate, parser as mqttParser, type IPublishPacket, type Packet, type QoS } from 'mqtt-packet';

export interface MqttDeviceOptions {
  readonly host?: string;
  readonly port: number;
  readonly token: string;
  /** 4 = MQTT 3.1.1 (default), 5 = MQTT 5. */
  readonly protocolVersion?: 4 | 5;
  readonly keepalive?: number;
  readonly connectTimeoutMs?: number;
}

/** The server closed the connection, refused the CONNECT, or did not answer in time. */
export class MqttDeviceError extends Error {
  override readonly name = 'MqttDeviceError';
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}

interface Waiting {
  resolve(reasonCode: number): void;
  reject(e: Error): void;
}

export class RawMqttDevice {
  /** Decides whether a server PUBLISH (QoS 1) gets its PUBACK; default: yes. */
  ackPolicy: (packet: IPublishPacket) => boolean = () => true;
  private readonly listeners: ((packet: IPublishPacket) => void)[] = [];
  private readonly acks = new Map<number, Waiting>();
  private readonly subacks = new Map<number, { resolve(granted: number[]): void; reject(e: Error): void }>();
  private nextId = 1;
  private closedFlag = false;
  readonly closed: Promise<void>;
  /** Server PUBLISH packets received. */
  received = 0;

  private constructor(
    readonly socket: Socket,
    readonly version: 4 | 5,
  ) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.closed.then(() => {
      this.closedFlag = true;
      const err = new MqttDeviceError('connection closed');
      for (const w of this.acks.values()) w.reject(err);
      for (const w of this.subacks.values()) w.reject(err);
      this.acks.clear();
      this.subacks.clear();
    });
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  /** Connects and authenticates; resolves after a successful CONNACK. */
  static connect(opts: MqttDeviceOptions): Promise<RawMqttDevice> {
    const version = opts.protocolVersion ?? 4;
    return new Promise((resolve, reject) => {
      const socket = connect({ host: opts.host ?? '127.0.0.1', port: opts.port, noDelay: true });
      const device = new RawMqttDevice(socket, version);
      let settled = false;
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        reject(e);
      };
      const timer = setTimeout(() => fail(new MqttDeviceError('no CONNACK in time')), opts.connectTimeoutMs ?? 5000);
      socket.on('error', (e) => fail(new MqttDeviceError(`socket: ${e.message}`)));
      void device.closed.then(() => fail(new MqttDeviceError('closed before CONNACK')));
      const parser = mqttParser({ protocolVersion: version });
      parser.on('error', (e: Error) => fail(new MqttDeviceError(`bad packet from the server: ${e.message}`)));
      parser.on('packet', (p: Packet) => {
        if (!settled && p.cmd === 'connack') {
          const code = version === 5 ? (p.reasonCode ?? 0) : (p.returnCode ?? 0);
          if (code !== 0) return fail(new MqttDeviceError(`CONNACK refused: ${code}`, code));
          settled = true;
          clearTimeout(timer);
          resolve(device);
          return;
        }
        device.onPacket(p);
      });
      socket.on('data', (b: Buffer) => parser.parse(b));
      socket.once('connect', () => {
        socket.write(
          generate(
            { cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, clientId: `rel-${opts.token}-${Math.random().toString(36).slice(2, 8)}`, keepalive: opts.keepalive ?? 60, username: opts.token },
            { protocolVersion: version },
          ),
        );
      });
    });
  }

  onPublish(listener: (packet: IPublishPacket) => void): void {
    this.listeners.push(listener);
  }

  private onPacket(p: Packet): void {
    switch (p.cmd) {
      case 'publish': {
        this.received++;
        if (p.qos > 0 && p.messageId !== undefined && this.ackPolicy(p)) this.puback(p.messageId);
        for (const l of this.listeners) l(p);
        return;
      }
      case 'puback': {
        const w = p.messageId !== undefined ? this.acks.get(p.messageId) : undefined;
        if (w && p.messageId !== undefined) {
          this.acks.delete(p.messageId);
          w.resolve(p.reasonCode ?? 0);
        }
        return;
      }
      case 'suback': {
        const w = p.messageId !== undefined ? this.subacks.get(p.messageId) : undefined;
        if (w && p.messageId !== undefined) {
          this.subacks.delete(p.messageId);
          w.resolve(p.granted.map((g) => (typeof g === 'number' ? g : Number((g as { qos?: number }).qos))));
        }
        return;
      }
      default:
        return;
    }
  }

  private id(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = id >= 0xffff ? 1 : id + 1;
      if (!this.acks.has(id) && !this.subacks.has(id)) return id;
    }
  }

  private send(packet: Packet): void {
    if (this.closedFlag || this.socket.destroyed) throw new MqttDeviceError('connection closed');
    this.socket.write(generate(packet, { protocolVersion: this.version }));
  }

  puback(messageId: number): void {
    if (!this.closedFlag && !this.socket.destroyed) this.send({ cmd: 'puback', messageId });
  }

  subscribe(topic: string, qos: QoS = 1): Promise<number[]> {
    const messageId = this.id();
    return new Promise((resolve, reject) => {
      this.subacks.set(messageId, { resolve, reject });
      try {
        this.send({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos }] });
      } catch (e) {
        this.subacks.delete(messageId);
        reject(e as Error);
      }
    });
  }

  /**
   * QoS 0: resolves 0 once written. QoS 1: resolves with the PUBACK's reason code (0 = accepted;
   * MQTT 3.1.1 has no other), rejects when the connection closes first or `timeoutMs` passes.
   */
  publish(topic: string, payload: string | Buffer, qos: 0 | 1 = 1, timeoutMs = 10_000): Promise<number> {
    if (qos === 0) {
      try {
        this.send({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false });
        return Promise.resolve(0);
      } catch (e) {
        return Promise.reject(e as Error);
      }
    }
    const messageId = this.id();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.acks.delete(messageId)) reject(new MqttDeviceError('no PUBACK in time'));
      }, timeoutMs);
      this.acks.set(messageId, {
        resolve: (code) => {
          clearTimeout(timer);
          resolve(code);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      try {
        this.send({ cmd: 'publish', topic, payload, qos: 1, messageId, retain: false, dup: false });
      } catch (e) {
        this.acks.delete(messageId);
        clearTimeout(timer);
        reject(e as Error);
      }
    });
  }

  /** Clean DISCONNECT, then close. */
  async end(): Promise<void> {
    if (!this.closedFlag && !this.socket.destroyed) {
      try {
        this.send({ cmd: 'disconnect' });
      } catch {
        // already gone
      }
      this.socket.end();
    }
    const t = setTimeout(() => this.socket.destroy(), 1000);
    await this.closed;
    clearTimeout(t);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export const RPC_REQUEST_FILTER = 'v1/devices/me/rpc/request/+';
export const RPC_REQUEST_PREFIX = 'v1/devices/me/rpc/request/';
export const RPC_RESPONSE_PREFIX = 'v1/devices/me/rpc/response/';

/** A server command as the device got it. */
export interface Command {
  readonly requestId: number;
  readonly method: string;
  readonly params: unknown;
  readonly packet: IPublishPacket;
}

export function commandOf(p: IPublishPacket): Command | null {
  if (!p.topic.startsWith(RPC_REQUEST_PREFIX)) return null;
  try {
    const body = JSON.parse(p.payload.toString()) as { method: string; params: unknown };
    return { requestId: Number(p.topic.slice(RPC_REQUEST_PREFIX.length)), method: body.method, params: body.params, packet: p };
  } catch {
    return null;
  }
}
