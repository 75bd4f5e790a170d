// The contract between the device transports (MQTT, HTTP, CoAP) and the rest of rpc-chains.
// A transport authenticates devices, turns their input into rule-engine messages, holds their
// sessions, and delivers commands; the device RPC service (the RPC milestone) talks to the
// sessions through DeviceSession and hears back through DeviceRpcListener.
import type { TbMsg } from '../msg/tb-msg.js';
import type { Store } from '../store/store.js';

export type TransportProtocol = 'mqtt' | 'http' | 'coap';

/** Who a device is, as found by its access token: everything a message from it needs. */
export interface DeviceIdentity {
  readonly tenantId: string;
  /** null when the device is not assigned to a customer. */
  readonly customerId: string | null;
  readonly deviceId: string;
  readonly deviceName: string;
  readonly deviceType: string;
  readonly deviceProfileId: string | null;
  /** From the device profile: the chain and queue its messages go to (null = tenant root / Main). */
  readonly ruleChainId: string | null;
  readonly queueName: string | null;
}

/** A server-side command as a transport sends it (spec/rpc.md §7). */
export interface ToDeviceRpcRequest {
  /** The device-facing id (an integer, monotonic per device). */
  readonly requestId: number;
  readonly method: string;
  /** The params as JSON text, as stored. */
  readonly params: string;
  readonly oneway: boolean;
  readonly persistent: boolean;
  /** Epoch ms after which the command is void. */
  readonly expirationTime: number;
}

/** What a transport knows of a command's delivery (spec/rpc.md §5.6). */
export type RpcDeliveryStatus = 'SENT' | 'DELIVERED' | 'TIMEOUT';

/** A shared-attribute change or deletion pushed to a subscribed device. */
export interface AttributeUpdate {
  /** Changed shared attributes: key → JSON value. */
  readonly shared?: Readonly<Record<string, unknown>>;
  /** Deleted shared attribute keys. */
  readonly deleted?: readonly string[];
}

/** One live connection of one device, inside the transport process that holds it. */
export interface DeviceSession {
  readonly sessionId: string;
  readonly protocol: TransportProtocol;
  readonly device: DeviceIdentity;
  /** True while the device listens for server commands (MQTT subscription, CoAP observe, HTTP long poll). */
  readonly rpcSubscribed: boolean;
  /** Sends a server command; the delivery is reported to DeviceRpcListener.onRpcDeliveryStatus. */
  sendRpcRequest(request: ToDeviceRpcRequest): void;
  /** Answers the device's own (client-side) request `requestId`. */
  sendToServerRpcResponse(requestId: number, payload: string): void;
  /** Pushes shared-attribute changes when the device subscribed to them. */
  sendAttributeUpdate(update: AttributeUpdate): void;
  /** Ends the session (a newer session of the same device took over, the device was deleted, shutdown). */
  close(reason: string): void;
}

/**
 * What transports report about server commands; the device RPC service implements it.
 * Until it exists, NO_RPC_LISTENER ignores everything.
 */
export interface DeviceRpcListener {
  /** The device now listens for commands: send what is pending for it. */
  onRpcSubscribe(session: DeviceSession): void;
  onRpcUnsubscribe(session: DeviceSession): void;
  onRpcDeliveryStatus(session: DeviceSession, requestId: number, status: RpcDeliveryStatus): void;
  /**
   * The device's answer to command `requestId`: the payload as text (MQTT/HTTP) or re-serialized
   * JSON (CoAP). Resolves once the answer is durably handled (stored, or handed on to the process
   * that owns the device's RPC state); rejects when it could not be (Redis away). The transport
   * acknowledges the reply only after it resolves, and refuses it otherwise so the device sends it again.
   */
  onRpcResponse(session: DeviceSession, requestId: number, payload: string): Promise<void>;
  /** A command could not be sent at all (e.g. params that are not JSON): ThingsBoard's error reply. */
  onRpcError(session: DeviceSession, requestId: number, error: string): void;
  /** The session ended: commands in flight on it will not be acknowledged. */
  onSessionClosed(session: DeviceSession): void;
}

export const NO_RPC_LISTENER: DeviceRpcListener = {
  onRpcSubscribe() {},
  onRpcUnsubscribe() {},
  onRpcDeliveryStatus() {},
  onRpcResponse: () => Promise.resolve(),
  onRpcError() {},
  onSessionClosed() {},
};

/** Limits every transport applies; settings with ThingsBoard's defaults. */
export interface TransportLimits {
  /** Largest accepted payload in bytes (default 65536). */
  readonly maxPayloadBytes: number;
  /** Messages per second per device and per tenant; 0 = unlimited. */
  readonly deviceMsgsPerSecond: number;
  readonly tenantMsgsPerSecond: number;
  /** How long a client-side request waits for the rule chain's reply (ThingsBoard: 60 s). */
  readonly clientSideRpcTimeoutMs: number;
  /** A device silent this long gets an INACTIVITY_EVENT (ThingsBoard default 600 s). */
  readonly inactivityTimeoutMs: number;
}

export const DEFAULT_TRANSPORT_LIMITS: TransportLimits = {
  maxPayloadBytes: 65536,
  deviceMsgsPerSecond: 0,
  tenantMsgsPerSecond: 0,
  clientSideRpcTimeoutMs: 60_000,
  inactivityTimeoutMs: 600_000,
};

/** Everything a transport is given. */
export interface TransportContext {
  readonly serviceId: string;
  readonly store: Store;
  /** Durably hands a message to the rule-engine queues; rejects when that is impossible. */
  toRuleEngine(msg: TbMsg): Promise<void>;
  readonly rpc: DeviceRpcListener;
  readonly limits: TransportLimits;
  readonly logger: { info(text: string): void; warn(text: string): void; debug(text: string): void };
}
