// One MQTT connection: the socket, its MQTT codec, the protocol version from CONNECT, and (after
// authentication) the device session. Writes and closes go through here.
//
// The codec is mqtt-packet (MQTT 3.1, 3.1.1 and 5; the parser takes the version from CONNECT)
// driven straight from the socket's 'data' events, as aedes does, rather than through
// mqtt-connection's three stream layers (duplexify, through2, a Writable), which mqtt-connection
// wraps around the same parser: measured with 10 000 connections (scripts/bench/connections.ts)
// they cost 9.5 KB of heap per idle connection (15.8 KB → 6.2 KB) and several objects per packet.
import type { Socket } from 'node:net';
import { generate, parser as mqttParser, writeToStream, type IConnectPacket, type Packet } from 'mqtt-packet';
import { dispatch } from './handlers/index.js';
import { FrameGuard } from './frame-guard.js';
import type { MqttDeviceSession } from './session.js';
import type { MqttServerContext } from './server-context.js';
import { RC } from './reason-codes.js';

/** A device has this long to send CONNECT after the TCP connection opens. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Room for the topic and properties of a PUBLISH on top of the payload limit. */
const HEADER_ALLOWANCE = 8 * 1024;
/** How long a closing connection may take to flush its last packets. */
const CLOSE_GRACE_MS = 1000;

type WriteCallback = (err?: Error | null) => void;

/** Packets held while CONNECT is being processed (ThingsBoard queues up to 100 per device). */
const MAX_EARLY_PACKETS = 100;

export class MqttClient {
  /** 3 (3.1), 4 (3.1.1) or 5, from CONNECT. */
  version = 4;
  /** Generator options: the CONNECT packet (protocol version, the device's maximum packet size). */
  private writeOpts: { protocolVersion: number; properties?: IConnectPacket['properties'] } = { protocolVersion: 4 };
  /** Packets that arrived while paused (during CONNECT, or with too many publishes in flight). */
  private held: Packet[] | undefined;
  /** CONNECT was received (a second one is a protocol error). */
  connectSeen = false;
  session: MqttDeviceSession | null = null;
  closed = false;
  private paused = 0;
  readonly closedPromise: Promise<void>;

  constructor(
    readonly server: MqttServerContext,
    readonly socket: Socket,
    private readonly onGone: (client: MqttClient) => void,
  ) {
    socket.setNoDelay(true);
    socket.setTimeout(CONNECT_TIMEOUT_MS);
    socket.on('timeout', () => this.disconnect(RC.keepAliveTimeout, 'keep-alive timeout'));
    const guard = new FrameGuard(server.ctx.limits.maxPayloadBytes + HEADER_ALLOWANCE, (length) => this.tooLarge(length));
    const parser = mqttParser();
    parser.on('packet', (packet: Packet) => this.onPacket(packet));
    parser.on('error', (err: Error) => {
      this.server.ctx.logger.warn(`mqtt: ${this.who()}: malformed packet: ${err.message}; closing`);
      this.destroy();
    });
    socket.on('data', (chunk: Buffer) => {
      guard.push(chunk);
      if (!this.closed) parser.parse(chunk);
    });
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.once('close', () => this.gone());
  }

  get v5(): boolean {
    return this.version === 5;
  }

  /** Names the device (or the address before CONNECT) in log lines. */
  who(): string {
    const d = this.session?.device;
    return d ? `device "${d.deviceName}" (${d.deviceId})` : `client ${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`;
  }

  /** The CONNECT packet decides the protocol version of everything written after it. */
  setConnect(packet: IConnectPacket): void {
    this.version = packet.protocolVersion ?? 4;
    this.writeOpts = { protocolVersion: this.version, properties: packet.properties };
  }

  /**
   * Writes one packet. With a callback, it runs once the socket has taken the bytes (or with the
   * error): what ThingsBoard's writeAndFlush listener reports as a successful write.
   */
  write(packet: Packet, cb?: WriteCallback): void {
    if (this.closed || this.socket.destroyed) {
      if (cb) queueMicrotask(() => cb(new Error('the connection is closed')));
      return;
    }
    // writeToStream corks the socket until the next tick: the packet's pieces go in one writev.
    if (cb) this.socket.write(generate(packet, this.writeOpts), cb);
    else writeToStream(packet, this.socket, this.writeOpts);
  }

  /**
   * A plain acknowledgement (PUBACK/PUBREC/PUBCOMP, success, no properties: 4 bytes in every
   * version) as one buffer: the hot path of QoS 1 ingest, one write instead of a corked writev.
   */
  writeAck(type: 0x40 | 0x50 | 0x70, messageId: number): void {
    if (this.closed || this.socket.destroyed) return;
    const buf = Buffer.allocUnsafe(4);
    buf[0] = type;
    buf[1] = 2;
    buf.writeUInt16BE(messageId, 2);
    this.socket.write(buf);
  }

  /** Stops handling packets (back-pressure): the socket stops reading, packets already parsed wait. */
  pause(): void {
    if (this.paused++ === 0) {
      this.held ??= [];
      this.socket.pause();
    }
  }

  resume(): void {
    if (this.paused === 0 || --this.paused > 0 || this.closed) return;
    const held = this.held ?? [];
    this.held = undefined;
    for (const p of held) {
      if (this.paused > 0) {
        // A held packet paused us again: keep the rest, in order.
        (this.held ??= []).push(p);
        continue;
      }
      dispatch(this, p);
    }
    if (this.paused === 0) this.socket.resume();
  }

  private onPacket(packet: Packet): void {
    if (this.closed) return;
    if (this.held === undefined) {
      dispatch(this, packet);
      return;
    }
    if (this.held.length >= MAX_EARLY_PACKETS) {
      this.server.ctx.logger.warn(`mqtt: ${this.who()}: more than ${MAX_EARLY_PACKETS} packets waiting; closing`);
      this.destroy();
      return;
    }
    this.held.push(packet);
  }

  /**
   * Ends the connection. MQTT 5 is told why with a DISCONNECT; 3.1.1 has no way to say it, the
   * socket just closes (as ThingsBoard's ctx.close()).
   */
  disconnect(reasonCode: number, reasonString?: string): void {
    if (this.closed) return;
    if (this.v5 && this.session) {
      const properties = reasonString ? { reasonString } : undefined;
      this.write({ cmd: 'disconnect', reasonCode, properties });
    }
    this.end();
  }

  /** Closes after what was written is flushed; destroys if that takes too long. */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private tooLarge(length: number): void {
    this.server.metrics.dropped.tooLarge++;
    this.server.ctx.logger.warn(`mqtt: ${this.who()}: a packet of ${length} bytes is over the limit of ${this.server.ctx.limits.maxPayloadBytes} bytes; closing`);
    this.pause();
    this.disconnect(RC.packetTooLarge, `payload over ${this.server.ctx.limits.maxPayloadBytes} bytes`);
  }

  private gone(): void {
    this.closed = true;
    const session = this.session;
    this.session = null;
    session?.onConnectionClosed();
    this.onGone(this);
  }
}
