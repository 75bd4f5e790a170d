// One CoAP observation of a device's feature (ThingsBoard's TbCoapObservationState): a GET with
// Observe=0 whose notifications carry what the server pushes (RPC commands, attribute updates).
// This base holds the stream's life: notifications (CON when the observe request was), the end by
// deregistration, the device's RST or a newer observation, and a last notification when the
// server ends it. Subclasses say what is pushed.
import { randomUUID } from 'node:crypto';
import type { ObserveWriteStream } from 'coap';
import type { AttributeUpdate, DeviceIdentity, DeviceSession, ToDeviceRpcRequest } from '../transport-api.js';

export type ObservedFeature = 'rpc' | 'attributes';

export interface CoapObservationEnd {
  /** Called once when the observation ends; `byDevice`: deregistered or reset by the device. */
  readonly onEnd: (observation: CoapObservation, byDevice: boolean) => void;
}

type SendFn = ObserveWriteStream['_send'];

export abstract class CoapObservation implements DeviceSession {
  readonly sessionId = randomUUID();
  readonly protocol = 'coap' as const;
  abstract readonly feature: ObservedFeature;
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
    private readonly end$: CoapObservationEnd,
  ) {
    this.confirmable = stream._request.confirmable === true;
    // node-coap reports a notification it cannot encode (too large) as an 'error' event.
    stream.on('error', (e: Error) => (this.sendError = e));
    // node-coap ends the stream itself on the device's RST, or when retransmissions give up.
    stream.on('finish', () => this.end(true));
    this.tapSend();
    stream.setOption('Content-Format', 'application/json');
  }

  get rpcSubscribed(): boolean {
    return false;
  }

  /** Whether the observation still runs. */
  get active(): boolean {
    return !this.ended;
  }

  /** Whether the observe request got its first response. */
  get accepted(): boolean {
    return this.sends > 0;
  }

  sendRpcRequest(_request: ToDeviceRpcRequest): void {
    // Only the RPC observation takes commands; the RPC service sends them to rpcSubscribed sessions.
  }

  sendToServerRpcResponse(): void {
    // Client-side RPC replies go to the request's own sync session, not to an observation.
  }

  sendAttributeUpdate(_update: AttributeUpdate): void {
    // Only the attribute observation takes updates.
  }

  /** Ended from the server side: a last notification tells the device to register again. */
  close(_reason: string): void {
    this.finish('5.03');
  }

  /** The device deregistered (GET with Observe=1): no more notifications. */
  deregister(): void {
    this.finish(undefined, true);
  }

  /** A newer observation of the same device took over: 2.02 DELETED, as ThingsBoard. */
  replace(): void {
    this.finish('2.02');
  }

  /** The same observer registered again (RFC 7641 §4.3.3): the new request takes over silently. */
  supersede(): void {
    this.finish(undefined);
  }

  /** Sends one notification with `code`; returns its message id. Throws when it could not be sent. */
  protected notify(code: string, payload: Buffer): number {
    this.sendError = undefined;
    this.lastMessageId = undefined;
    this.stream.statusCode = code;
    this.stream.write(payload);
    if (this.sendError) throw this.sendError;
    if (this.lastMessageId === undefined) throw new Error('the notification was not sent');
    return this.lastMessageId;
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
    this.end$.onEnd(this, byDevice);
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
