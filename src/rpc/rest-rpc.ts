// The REST side of server-side RPC (spec/rpc.md §2.3–§2.5, §3), without HTTP: the body rules, the
// RPC_CALL_FROM_SERVER_TO_DEVICE message, the wait for its outcome (which comes back over the service
// bus from whichever process ran the RPC request node), and outcome → HTTP status.
import { ApiError } from '../api/errors.js';
import { jsonTooDeep } from '../msg/json-depth.js';
import { randomUUID } from 'node:crypto';
import { MsgType } from '../msg/msg-types.js';
import { newMsg, type TbMsg } from '../msg/tb-msg.js';
import type { ServiceBus } from '../queue/service-bus.js';
import { TOPIC_REST_OUTCOME, type OutcomeMsg } from './bus-topics.js';
import { FALLBACK_GRACE_MS, OutcomeWaiters } from './outcome-waiters.js';
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

export interface RestRpcCallsOptions {
  /**
   * Whether a persistent RPC is stored on the device. With it, a persistent call whose answer from
   * the rule engine does not come (lost with a process or a Redis outage) is answered {"rpcId"} as
   * soon as its RPC is stored, instead of at expiration + 1 s.
   */
  readonly isStored?: (deviceId: string, rpcId: string) => Promise<boolean>;
  /** How often a waiting persistent call looks for its RPC (default 1000 ms). */
  readonly storedCheckMs?: number;
  /** How long a persistent call waits for its RPC to be stored before it fails with the reason (default 30 000 ms). */
  readonly storeWaitMs?: number;
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
    private readonly opts: RestRpcCallsOptions = {},
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
   * Rejects when the message cannot be queued, and (with isStored) when a persistent RPC is not
   * stored within storeWaitMs.
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
    if (body.persistent && this.opts.isStored) return this.untilStored(msg.originator.id, body, outcome, this.opts.isStored);
    return outcome;
  }

  /**
   * A persistent call: the outcome from the rule engine, or {"rpcId"} once the RPC is found stored
   * (its answer was lost on the way), or a clear error when it is not stored in time.
   */
  private async untilStored(deviceId: string, body: RpcCallBody, outcome: Promise<RpcOutcome>, isStored: (deviceId: string, rpcId: string) => Promise<boolean>): Promise<RpcOutcome> {
    const id = body.requestUUID;
    const started = Date.now();
    const storeWaitMs = this.opts.storeWaitMs ?? 30_000;
    // Past expiration + 1 s the waiter answers TIMEOUT by itself, as for any call (§2.4).
    const expiresFirst = Math.max(0, body.expirationTime - started) + FALLBACK_GRACE_MS <= storeWaitMs;
    const until = started + (expiresFirst ? Math.max(0, body.expirationTime - started) + FALLBACK_GRACE_MS : storeWaitMs);
    let answered = false;
    void outcome.then(() => (answered = true));
    while (!answered && Date.now() < until) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([outcome, new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.min(this.opts.storedCheckMs ?? 1000, until - Date.now()))))]);
      clearTimeout(timer);
      if (answered) break;
      if (await isStored(deviceId, id).catch(() => false)) this.waiters.complete(id, { rpcId: id, response: JSON.stringify({ rpcId: id }), error: null });
    }
    if (!answered && !expiresFirst && this.waiters.complete(id, { rpcId: id, response: null, error: 'INTERNAL' })) {
      await outcome;
      throw new ApiError(
        'GENERAL',
        `Persistent RPC ${id} was not stored within ${storeWaitMs} ms (the rule engine is behind or unavailable). It may still be: ` +
          `see GET /api/rpc/persistent/${id}, or send it again with the same requestUUID (it is stored once).`,
      );
    }
    return outcome;
  }

  get waiting(): number {
    return this.waiters.size;
  }
}
