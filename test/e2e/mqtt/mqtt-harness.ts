// A real MQTT transport on a real Store and Redis, with a test "rule engine" (ctx.toRuleEngine
// records the messages) and a test RPC listener that records what the transport reports.
import type { Socket } from 'node:net';
import mqtt, { type IClientOptions, type MqttClient as MqttJsClient } from 'mqtt';
import { Redis } from 'ioredis';
import type { TbMsg } from '../../../src/msg/tb-msg.js';
import { ServiceBus } from '../../../src/queue/service-bus.js';
import { DeviceAuth } from '../../../src/transport/device-auth.js';
import { MqttTransport, type MqttTransportOptions } from '../../../src/transport/mqtt/mqtt-transport.js';
import { SessionRegistry } from '../../../src/transport/session-registry.js';
import {
  DEFAULT_TRANSPORT_LIMITS,
  type DeviceRpcListener,
  type DeviceSession,
  type RpcDeliveryStatus,
  type TransportContext,
  type TransportLimits,
} from '../../../src/transport/transport-api.js';
import type { Store } from '../../../src/store/store.js';

export type RpcCall =
  | { readonly kind: 'subscribe'; readonly session: DeviceSession }
  | { readonly kind: 'unsubscribe'; readonly session: DeviceSession }
  | { readonly kind: 'status'; readonly session: DeviceSession; readonly requestId: number; readonly status: RpcDeliveryStatus; readonly at: number }
  | { readonly kind: 'response'; readonly session: DeviceSession; readonly requestId: number; readonly payload: string }
  | { readonly kind: 'error'; readonly session: DeviceSession; readonly requestId: number; readonly error: string }
  | { readonly kind: 'closed'; readonly session: DeviceSession };

/** The test's own DeviceRpcListener: it records every call. */
export class RecordingRpcListener implements DeviceRpcListener {
  readonly calls: RpcCall[] = [];
  onRpcSubscribe(session: DeviceSession): void {
    this.calls.push({ kind: 'subscribe', session });
  }
  onRpcUnsubscribe(session: DeviceSession): void {
    this.calls.push({ kind: 'unsubscribe', session });
  }
  onRpcDeliveryStatus(session: DeviceSession, requestId: number, status: RpcDeliveryStatus): void {
    this.calls.push({ kind: 'status', session, requestId, status, at: Date.now() });
  }
  /** What onRpcResponse answers (a test sets a rejection to play a reply that could not be handed on). */
  responseOutcome: () => Promise<void> = () => Promise.resolve();
  onRpcResponse(session: DeviceSession, requestId: number, payload: string): Promise<void> {
    this.calls.push({ kind: 'response', session, requestId, payload });
    return this.responseOutcome();
  }
  onRpcError(session: DeviceSession, requestId: number, error: string): void {
    this.calls.push({ kind: 'error', session, requestId, error });
  }
  onSessionClosed(session: DeviceSession): void {
    this.calls.push({ kind: 'closed', session });
  }
  statuses(requestId: number): RpcDeliveryStatus[] {
    return this.calls.flatMap((c) => (c.kind === 'status' && c.requestId === requestId ? [c.status] : []));
  }
}

export interface TransportUnderTest {
  readonly transport: MqttTransport;
  readonly port: number;
  readonly sessions: SessionRegistry;
  readonly bus: ServiceBus;
  readonly rpc: RecordingRpcListener;
  /** Messages handed to the "rule engine", in order. */
  readonly msgs: TbMsg[];
  readonly logs: string[];
  /** Makes the next toRuleEngine calls fail (queue down). */
  failQueue: boolean;
  /** Makes toRuleEngine take this long (a slow queue). */
  queueDelayMs: number;
  close(): Promise<void>;
}

export async function startTransport(
  fx: { store: Store; url: string },
  opts: { limits?: Partial<TransportLimits>; serviceId?: string } & Partial<Omit<MqttTransportOptions, 'sessions' | 'auth'>> = {},
): Promise<TransportUnderTest> {
  const { limits, serviceId, ...mqttOpts } = opts;
  const logs: string[] = [];
  const logger = {
    info: (t: string) => logs.push(`INFO ${t}`),
    warn: (t: string) => logs.push(`WARN ${t}`),
    debug: (t: string) => logs.push(`DEBUG ${t}`),
  };
  const bus = new ServiceBus({ redisUrl: fx.url, serviceId, logger });
  await bus.start();
  const redis = new Redis(fx.url);
  const sessions = new SessionRegistry({ redis, bus, logger });
  const rpc = new RecordingRpcListener();
  const msgs: TbMsg[] = [];
  const state = { failQueue: false, queueDelayMs: 0 };
  const ctx: TransportContext = {
    serviceId: bus.serviceId,
    store: fx.store,
    async toRuleEngine(msg) {
      if (state.failQueue) throw new Error('queue is down (test)');
      if (state.queueDelayMs > 0) await new Promise((r) => setTimeout(r, state.queueDelayMs));
      msgs.push(msg);
    },
    rpc,
    limits: { ...DEFAULT_TRANSPORT_LIMITS, ...limits },
    logger,
  };
  const transport = new MqttTransport(ctx, { port: 0, host: '127.0.0.1', sessions, auth: new DeviceAuth(fx.store), ...mqttOpts });
  const port = await transport.start();
  const ut: TransportUnderTest = {
    transport,
    port,
    sessions,
    bus,
    rpc,
    msgs,
    logs,
    get failQueue() {
      return state.failQueue;
    },
    set failQueue(v: boolean) {
      state.failQueue = v;
    },
    get queueDelayMs() {
      return state.queueDelayMs;
    },
    set queueDelayMs(v: number) {
      state.queueDelayMs = v;
    },
    async close() {
      await transport.close();
      sessions.dispose();
      await bus.close();
      redis.disconnect();
    },
  };
  return ut;
}

/** An MQTT.js client with TCP_NODELAY, no reconnects. */
export async function connectDevice(port: number, token: string, protocolVersion: 4 | 5 = 4, extra: IClientOptions = {}): Promise<MqttJsClient> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { username: token, protocolVersion, reconnectPeriod: 0, connectTimeout: 5000, ...extra });
  (client.stream as Socket).setNoDelay(true);
  return client;
}

/** Connects expecting a refusal; resolves with the CONNACK code (returnCode or reasonCode). */
export function connectRefused(port: number, token: string | undefined, protocolVersion: 4 | 5): Promise<number> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { username: token, protocolVersion, reconnectPeriod: 0, connectTimeout: 5000 });
    client.on('connect', () => {
      client.end(true);
      reject(new Error('connected'));
    });
    client.on('error', (err: Error & { code?: number }) => {
      client.end(true);
      resolve(typeof err.code === 'number' ? err.code : -1);
    });
  });
}

export async function waitFor<T>(probe: () => T | undefined | null | false, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves on the connection's close. */
export function closed(client: MqttJsClient): Promise<void> {
  return new Promise((resolve) => {
    if (client.disconnected || (client.stream as Socket).destroyed) return resolve();
    client.once('close', () => resolve());
  });
}

/** The next message on `topic` (filter already subscribed). */
export function nextMessage(client: MqttJsClient, topicPrefix: string, timeoutMs = 5000): Promise<{ topic: string; payload: string; qos: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('message', onMessage);
      reject(new Error(`no message on ${topicPrefix}* within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (topic: string, payload: Buffer, packet: { qos: number }) => {
      if (!topic.startsWith(topicPrefix)) return;
      clearTimeout(timer);
      client.off('message', onMessage);
      resolve({ topic, payload: payload.toString(), qos: packet.qos });
    };
    client.on('message', onMessage);
  });
}
