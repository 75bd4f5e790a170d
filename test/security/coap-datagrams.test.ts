// Malformed and refused CoAP datagrams over real UDP sockets (docs/reliability.md, "fuzz: coap"):
// what does not parse is dropped and counted, never answered 5.00; what node-coap refuses is
// answered 4.xx to the sender itself, never to 127.0.0.1 at the sender's port.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { createSocket, Socket, type RemoteInfo } from 'node:dgram';
import { generate, parse, type ParsedPacket } from 'coap-packet';
import { CoapTransport } from '../../src/transport/coap/coap-transport.js';
import { startTransportFixture, TOKEN, type TransportFixture } from '../e2e/http/transport-fixture.js';

interface Received {
  readonly packet: ParsedPacket;
  readonly from: RemoteInfo;
}

/** A raw UDP peer: what it receives, parsed. */
class Peer {
  readonly received: Received[] = [];
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    socket.on('message', (datagram, from) => {
      this.received.push({ packet: parse(datagram), from });
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Bound on `address`; null when this machine cannot bind it. */
  static async bind(address: string, port = 0): Promise<Peer | null> {
    const socket = createSocket('udp4');
    const bound = await new Promise<boolean>((resolve) => {
      socket.once('error', () => resolve(false));
      socket.bind(port, address, () => resolve(true));
    });
    if (!bound) {
      socket.close();
      return null;
    }
    return new Peer(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(datagram: Buffer, port: number): void {
    this.socket.send(datagram, port, '127.0.0.1');
  }

  /** Until `count` datagrams came in. */
  async receive(count: number, timeoutMs = 3000): Promise<Received[]> {
    const until = Date.now() + timeoutMs;
    while (this.received.length < count) {
      if (Date.now() > until) throw new Error(`received ${this.received.length} datagrams, expected ${count}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received;
  }

  close(): void {
    this.socket.close();
  }
}

/** Bytes that coap-packet cannot parse (checked, not assumed). */
function unparseableRandomBytes(): Buffer {
  for (;;) {
    const bytes = randomBytes(48);
    try {
      parse(bytes);
    } catch {
      return bytes;
    }
  }
}

const VERSION_2 = Buffer.from([0x80, 0x01, 0x12, 0x34, 0xff, 0x00]);
/** Version 1, CON, code 0.00 with a token: "Empty messages must be empty". */
const NON_EMPTY_EMPTY = Buffer.from([0x41, 0x00, 0x12, 0x35, 0xaa]);

/** A CON request whose answer needs the device's token: GET attributes with an unknown token → 4.01. */
function unknownTokenGet(messageId: number): Buffer {
  return generate({ code: 'GET', confirmable: true, messageId, token: Buffer.from('c0ffee01', 'hex'), options: [...uriPath('api', 'v1', 'NO_SUCH_TOKEN', 'attributes')] });
}

function uriPath(...segments: string[]): { name: 'Uri-Path'; value: Buffer }[] {
  return segments.map((s) => ({ name: 'Uri-Path' as const, value: Buffer.from(s) }));
}

describe('CoAP transport: malformed and refused datagrams', function () {
  this.timeout(20_000);
  let fx: TransportFixture;
  let transport: CoapTransport;
  let port: number;
  const peers: Peer[] = [];

  before(async () => {
    fx = await startTransportFixture();
  });
  after(() => fx.close());
  beforeEach(async () => {
    transport = new CoapTransport(fx.context().ctx, { port: 0, host: '127.0.0.1', sessions: fx.sessions, auth: fx.auth });
    port = await transport.start();
  });
  afterEach(async () => {
    await transport.close();
    for (const p of peers.splice(0)) p.close();
  });

  async function peer(address = '127.0.0.1', bindPort = 0): Promise<Peer | null> {
    const p = await Peer.bind(address, bindPort);
    if (p) peers.push(p);
    return p;
  }

  it('random bytes and a version-2 datagram get no answer at all (no 5.00), are counted, and the server keeps answering', async () => {
    const device = (await peer()) as Peer;
    device.send(unparseableRandomBytes(), port);
    device.send(VERSION_2, port);
    device.send(NON_EMPTY_EMPTY, port);
    // A good request after them: once its answer is here, an answer to those would be too.
    device.send(unknownTokenGet(0x0102), port);
    const [answer] = await device.receive(1);
    expect(device.received, 'only the good request was answered').to.have.length(1);
    expect(answer?.packet).to.include({ code: '4.01', ack: true, messageId: 0x0102 });
    expect(transport.datagrams).to.deep.equal({ malformed: 3, refused: 0 });
    // And a real device is still served.
    device.send(generate({ code: 'POST', confirmable: true, messageId: 0x0103, token: Buffer.from([1, 2]), options: uriPath('api', 'v1', TOKEN, 'telemetry'), payload: Buffer.from('{"t":1}') }), port);
    const [, created] = await device.receive(2);
    expect(created?.packet).to.include({ code: '2.01', messageId: 0x0103 });
  });

  it('a request node-coap refuses gets a 4.xx to its sender, with its message id and token, not 5.00', async () => {
    const device = (await peer()) as Peer;
    const token = Buffer.from('0a0b0c0d', 'hex');
    // Observe on a POST (node-coap: "Observe can only be present with a GET or a FETCH").
    device.send(generate({ code: 'POST', confirmable: true, messageId: 0x0201, token, options: [{ name: 'Observe', value: Buffer.alloc(0) }, ...uriPath('api', 'v1', TOKEN, 'telemetry')] }), port);
    const [observeOnPost] = await device.receive(1);
    expect(observeOnPost?.packet).to.include({ code: '4.00', ack: true, messageId: 0x0201 });
    expect(observeOnPost?.packet.token.equals(token)).to.equal(true);
    expect(observeOnPost?.packet.payload.toString()).to.equal('Observe can only be present with a GET or a FETCH');
    // A Block1 option four bytes long (at most three): a bad critical option → 4.02, NON answered by NON.
    device.send(generate({ code: 'POST', confirmable: false, messageId: 0x0202, token, options: [...uriPath('api', 'v1', TOKEN, 'telemetry'), { name: 'Block1', value: Buffer.alloc(4) }], payload: Buffer.from('{"t":1}') }), port);
    const [, badBlock] = await device.receive(2);
    expect(badBlock?.packet).to.include({ code: '4.02', ack: false, confirmable: false });
    expect(badBlock?.packet.token.equals(token)).to.equal(true);
    expect(transport.datagrams).to.deep.equal({ malformed: 0, refused: 2 });
  });

  it('answers go to the sender\'s own address, never to 127.0.0.1 at the sender\'s port', async function () {
    // Linux routes all of 127.0.0.0/8 to loopback: a sender on 127.0.0.2 is "another host" here.
    const device = await peer('127.0.0.2');
    if (!device) return this.skip();
    const trap = await peer('127.0.0.1', device.port);
    if (!trap) return this.skip();
    device.send(VERSION_2, port);
    device.send(generate({ code: 'PUT', confirmable: true, messageId: 0x0301, token: Buffer.from([9]), options: [{ name: 'Observe', value: Buffer.alloc(0) }] }), port);
    device.send(unknownTokenGet(0x0302), port);
    const answers = await device.receive(2);
    expect(answers.map((a) => a.packet.code)).to.deep.equal(['4.00', '4.01']);
    expect(answers.every((a) => a.from.port === port)).to.equal(true);
    expect(trap.received, 'datagrams sent to 127.0.0.1 at the sender\'s port').to.have.length(0);
  });

  it('every datagram the server socket sends names its destination address', async () => {
    // The server's real socket, its send calls recorded: node-coap's old error path gave no address.
    const sends: { address: unknown }[] = [];
    const original = Socket.prototype.send;
    const recording = function (this: Socket, ...args: unknown[]) {
      if (this.address().port === port) {
        const offsetForm = typeof args[1] === 'number' && typeof args[2] === 'number';
        sends.push({ address: offsetForm ? args[4] : args[2] });
      }
      return (original as (...a: unknown[]) => void).apply(this, args);
    };
    Socket.prototype.send = recording as typeof Socket.prototype.send;
    try {
      const device = (await peer()) as Peer;
      device.send(VERSION_2, port);
      device.send(generate({ code: 'DELETE', confirmable: true, messageId: 0x0401, options: [{ name: 'Observe', value: Buffer.alloc(0) }] }), port);
      device.send(unknownTokenGet(0x0402), port);
      await device.receive(2);
    } finally {
      Socket.prototype.send = original;
    }
    expect(sends).to.have.length(2);
    expect(sends.every((s) => s.address === '127.0.0.1')).to.equal(true);
  });
});
