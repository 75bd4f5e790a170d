// Processes of rpc-chains for RPC tests: each a real ServiceBus, SessionRegistry and DeviceRpcService
// on one test redis-server. Devices are TestSession objects: a test double of the device (it
// records the commands it was sent, and the test makes it acknowledge, answer or stay silent),
// registered in the real session registry like a transport's session.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { TbMsg } from '../../../src/msg/tb-msg.js';
import { ServiceBus } from '../../../src/queue/service-bus.js';
import { createRedis } from '../../../src/redis/connection.js';
import { DeviceRpcService } from '../../../src/rpc/device-rpc-service.js';
import type { RpcSettings } from '../../../src/rpc/rpc-settings.js';
import type { ToDeviceRpc } from '../../../src/rpc/rpc-types.js';
import { SessionRegistry } from '../../../src/transport/session-registry.js';
import type {
  AttributeUpdate,
  DeviceIdentity,
  DeviceSession,
  ToDeviceRpcRequest,
  TransportProtocol,
} from '../../../src/transport/transport-api.js';

export const quiet = { info: () => undefined, warn: () => undefined };

/** Fast timings for tests. */
export const FAST_RPC: Partial<RpcSettings> = {
  retryBackoffMs: 50,
  retryBackoffMaxMs: 200,
  recoveryIntervalMs: 0,
  responseTimeoutMs: 400,
  // Let a device go as soon as nothing is pending: the lease tests look at that moment.
  ownerIdleMs: 0,
};

export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class TestProcess {
  readonly events: TbMsg[] = [];
  readonly redis: Redis;
  readonly sessions: SessionRegistry;
  readonly rpc: DeviceRpcService;

  constructor(
    readonly url: string,
    readonly bus: ServiceBus,
    settings: Partial<RpcSettings>,
    opts: { failFast?: boolean; redisWaitMs?: number } = {},
  ) {
    // failFast: the production 'client' connection (a command fails soon while Redis is away).
    this.redis = opts.failFast ? createRedis(url, { role: 'client', logger: quiet }) : new Redis(url);
    this.sessions = new SessionRegistry({ redis: this.redis, bus, logger: quiet });
    this.rpc = new DeviceRpcService({
      redis: this.redis,
      bus,
      sessions: this.sessions,
      toRuleEngine: (msg) => {
        this.events.push(msg);
        return Promise.resolve();
      },
      settings: { ...FAST_RPC, ...settings },
      logger: quiet,
      ...(opts.redisWaitMs !== undefined ? { redisWaitMs: opts.redisWaitMs } : {}),
    });
  }

  static async start(
    url: string,
    opts: { serviceId?: string; settings?: Partial<RpcSettings>; heartbeatTtlMs?: number; failFast?: boolean; redisWaitMs?: number } = {},
  ): Promise<TestProcess> {
    const bus = new ServiceBus({ redisUrl: url, serviceId: opts.serviceId ?? `svc-${randomUUID().slice(0, 8)}`, heartbeatTtlMs: opts.heartbeatTtlMs, logger: quiet });
    await bus.start();
    const p = new TestProcess(url, bus, opts.settings ?? {}, { failFast: opts.failFast, redisWaitMs: opts.redisWaitMs });
    await p.rpc.start();
    return p;
  }

  get serviceId(): string {
    return this.bus.serviceId;
  }

  /** Event types for an RPC, in order. */
  eventTypes(rpcId?: string): string[] {
    return this.events.filter((e) => rpcId === undefined || (JSON.parse(e.data) as { id: { id: string } }).id.id === rpcId).map((e) => e.type);
  }

  /** A connected device session of this process (not yet subscribed to commands). */
  async connect(deviceId: string, protocol: TransportProtocol = 'mqtt', opts: { exclusive?: boolean } = {}): Promise<TestSession> {
    const s = new TestSession(this, deviceId, protocol);
    await this.sessions.register(s, { exclusive: opts.exclusive ?? false });
    return s;
  }

  /** Stops; `crash` leaves the leases and the bus registration to expire as a killed process would. */
  async stop(opts: { crash?: boolean } = {}): Promise<void> {
    await this.rpc.close({ release: !opts.crash });
    this.sessions.closeAll('test stop');
    this.sessions.dispose();
    await this.bus.close();
    this.redis.disconnect();
  }
}

export function device(deviceId: string, tenantId = 'tenant-1'): DeviceIdentity {
  return {
    tenantId,
    customerId: null,
    deviceId,
    deviceName: `Device ${deviceId}`,
    deviceType: 'default',
    deviceProfileId: null,
    ruleChainId: null,
    queueName: null,
  };
}

/** A device on one connection: records commands and replies; acts when the test says so. */
export class TestSession implements DeviceSession {
  readonly sessionId = randomUUID();
  readonly device: DeviceIdentity;
  rpcSubscribed = false;
  readonly sent: ToDeviceRpcRequest[] = [];
  readonly replies: { requestId: number; payload: string }[] = [];
  closedWith: string | undefined;
  /** Called with each command as it arrives (e.g. to acknowledge at once, as QoS 0 does). */
  onCommand: ((r: ToDeviceRpcRequest) => void) | undefined;

  constructor(
    private readonly proc: TestProcess,
    deviceId: string,
    readonly protocol: TransportProtocol,
  ) {
    this.device = device(deviceId);
  }

  sendRpcRequest(request: ToDeviceRpcRequest): void {
    this.sent.push(request);
    this.onCommand?.(request);
  }

  sendToServerRpcResponse(requestId: number, payload: string): void {
    this.replies.push({ requestId, payload });
  }

  sendAttributeUpdate(_update: AttributeUpdate): void {}

  close(reason: string): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = reason;
    this.rpcSubscribed = false;
    void this.proc.sessions.unregister(this);
    this.proc.rpc.onSessionClosed(this);
  }

  async subscribe(): Promise<void> {
    this.rpcSubscribed = true;
    await this.proc.sessions.update(this);
    this.proc.rpc.onRpcSubscribe(this);
  }

  /** QoS 0 / CoAP NON: delivered as soon as written. */
  autoDeliver(): this {
    this.onCommand = (r) => this.proc.rpc.onRpcDeliveryStatus(this, r.requestId, 'DELIVERED');
    return this;
  }

  sentStatus(requestId: number): void {
    this.proc.rpc.onRpcDeliveryStatus(this, requestId, 'SENT');
  }
  ack(requestId: number): void {
    this.proc.rpc.onRpcDeliveryStatus(this, requestId, 'DELIVERED');
  }
  noAck(requestId: number): void {
    this.proc.rpc.onRpcDeliveryStatus(this, requestId, 'TIMEOUT');
  }
  /** Resolves once the reply is stored or handed on (what a transport waits for before acknowledging it). */
  respond(requestId: number, payload: string): Promise<void> {
    return this.proc.rpc.onRpcResponse(this, requestId, payload);
  }
  error(requestId: number, error: string): void {
    this.proc.rpc.onRpcError(this, requestId, error);
  }

  async waitSent(n: number, timeoutMs = 5000): Promise<ToDeviceRpcRequest> {
    await waitFor(() => this.sent.length >= n, `${n} command(s) on session ${this.sessionId} (got ${this.sent.length})`, timeoutMs);
    return this.sent[n - 1];
  }

  get last(): ToDeviceRpcRequest {
    const r = this.sent.at(-1);
    if (!r) throw new Error('no command sent');
    return r;
  }
}

let seq = 0;

/** A request to `deviceId` expiring in `ms`. */
export function rpcTo(deviceId: string, ms: number, init: Partial<ToDeviceRpc> = {}): ToDeviceRpc {
  seq++;
  return {
    id: randomUUID(),
    tenantId: 'tenant-1',
    deviceId,
    oneway: false,
    expirationTime: Date.now() + ms,
    method: `m${seq}`,
    params: JSON.stringify({ n: seq }),
    persisted: false,
    retries: null,
    additionalInfo: null,
    ...init,
  };
}

export function newDeviceId(): string {
  return randomUUID();
}
