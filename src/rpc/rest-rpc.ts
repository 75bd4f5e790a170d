// The REST side of server-side RPC (spec/rpc.md §2.3–§2.5, §3), without HTTP: the body rules, the
// RPC_CALL_FROM_SERVER_TO_DEVICE message, the wait for its outcome (which comes back over the service
// bus from whichever process ran the RPC request node), and outcome → HTTP status.
import { jsonTooDeep } from '../msg/json-depth.js';
import { randomUUID } from 'node:crypto';
import { MsgType } from '../msg/msg-types.js';
import { newMsg, type TbMsg } from '../msg/tb-msg.js';
import type { ServiceBus } from '../queue/service-bus.js';
import { TOPIC_REST_OUTCOME, type OutcomeMsg } from './bus-topics.js';
import { OutcomeWaiters } from './outcome-waiters.js';
import type { DeviceRoute } from './rpc-events.js';
import { RPC_NUMBER_ENV, type RpcSettings } from './rpc-settings.js';
import type { RpcOutcome } from './rpc-types.js';

/** Why a body was refused: 400 "Invalid request body", 400 with the wait limit, or ThingsBoard's 500 for a missing method. */
export class RpcBodyError extends Error {
  constructor(
    readonly kind: 'invalid' | 'tooLong' | 'noMethod',
    message: string,
  ) {
    super(message);
    this.name = 'RpcBodyError';
  }
}

/** A REST RPC body after §2.3's rules. */
export interface RpcCallBody {
  readonly requestUUID: string;
  readonly method: string;
  /** JSON text, or null when `params` is absent. */
  readonly params: string | null;
  readonly expirationTime: number;
  readonly persistent: boolean;
  readonly retries: number | null;
  readonly additionalInfo: string | null;
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Jackson's asText(): text as is, numbers and booleans as written, containers "", null "null". */
function asText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === null) return 'null';
  return '';
}

/** Jackson's asLong(): numbers truncated, numeric text parsed, booleans 1/0, anything else 0. */
function asLong(v: unknown): number {
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : 0;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && /^\s*[-+]?\d+(\.\d+)?\s*$/.test(v)) return Math.trunc(Number(v));
  return 0;
}

/** Jackson's asBoolean(): true, "true" (any case), or a non-zero number. */
function asBoolean(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return v.trim().toLowerCase() === 'true';
  return false;
}

/**
 * Applies §2.3 to the raw body. `persistent` RPCs answer at once, so only a lightweight call's
 * window is held to restMaxWaitMs (beyond-thingsboard #4).
 */
export function parseRpcBody(text: string, settings: RpcSettings, now: number = Date.now()): RpcCallBody {
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    throw new RpcBodyError('invalid', 'Invalid request body');
  }
  if (jsonTooDeep(body)) throw new RpcBodyError('invalid', 'Invalid request body');
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !('method' in body)) {
    // ThingsBoard: rpcRequestBody.get("method").asText() throws a NullPointerException → 500.
    throw new RpcBodyError('noMethod', 'Method is not present in the request body');
  }
  const b = body as Record<string, unknown>;
  let requestUUID: string = randomUUID();
  if ('requestUUID' in b) {
    const id = asText(b.requestUUID);
    if (!UUID.test(id)) throw new RpcBodyError('invalid', 'Invalid request body');
    requestUUID = id.toLowerCase();
  }
  const expirationTime =
    'expirationTime' in b
      ? asLong(b.expirationTime)
      : now + Math.max(settings.restMinTimeoutMs, 'timeout' in b ? asLong(b.timeout) : settings.restDefaultTimeoutMs);
  const persistent = 'persistent' in b ? asBoolean(b.persistent) : false;
  const window = expirationTime - now;
  if (!persistent && window > settings.restMaxWaitMs) {
    throw new RpcBodyError(
      'tooLong',
      `RPC timeout of ${window} ms exceeds the maximum wait of ${settings.restMaxWaitMs} ms (setting ${RPC_NUMBER_ENV.restMaxWaitMs}); use a persistent RPC for longer`,
    );
  }
  return {
    requestUUID,
    method: asText(b.method),
    params: 'params' in b ? JSON.stringify(b.params) : null,
    expirationTime,
    persistent,
    retries: 'retries' in b && b.retries !== null ? asLong(b.retries) | 0 : null,
    additionalInfo: 'additionalInfo' in b && b.additionalInfo !== null ? JSON.stringify(b.additionalInfo) : null,
  };
}

/** The device as the message needs it. */
export interface RpcTarget {
  readonly tenantId: string;
  readonly deviceId: string;
  readonly deviceName: string;
  readonly deviceType: string;
  readonly route: DeviceRoute;
}

/** §3: the message the REST call puts on the rule-engine queue. */
export function rpcCallMsg(target: RpcTarget, body: RpcCallBody, opts: { oneway: boolean; originServiceId: string; customerId: string | null }): TbMsg {
  return newMsg({
    type: MsgType.RPC_CALL_FROM_SERVER_TO_DEVICE,
    originator: { entityType: 'DEVICE', id: target.deviceId },
    tenantId: target.tenantId,
    customerId: opts.customerId,
    ruleChainId: target.route.ruleChainId,
    queueName: target.route.queueName ?? undefined,
    data: JSON.stringify({ method: body.method, params: body.params, additionalInfo: body.additionalInfo }),
    metaData: {
      requestUUID: body.requestUUID,
      originServiceId: opts.originServiceId,
      expirationTime: String(body.expirationTime),
      oneway: String(opts.oneway),
      persistent: String(body.persistent),
      retries: body.retries === null ? undefined : String(body.retries),
      deviceName: target.deviceName,
      deviceType: target.deviceType,
    },
  });
}

/** §2.5: an outcome as an HTTP answer. `body` is JSON text, or undefined for an empty body. */
export function restReply(outcome: RpcOutcome, version: 'v1' | 'v2'): { readonly status: number; readonly body?: string } {
  if (outcome.error !== null) {
    if (version === 'v2') return { status: 504 };
    return { status: outcome.error === 'NO_ACTIVE_CONNECTION' ? 409 : 408 };
  }
  const text = outcome.response;
  if (text === null || text === '') return { status: 200 };
  try {
    JSON.parse(text);
  } catch {
    return { status: 406 };
  }
  return { status: 200, body: text };
}

/**
 * REST callers of this process waiting for their RPC's outcome, by requestUUID. The RPC request
 * node sends it here (metadata originServiceId) over the bus, from whichever process ran it.
 */
export class RestRpcCalls {
  private readonly waiters = new OutcomeWaiters();
  private off: (() => void) | undefined;

  constructor(
    private readonly bus: ServiceBus,
    private readonly toRuleEngine: (msg: TbMsg) => Promise<void>,
  ) {}

  get serviceId(): string {
    return this.bus.serviceId;
  }

  start(): void {
    this.off ??= this.bus.on<OutcomeMsg>(TOPIC_REST_OUTCOME, (m) => void this.waiters.complete(m.id, m.outcome));
  }

  close(): void {
    this.off?.();
    this.off = undefined;
    this.waiters.failAll('TIMEOUT');
  }

  /**
   * Queues the message and waits for its outcome; TIMEOUT at expiration + 1 s (§2.4 step 2).
   * Rejects when the message cannot be queued.
   */
  async call(msg: TbMsg, body: RpcCallBody): Promise<RpcOutcome> {
    this.start();
    const outcome = this.waiters.wait(body.requestUUID, body.expirationTime);
    try {
      await this.toRuleEngine(msg);
    } catch (e) {
      this.waiters.complete(body.requestUUID, { rpcId: body.requestUUID, response: null, error: 'INTERNAL' });
      await outcome;
      throw e;
    }
    return outcome;
  }

  get waiting(): number {
    return this.waiters.size;
  }
}
