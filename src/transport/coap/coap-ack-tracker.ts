// Acknowledgements of confirmable notifications. node-coap retransmits a CON notification until
// it is acknowledged but tells nobody when that happens, so the transport reads the message
// type and id of every datagram on its socket (the first four bytes of the CoAP header,
// RFC 7252 §3) and matches ACK / RST to the notifications it waits for.

export type AckOutcome = 'ACK' | 'RST' | 'TIMEOUT';

const TYPE_ACK = 2;
const TYPE_RST = 3;

interface Waiting {
  readonly timer: NodeJS.Timeout;
  readonly done: (outcome: AckOutcome) => void;
}

export class CoapAckTracker {
  private readonly waiting = new Map<string, Waiting>();

  /** Calls `done` once: on the peer's ACK or RST of `messageId`, or TIMEOUT after `waitMs`. */
  expect(peer: { address: string; port: number }, messageId: number, waitMs: number, done: (outcome: AckOutcome) => void): void {
    const key = keyOf(peer.address, peer.port, messageId);
    this.settle(key, 'TIMEOUT'); // a message id reused before its ack: the older one is lost
    const timer = setTimeout(() => this.settle(key, 'TIMEOUT'), Math.max(0, waitMs));
    this.waiting.set(key, { timer, done });
  }

  /** Every datagram the socket receives. */
  onDatagram(datagram: Buffer, from: { address: string; port: number }): void {
    if (datagram.length < 4 || datagram[0] >> 6 !== 1) return; // not CoAP version 1
    const type = (datagram[0] >> 4) & 0x3;
    if (type !== TYPE_ACK && type !== TYPE_RST) return;
    this.settle(keyOf(from.address, from.port, datagram.readUInt16BE(2)), type === TYPE_ACK ? 'ACK' : 'RST');
  }

  /** Shutdown: nothing more is reported. */
  clear(): void {
    for (const w of this.waiting.values()) clearTimeout(w.timer);
    this.waiting.clear();
  }

  get size(): number {
    return this.waiting.size;
  }

  private settle(key: string, outcome: AckOutcome): void {
    const w = this.waiting.get(key);
    if (!w) return;
    this.waiting.delete(key);
    clearTimeout(w.timer);
    w.done(outcome);
  }
}

function keyOf(address: string, port: number, messageId: number): string {
  return `${address}:${port}/${messageId}`;
}
