// ThingsBoard's SYNC session: one that lives for a single device request. An HTTP RPC long poll
// takes one server command, an HTTP attribute long poll one shared-attribute update; an HTTP or
// CoAP client-side RPC waits for its reply. The first outcome ends the session and later calls
// are ignored (spec/rpc.md §5.1, §5.3: a SYNC session gets one command).
import { randomUUID } from 'node:crypto';
import type { SessionRegistry } from '../session-registry.js';
import type { AttributeUpdate, DeviceIdentity, DeviceRpcListener, DeviceSession, ToDeviceRpcRequest, TransportProtocol } from '../transport-api.js';
import { attributeUpdateBody } from '../attribute-update-body.js';
import { rpcCommandBody } from './rpc-command.js';

/** What a device gets when the rule chain does not answer its RPC in time (as over MQTT, §8.1). */
export const CLIENT_RPC_TIMEOUT_BODY = '{"error":"timeout"}';

/** What the session waits for besides a reply: a server command, a shared-attribute update, or neither. */
export type SyncListening = 'rpc' | 'attributes' | 'none';

export type SyncOutcome =
  /** A server command, as the JSON body the device gets. */
  | { readonly kind: 'command'; readonly requestId: number; readonly body: string }
  /** A shared-attribute update, as the JSON body the device gets. */
  | { readonly kind: 'attributes'; readonly body: string }
  /** The rule chain's answer to the device's own request. */
  | { readonly kind: 'reply'; readonly payload: string }
  /** The wait ran out. */
  | { readonly kind: 'timeout' }
  /** Closed from outside: shutdown, another process took the device over, the client went away. */
  | { readonly kind: 'closed'; readonly reason: string };

export class SyncSession implements DeviceSession {
  readonly sessionId = randomUUID();
  readonly outcome: Promise<SyncOutcome>;
  private settle!: (outcome: SyncOutcome) => void;
  private ended = false;

  constructor(
    readonly protocol: TransportProtocol,
    readonly device: DeviceIdentity,
    private readonly rpc: DeviceRpcListener,
    /** A long poll listens for one command ('rpc') or one attribute update ('attributes'). */
    private readonly listening: SyncListening,
  ) {
    this.outcome = new Promise((resolve) => (this.settle = resolve));
  }

  get rpcSubscribed(): boolean {
    return this.listening === 'rpc' && !this.ended;
  }

  get done(): boolean {
    return this.ended;
  }

  sendRpcRequest(request: ToDeviceRpcRequest): void {
    if (!this.rpcSubscribed) return;
    let body: string;
    try {
      body = rpcCommandBody(request);
    } catch (e) {
      // As ThingsBoard's MQTT transport: an error reply for that command; the poll goes on.
      const error = `Failed to convert device RPC command to ${this.protocol.toUpperCase()} msg: ${(e as Error).message}`;
      queueMicrotask(() => this.rpc.onRpcError(this, request.requestId, error));
      return;
    }
    // HTTP has no acknowledgement: a command handed to the poll counts as delivered (§7.2).
    // Reported before the outcome settles, so it reaches the listener before onSessionClosed.
    queueMicrotask(() => this.rpc.onRpcDeliveryStatus(this, request.requestId, 'DELIVERED'));
    this.finish({ kind: 'command', requestId: request.requestId, body });
  }

  sendToServerRpcResponse(_requestId: number, payload: string): void {
    // ThingsBoard's sync listener does not check the id either: the session has one request.
    this.finish({ kind: 'reply', payload });
  }

  sendAttributeUpdate(update: AttributeUpdate): void {
    if (this.listening !== 'attributes' || this.ended) return;
    const body = attributeUpdateBody(update);
    if (body !== null) this.finish({ kind: 'attributes', body });
  }

  close(reason: string): void {
    this.finish({ kind: 'closed', reason });
  }

  /** The wait is over (the transport's timer). */
  expire(): void {
    this.finish({ kind: 'timeout' });
  }

  private finish(outcome: SyncOutcome): void {
    if (this.ended) return;
    this.ended = true;
    this.settle(outcome);
  }
}

export interface HoldOptions {
  readonly sessions: SessionRegistry;
  readonly rpc: DeviceRpcListener;
  /** How long the session waits before it expires. */
  readonly waitMs: number;
  /** Sessions in flight, closed by the transport at shutdown. */
  readonly active: Set<SyncSession>;
  /** Once registered: subscribe for commands, or hand the request to the rule engine. A rejection ends the session and is rethrown. */
  readonly begin?: (session: SyncSession) => void | Promise<void>;
}

/**
 * Runs a sync session to its outcome: registered (so the RPC service and the rpc call reply node
 * find it by id) for exactly as long as it waits.
 */
export async function holdSyncSession(session: SyncSession, opts: HoldOptions): Promise<SyncOutcome> {
  opts.active.add(session);
  let timer: NodeJS.Timeout | undefined;
  try {
    await opts.sessions.register(session, { exclusive: false });
    timer = setTimeout(() => session.expire(), opts.waitMs);
    await opts.begin?.(session);
    return await session.outcome;
  } finally {
    clearTimeout(timer);
    session.close('the request ended');
    opts.active.delete(session);
    await opts.sessions.unregister(session);
    opts.rpc.onSessionClosed(session);
  }
}
