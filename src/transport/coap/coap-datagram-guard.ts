// What stands between the UDP socket and node-coap. node-coap answers a datagram it cannot parse,
// and a request it refuses (a bad Block option, Observe on a POST, ...), with 5.00 Internal
// Server Error, and sends those answers to 127.0.0.1:<the sender's port> instead of the sender
// (Server._sendError gives socket.send no address): a remote client could make the server send
// datagrams to local UDP services. So:
// - every datagram is parsed here first; one that does not parse is dropped silently and counted
//   (RFC 7252 §3: an unknown version MUST be ignored; a malformed CON could get an RST, but an
//   answer to what we cannot read is only a reflection vector, and the device sees a lost message);
// - node-coap's refusals of what does parse go to the real sender as 4.xx (4.02 for a bad Block
//   option, RFC 7252 §5.4.1 / RFC 7959; 4.08 for an incomplete Block1 upload; else 4.00), matching
//   the request's message id (piggybacked ACK for a CON) and token, with node-coap's text.
import { randomInt } from 'node:crypto';
import type { Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import type { Server } from 'coap';
import { generate, parse, type ParsedPacket } from 'coap-packet';

export interface CoapDatagramCounts {
  /** Datagrams that did not parse as CoAP: dropped. */
  readonly malformed: number;
  /** Requests node-coap refused, answered 4.xx to their sender. */
  readonly refused: number;
}

/** The fields of a request node-coap passes to _sendError. */
interface RefusedRequest {
  readonly token?: Buffer;
  readonly messageId?: number;
  readonly confirmable?: boolean;
  readonly ack?: boolean;
  readonly reset?: boolean;
}

export class CoapDatagramGuard {
  private malformed = 0;
  private refused = 0;
  /** The datagram node-coap is handling now (it handles one synchronously): some refusals do not name it. */
  private current: { readonly packet: ParsedPacket; readonly from: AddressInfo } | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly logger: { debug(text: string): void },
  ) {}

  get counts(): CoapDatagramCounts {
    return { malformed: this.malformed, refused: this.refused };
  }

  /**
   * Installs on `server` before it listens: node-coap's handler gets only datagrams that parse,
   * after `onDatagram` saw them; its error answers go through refuse().
   */
  install(server: Server, onDatagram: (datagram: Buffer, from: AddressInfo) => void): void {
    const handlerOf = server.handleRequest.bind(server);
    server.handleRequest = () => {
      const handle = handlerOf();
      return (datagram, from) => {
        const packet = this.screen(datagram, from);
        if (!packet) return;
        onDatagram(datagram, from);
        this.current = { packet, from };
        try {
          handle(datagram, from);
        } finally {
          this.current = undefined;
        }
      };
    };
    server._sendError = (payload, rsinfo, packet, code) => this.refuse(payload, rsinfo, packet, code);
  }

  /** The parsed datagram, or null when it is not CoAP (dropped, counted). */
  private screen(datagram: Buffer, from: AddressInfo): ParsedPacket | null {
    try {
      return parse(datagram);
    } catch (e) {
      this.malformed++;
      this.logger.debug(`coap transport: dropped a malformed datagram (${datagram.length} bytes) from ${from.address}:${from.port}: ${(e as Error).message}`);
      return null;
    }
  }

  private refuse(payload: Buffer, to: AddressInfo, packet: RefusedRequest | undefined, code = '5.00'): void {
    const current = this.current;
    const request = packet ?? (current && current.from.address === to.address && current.from.port === to.port ? current.packet : undefined);
    const text = payload.toString();
    // An ACK or RST is never answered (RFC 7252 §4.2); nor what cannot be matched to a request.
    if (!request || request.ack === true || request.reset === true) {
      this.malformed++;
      this.logger.debug(`coap transport: dropped a datagram from ${to.address}:${to.port}: ${text}`);
      return;
    }
    this.refused++;
    const answerCode = code.startsWith('5.') ? refusalCode(text) : code;
    const confirmable = request.confirmable === true;
    let answer: Buffer;
    try {
      answer = generate({
        code: answerCode,
        payload,
        token: request.token,
        // A CON is answered by a piggybacked ACK with its message id; a NON by a NON of our own.
        ack: confirmable,
        messageId: confirmable && request.messageId !== undefined ? request.messageId : randomInt(0, 0x10000),
      });
    } catch (e) {
      this.logger.debug(`coap transport: refusal not encodable: ${(e as Error).message}`);
      return;
    }
    this.logger.debug(`coap transport: ${answerCode} to ${to.address}:${to.port}: ${text}`);
    this.socket.send(answer, to.port, to.address, (e) => {
      if (e) this.logger.debug(`coap transport: refusal not sent: ${e.message}`);
    });
  }
}

/** The 4.xx for node-coap's refusal, by its message. */
function refusalCode(message: string): string {
  if (/block option/i.test(message)) return '4.02';
  if (/byte offset not the next/i.test(message)) return '4.08';
  return '4.00';
}
