// A device's RPC subscription over CoAP: GET /api/v1/{token}/rpc with Observe=0 (spec/rpc.md
// §7.3). Each command goes out as a notification `{"id","method","params"}`, confirmable when the
// GET was. CON: SENT (persistent) once sent, DELIVERED on the device's ACK, TIMEOUT when no ACK
// came within min(COAP timeout, expiration − now). NON: DELIVERED once sent.
import { randomUUID } from 'node:crypto';
import type { ObserveWriteStream } from 'coap';
import { rpcCommandBody } from '../http/rpc-command.js';
import type { AttributeUpdate, DeviceIdentity, DeviceRpcListener, DeviceSession, ToDeviceRpcRequest } from '../transport-api.js';
import type { CoapAckTracker } from './coap-ack-tracker.js';

export interface CoapObservationDeps {
  readonly rpc: DeviceRpcListener;
  readonly acks: CoapAckTracker;
  /** transport.coap.timeout: the longest wait for a CON notification's ACK. */
  readonly ackTimeoutMs: number;
  /** Called once when the observation ends; `byDevice`: deregistered or reset by the device. */
  readonly onEnd: (observation: CoapRpcObservation, byDevice: boolean) => void;
}

type SendFn = ObserveWriteStream['_send'];

export class CoapRpcObservation implements DeviceSession {
  readonly sessionId = randomUUID();
  readonly protocol = 'coap' as const;
  /** Notifications are CON when the observe request was. */
  readonly confirmable: boolean;
  private ended = false;
  private sends = 0;
  private lastMessageId: number | undefined;
  private sendError: Error | undefined;

  constructor(
    readonly device: DeviceIdentity,
    /** peer address:port:token — what a deregistration must match. */
    readonly key: string,
    readonly peer: { readonly address: string; readonly port: number },
    private readonly stream: ObserveWriteStream,
    private readonly deps: CoapObservationDeps,
  ) {
    this.confirmable = stream._request.confirmable === true;
    // node-coap reports a notification it cannot encode (too large) as an 'error' event.
    stream.on('error', (e: Error) => (this.sendError = e));
    // node-coap ends the stream itself on the device's RST, or when retransmissions give up.
    stream.on('finish', () => this.end(true));
    this.tapSend();
  }

  get rpcSubscribed(): boolean {
    return !this.ended;
  }

  /** The answer to the observe request: 2.03 VALID with the first Observe number, as ThingsBoard. */
  accept(): void {
    this.stream.setOption('Content-Format', 'application/json');
    this.notify('2.03', Buffer.alloc(0));
  }

  sendRpcRequest(request: ToDeviceRpcRequest): void {
    if (this.ended) return;
    const { rpc } = this.deps;
    let body: string;
    try {
      body = rpcCommandBody(request);
    } catch {
      queueMicrotask(() => rpc.onRpcError(this, request.requestId, 'Failed to convert device RPC command to CoAP msg'));
      return;
    }
    let messageId: number | undefined;
    try {
      messageId = this.notify('2.05', Buffer.from(body));
    } catch (e) {
      queueMicrotask(() => rpc.onRpcError(this, request.requestId, `Internal error: ${(e as Error).message}`));
      return;
    }
    if (!this.confirmable) {
      queueMicrotask(() => rpc.onRpcDeliveryStatus(this, request.requestId, 'DELIVERED'));
      return;
    }
    if (request.persistent) queueMicrotask(() => rpc.onRpcDeliveryStatus(this, request.requestId, 'SENT'));
    const waitMs = Math.min(this.deps.ackTimeoutMs, request.expirationTime - Date.now());
    // A reset will never be followed by an ACK: reported as TIMEOUT at once rather than at the timer.
    this.deps.acks.expect(this.peer, messageId, waitMs, (outcome) =>
      rpc.onRpcDeliveryStatus(this, request.requestId, outcome === 'ACK' ? 'DELIVERED' : 'TIMEOUT'),
    );
  }

  sendToServerRpcResponse(): void {
    // Client-side RPC replies go to the request's own sync session, not to the observation.
  }

  sendAttributeUpdate(_update: AttributeUpdate): void {
    // Attribute observation is not served over CoAP yet.
  }

  /** Ended from the server side: a last notification tells the device to register again. */
  close(_reason: string): void {
    this.finish('5.03');
  }

  /** The device deregistered (GET with Observe=1): no more notifications. */
  deregister(): void {
    this.finish(undefined, true);
  }

  /** Whether the observe request got its 2.03. */
  get accepted(): boolean {
    return this.sends > 0;
  }

  /** A newer observation of the same device took over: 2.02 DELETED, as ThingsBoard. */
  replace(): void {
    this.finish('2.02');
  }

  /** The same observer registered again (RFC 7641 §4.3.3): the new request takes over silently. */
  supersede(): void {
    this.finish(undefined);
  }

  private finish(lastCode: string | undefined, byDevice = false): void {
    if (this.ended) return;
    if (lastCode) {
      try {
        this.notify(lastCode, Buffer.alloc(0));
      } catch {
        // The device learns of it on its next request instead.
      }
    }
    this.end(byDevice);
    this.stream.end();
  }

  private end(byDevice: boolean): void {
    if (this.ended) return;
    this.ended = true;
    this.deps.onEnd(this, byDevice);
  }

  /** Sends one notification with `code`; returns its message id. */
  private notify(code: string, payload: Buffer): number {
    this.sendError = undefined;
    this.lastMessageId = undefined;
    this.stream.statusCode = code;
    this.stream.write(payload);
    if (this.sendError) throw this.sendError;
    if (this.lastMessageId === undefined) throw new Error('the notification was not sent');
    return this.lastMessageId;
  }

  /**
   * node-coap's stream sends through `_send`; wrapping it gives the message id each notification
   * got (an ACK names only that) and fixes the type of NON notifications, which node-coap marks
   * as ACK after the first one.
   */
  private tapSend(): void {
    const send: SendFn = this.stream._send;
    this.stream._send = (message, packet) => {
      if (this.sends > 0 && packet.confirmable !== true) packet.ack = false;
      this.sends++;
      send(message, packet);
      this.lastMessageId = packet.messageId;
    };
  }
}
