// A device's RPC subscription over CoAP: GET /api/v1/{token}/rpc with Observe=0 (spec/rpc.md
// §7.3). Each command goes out as a notification `{"id","method","params"}`, confirmable when the
// GET was. CON: SENT (persistent) once sent, DELIVERED on the device's ACK, TIMEOUT when no ACK
// came within min(COAP timeout, expiration − now). NON: DELIVERED once sent.
import type { ObserveWriteStream } from 'coap';
import { rpcCommandBody } from '../http/rpc-command.js';
import type { DeviceIdentity, DeviceRpcListener, ToDeviceRpcRequest } from '../transport-api.js';
import type { CoapAckTracker } from './coap-ack-tracker.js';
import { CoapObservation, type CoapObservationEnd } from './coap-observation.js';

export interface CoapRpcObservationDeps extends CoapObservationEnd {
  readonly rpc: DeviceRpcListener;
  readonly acks: CoapAckTracker;
  /** transport.coap.timeout: the longest wait for a CON notification's ACK. */
  readonly ackTimeoutMs: number;
}

export class CoapRpcObservation extends CoapObservation {
  readonly feature = 'rpc' as const;

  constructor(device: DeviceIdentity, key: string, peer: { readonly address: string; readonly port: number }, stream: ObserveWriteStream, private readonly deps: CoapRpcObservationDeps) {
    super(device, key, peer, stream, deps);
  }

  override get rpcSubscribed(): boolean {
    return this.active;
  }

  /** The answer to the observe request: 2.03 VALID with the first Observe number, as ThingsBoard. */
  accept(): void {
    this.notify('2.03', Buffer.alloc(0));
  }

  override sendRpcRequest(request: ToDeviceRpcRequest): void {
    if (!this.active) return;
    const { rpc } = this.deps;
    let body: string;
    try {
      body = rpcCommandBody(request);
    } catch {
      queueMicrotask(() => rpc.onRpcError(this, request.requestId, 'Failed to convert device RPC command to CoAP msg'));
      return;
    }
    let messageId: number;
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
}
