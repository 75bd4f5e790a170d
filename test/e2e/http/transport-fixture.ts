// What the HTTP and CoAP device API tests share: a real Store and session registry on a test
// redis-server, devices with access tokens, a stand-in for the device RPC service that records
// what the transport reports (RecordingRpcListener), and a stand-in rule engine that captures
// messages and can answer client-side RPCs through the session registry, as "rpc call reply" does.
import { ServiceBus } from '../../../src/queue/service-bus.js';
import { MsgType } from '../../../src/msg/msg-types.js';
import type { TbMsg } from '../../../src/msg/tb-msg.js';
import { DeviceAuth } from '../../../src/transport/device-auth.js';
import { SessionRegistry } from '../../../src/transport/session-registry.js';
import {
  DEFAULT_TRANSPORT_LIMITS,
  type DeviceRpcListener,
  type DeviceSession,
  type RpcDeliveryStatus,
  type ToDeviceRpcRequest,
  type TransportContext,
  type TransportLimits,
} from '../../../src/transport/transport-api.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';

export const TOKEN = 'A1_TEST_TOKEN_0000001';
export const TOKEN_B = 'B1_TEST_TOKEN_0000002';

export type RecordedKind = 'subscribe' | 'unsubscribe' | 'status' | 'response' | 'error' | 'closed';

export interface RecordedEvent {
  readonly kind: RecordedKind;
  readonly session: DeviceSession;
  readonly requestId?: number;
  readonly status?: RpcDeliveryStatus;
  /** The device's reply (response) or the error text (error). */
  readonly text?: string;
  readonly at: number;
}

/** The device RPC service as the transports see it: records every report, in order. */
export class RecordingRpcListener implements DeviceRpcListener {
  readonly events: RecordedEvent[] = [];
  private readonly waiters = new Set<{ match: (e: RecordedEvent) => boolean; resolve: (e: RecordedEvent) => void }>();

  onRpcSubscribe(session: DeviceSession): void {
    this.record({ kind: 'subscribe', session });
  }
  onRpcUnsubscribe(session: DeviceSession): void {
    this.record({ kind: 'unsubscribe', session });
  }
  onRpcDeliveryStatus(session: DeviceSession, requestId: number, status: RpcDeliveryStatus): void {
    this.record({ kind: 'status', session, requestId, status });
  }
  /** What onRpcResponse answers (a test sets a rejection to play a reply that could not be handed on). */
  responseOutcome: () => Promise<void> = () => Promise.resolve();
  onRpcResponse(session: DeviceSession, requestId: number, payload: string): Promise<void> {
    this.record({ kind: 'response', session, requestId, text: payload });
    return this.responseOutcome();
  }
  onRpcError(session: DeviceSession, requestId: number, error: string): void {
    this.record({ kind: 'error', session, requestId, text: error });
  }
  onSessionClosed(session: DeviceSession): void {
    this.record({ kind: 'closed', session });
  }

  /** The first event, recorded or to come, that matches. */
  next(match: (e: RecordedEvent) => boolean, timeoutMs = 5000): Promise<RecordedEvent> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (e: RecordedEvent) => {
          clearTimeout(timer);
          resolve(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no matching RPC listener event in ${timeoutMs} ms; saw: ${this.summary()}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** The first session that subscribed to commands. */
  async subscribed(): Promise<DeviceSession> {
    return (await this.next((e) => e.kind === 'subscribe')).session;
  }

  of(session: DeviceSession): string[] {
    return this.events.filter((e) => e.session === session).map((e) => (e.kind === 'status' ? `status:${e.requestId}:${e.status}` : e.kind));
  }

  summary(): string {
    return this.events.map((e) => `${e.kind}${e.status ? `:${e.status}` : ''}${e.requestId === undefined ? '' : `#${e.requestId}`}`).join(', ') || '(none)';
  }

  private record(init: Omit<RecordedEvent, 'at'>): void {
    const event = { ...init, at: performance.now() };
    this.events.push(event);
    for (const w of [...this.waiters]) {
      if (w.match(event)) {
        this.waiters.delete(w);
        w.resolve(event);
      }
    }
  }
}

const CONNECTIVITY_EVENTS = new Set<string>([MsgType.CONNECT_EVENT, MsgType.DISCONNECT_EVENT, MsgType.ACTIVITY_EVENT, MsgType.INACTIVITY_EVENT]);

/** The rule engine as a transport sees it: captures messages; optionally answers client-side RPCs. */
export class TestRuleEngine {
  /** What the devices sent (telemetry, attributes, RPC requests). */
  readonly msgs: TbMsg[] = [];
  /** Connectivity events (CONNECT_EVENT, ACTIVITY_EVENT, ...), in order. */
  readonly events: TbMsg[] = [];
  /** Make toRuleEngine reject (the queue is down). */
  failing = false;
  /** A chain ending in "rpc call reply": returns the reply data, or undefined for no reply. */
  answer: ((msg: TbMsg) => string | undefined) | undefined;

  constructor(private readonly sessions: SessionRegistry) {}

  readonly toRuleEngine = async (msg: TbMsg): Promise<void> => {
    if (this.failing) throw new Error('the rule-engine queue is unavailable');
    if (CONNECTIVITY_EVENTS.has(msg.type)) {
      this.events.push(msg);
      return;
    }
    this.msgs.push(msg);
    const answer = msg.type === MsgType.TO_SERVER_RPC_REQUEST ? this.answer?.(msg) : undefined;
    if (answer === undefined) return;
    // As TbSendRPCReplyNode: the reply is addressed by the metadata, later than the enqueue.
    setTimeout(() => this.sessions.local(msg.metaData.sessionId ?? '')?.sendToServerRpcResponse(Number(msg.metaData.requestId), answer), 5);
  };

  ofType(type: string): TbMsg[] {
    return this.msgs.filter((m) => m.type === type);
  }

  /** The connectivity events of a device, as their types in order. */
  eventTypes(deviceId: string): string[] {
    return this.events.filter((m) => m.originator.id === deviceId).map((m) => m.type);
  }
}

export interface TransportUnderTest {
  readonly ctx: TransportContext;
  readonly listener: RecordingRpcListener;
  readonly engine: TestRuleEngine;
}

export interface TransportFixture {
  readonly store: StoreFixture;
  readonly sessions: SessionRegistry;
  readonly auth: DeviceAuth;
  /** Id of the device of TOKEN; TOKEN_B is a second device of the same tenant. */
  readonly deviceId: string;
  readonly deviceIdB: string;
  readonly tenantId: string;
  /** A fresh context (listener, rule engine) with these limits. */
  context(limits?: Partial<TransportLimits>): TransportUnderTest;
  close(): Promise<void>;
}

export async function startTransportFixture(): Promise<TransportFixture> {
  const store = await startStoreFixture();
  const tenantId = store.tenant.id.id;
  const deviceB = await store.store.devices.create(tenantId, { name: 'Thermostat B', type: 'thermostat' });
  await store.store.credentials.save(tenantId, store.device.id.id, TOKEN);
  await store.store.credentials.save(tenantId, deviceB.id.id, TOKEN_B);
  const bus = new ServiceBus({ redisUrl: store.url, serviceId: 'transport-test', logger: { warn: () => undefined } });
  await bus.start();
  const sessions = new SessionRegistry({ redis: store.redis, bus, logger: { warn: () => undefined } });
  const auth = new DeviceAuth(store.store);
  const silent = { info: () => undefined, warn: () => undefined, debug: () => undefined };
  return {
    store,
    sessions,
    auth,
    deviceId: store.device.id.id,
    deviceIdB: deviceB.id.id,
    tenantId,
    context(limits = {}) {
      const listener = new RecordingRpcListener();
      const engine = new TestRuleEngine(sessions);
      const ctx: TransportContext = {
        serviceId: bus.serviceId,
        store: store.store,
        toRuleEngine: engine.toRuleEngine,
        rpc: listener,
        limits: { ...DEFAULT_TRANSPORT_LIMITS, ...limits },
        logger: silent,
      };
      return { ctx, listener, engine };
    },
    async close() {
      sessions.dispose();
      await bus.close();
      await store.close();
    },
  };
}

/** A server command as the RPC service would send it. */
export function command(requestId: number, init: Partial<ToDeviceRpcRequest> = {}): ToDeviceRpcRequest {
  return {
    requestId,
    method: 'setGpio',
    params: '{"pin":23,"value":1}',
    oneway: false,
    persistent: false,
    expirationTime: Date.now() + 10_000,
    ...init,
  };
}

export async function waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
