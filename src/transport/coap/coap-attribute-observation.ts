// A device's shared-attribute subscription over CoAP: GET /api/v1/{token}/attributes with
// Observe=0 (ThingsBoard's CoapTransportResource SUBSCRIBE_TO_ATTRIBUTES). The first response
// carries the current shared attributes, as ThingsBoard's DefaultCoapClientContext answers it;
// then each change or deletion is a 2.05 notification in JsonConverter's form, confirmable when
// the GET was (node-coap retransmits a CON one until acknowledged; a device RST ends it).
import type { ObserveWriteStream } from 'coap';
import { attributeUpdateBody } from '../attribute-update-body.js';
import type { AttributeUpdate, DeviceIdentity } from '../transport-api.js';
import { CoapObservation, type CoapObservationEnd } from './coap-observation.js';

export interface CoapAttributeObservationDeps extends CoapObservationEnd {
  readonly logger: { warn(text: string): void };
}

export class CoapAttributeObservation extends CoapObservation {
  readonly feature = 'attributes' as const;
  /** Updates that came before the first response: sent right after it, in order. */
  private early: string[] | undefined = [];

  constructor(device: DeviceIdentity, key: string, peer: { readonly address: string; readonly port: number }, stream: ObserveWriteStream, private readonly deps: CoapAttributeObservationDeps) {
    super(device, key, peer, stream, deps);
  }

  /** The answer to the observe request: 2.05 with the current shared attributes (`{"shared":{...}}`). */
  accept(current: string): void {
    this.send(current);
    const early = this.early ?? [];
    this.early = undefined;
    for (const body of early) this.send(body);
  }

  override sendAttributeUpdate(update: AttributeUpdate): void {
    if (!this.active) return;
    const body = attributeUpdateBody(update);
    if (body === null) return;
    if (this.early) this.early.push(body);
    else this.send(body);
  }

  private send(body: string): void {
    if (!this.active) return;
    try {
      this.notify('2.05', Buffer.from(body));
    } catch (e) {
      this.deps.logger.warn(`coap transport: device ${this.device.deviceId}: attribute notification not sent: ${(e as Error).message}`);
    }
  }
}
