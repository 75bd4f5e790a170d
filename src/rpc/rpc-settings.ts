// Every tunable of device RPC, with ThingsBoard's defaults (spec/rpc.md §10) and rpc-chains' own
// (spec/beyond-thingsboard.md), and the environment variables that set them.

/** §5.5: when a new command may go out while others are pending. */
export const SUBMIT_STRATEGIES = ['BURST', 'SEQUENTIAL_ON_ACK_FROM_DEVICE', 'SEQUENTIAL_ON_RESPONSE_FROM_DEVICE'] as const;
export type RpcSubmitStrategy = (typeof SUBMIT_STRATEGIES)[number];

export interface RpcSettings {
  /** ACTORS_RPC_SUBMIT_STRATEGY_TYPE, default BURST. */
  readonly submitStrategy: RpcSubmitStrategy;
  /** ACTORS_RPC_MAX_RETRIES: cap and default of a request's `retries` (5). */
  readonly maxRetries: number;
  /** ACTORS_RPC_RESPONSE_TIMEOUT_MS: SEQUENTIAL_ON_RESPONSE wait for a delivered command's reply (30 000). */
  readonly responseTimeoutMs: number;
  /** ACTORS_RPC_CLOSE_SESSION_ON_RPC_DELIVERY_TIMEOUT: requeue and close the sessions instead of FAILED (false). */
  readonly closeSessionOnDeliveryTimeout: boolean;
  /** RPC_RETRY_BACKOFF_MS: pause before the first re-send after a delivery timeout; doubles per attempt (1000). */
  readonly retryBackoffMs: number;
  /** RPC_RETRY_BACKOFF_MAX_MS: the longest such pause (30 000). */
  readonly retryBackoffMaxMs: number;
  /** RPC_MAX_RESPONSE_BYTES: a device reply above this fails the RPC with the reason (65 536, the MQTT default). */
  readonly maxResponseBytes: number;
  /** RPC_ANSWER_UNREPLIED_CLIENT_RPC: a client-side RPC no reply node answered gets an error at once (true). */
  readonly answerUnrepliedClientRpc: boolean;
  /** How long the client-side RPC marks live in Redis (2 × ThingsBoard's 60 s client-side timeout). */
  readonly clientRpcMarkTtlMs: number;
  /** RPC_RECOVERY_INTERVAL_MS: how often a process looks for devices whose RPC owner died (10 000). */
  readonly recoveryIntervalMs: number;
  /**
   * RPC_OWNER_IDLE_MS: how long the owner keeps a device whose commands are all done before letting
   * it go (10 000); 0 = at once. A device that gets commands often is not taken and let go each time.
   */
  readonly ownerIdleMs: number;
  /** SQL_TTL_RPC_ENABLED (true). */
  readonly ttlEnabled: boolean;
  /** SQL_RPC_TTL_CHECKING_INTERVAL (7 200 000 ms). */
  readonly ttlCheckingIntervalMs: number;
  /** SQL_RPC_TTL_REMOVAL_BATCH_SIZE (10 000). */
  readonly ttlRemovalBatchSize: number;
  /** RPC_TTL_DAYS: the TTL of tenants that set none (tenant additionalInfo.rpcTtlDays); 0 = keep for ever (0). */
  readonly defaultRpcTtlDays: number;
  /** MIN_SERVER_SIDE_RPC_TIMEOUT: floor of a REST call's `timeout` (5000). */
  readonly restMinTimeoutMs: number;
  /** DEFAULT_SERVER_SIDE_RPC_TIMEOUT: a REST call's `timeout` when absent (10 000). */
  readonly restDefaultTimeoutMs: number;
  /** RPC_REST_MAX_WAIT_MS: the longest a REST caller may wait for a lightweight RPC; longer → 400 (300 000). */
  readonly restMaxWaitMs: number;
}

export const DEFAULT_RPC_SETTINGS: RpcSettings = {
  submitStrategy: 'BURST',
  maxRetries: 5,
  responseTimeoutMs: 30_000,
  closeSessionOnDeliveryTimeout: false,
  retryBackoffMs: 1000,
  retryBackoffMaxMs: 30_000,
  maxResponseBytes: 65_536,
  answerUnrepliedClientRpc: true,
  clientRpcMarkTtlMs: 120_000,
  recoveryIntervalMs: 10_000,
  ownerIdleMs: 10_000,
  ttlEnabled: true,
  ttlCheckingIntervalMs: 7_200_000,
  ttlRemovalBatchSize: 10_000,
  defaultRpcTtlDays: 0,
  restMinTimeoutMs: 5000,
  restDefaultTimeoutMs: 10_000,
  restMaxWaitMs: 300_000,
};

/** ThingsBoard: case-insensitive, unknown → BURST. */
export function parseSubmitStrategy(text: string | undefined): RpcSubmitStrategy {
  const upper = (text ?? '').trim().toUpperCase();
  return (SUBMIT_STRATEGIES as readonly string[]).includes(upper) ? (upper as RpcSubmitStrategy) : 'BURST';
}

type NumberKey = { [K in keyof RpcSettings]: RpcSettings[K] extends number ? K : never }[keyof RpcSettings];
type FlagKey = { [K in keyof RpcSettings]: RpcSettings[K] extends boolean ? K : never }[keyof RpcSettings];

export const RPC_NUMBER_ENV: Readonly<Record<NumberKey, string>> = {
  maxRetries: 'ACTORS_RPC_MAX_RETRIES',
  responseTimeoutMs: 'ACTORS_RPC_RESPONSE_TIMEOUT_MS',
  retryBackoffMs: 'RPC_RETRY_BACKOFF_MS',
  retryBackoffMaxMs: 'RPC_RETRY_BACKOFF_MAX_MS',
  maxResponseBytes: 'RPC_MAX_RESPONSE_BYTES',
  clientRpcMarkTtlMs: 'RPC_CLIENT_MARK_TTL_MS',
  recoveryIntervalMs: 'RPC_RECOVERY_INTERVAL_MS',
  ownerIdleMs: 'RPC_OWNER_IDLE_MS',
  ttlCheckingIntervalMs: 'SQL_RPC_TTL_CHECKING_INTERVAL',
  ttlRemovalBatchSize: 'SQL_RPC_TTL_REMOVAL_BATCH_SIZE',
  defaultRpcTtlDays: 'RPC_TTL_DAYS',
  restMinTimeoutMs: 'MIN_SERVER_SIDE_RPC_TIMEOUT',
  restDefaultTimeoutMs: 'DEFAULT_SERVER_SIDE_RPC_TIMEOUT',
  restMaxWaitMs: 'RPC_REST_MAX_WAIT_MS',
};

export const RPC_FLAG_ENV: Readonly<Record<FlagKey, string>> = {
  closeSessionOnDeliveryTimeout: 'ACTORS_RPC_CLOSE_SESSION_ON_RPC_DELIVERY_TIMEOUT',
  answerUnrepliedClientRpc: 'RPC_ANSWER_UNREPLIED_CLIENT_RPC',
  ttlEnabled: 'SQL_TTL_RPC_ENABLED',
};

export const RPC_SUBMIT_STRATEGY_ENV = 'ACTORS_RPC_SUBMIT_STRATEGY_TYPE';

/**
 * Settings from environment variables (names above) over the defaults. A malformed value throws
 * naming the variable, so a typo stops start-up instead of silently using a default.
 */
export function rpcSettingsFromEnv(env: NodeJS.ProcessEnv = process.env, base: RpcSettings = DEFAULT_RPC_SETTINGS): RpcSettings {
  const out: { -readonly [K in keyof RpcSettings]: RpcSettings[K] } = { ...base };
  const strategy = env[RPC_SUBMIT_STRATEGY_ENV];
  if (strategy !== undefined && strategy !== '') out.submitStrategy = parseSubmitStrategy(strategy);
  for (const [key, name] of Object.entries(RPC_NUMBER_ENV) as [NumberKey, string][]) {
    const text = env[name];
    if (text === undefined || text === '') continue;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: must be an integer >= 0, got "${text}"`);
    out[key] = n;
  }
  for (const [key, name] of Object.entries(RPC_FLAG_ENV) as [FlagKey, string][]) {
    const text = env[name]?.trim().toLowerCase();
    if (text === undefined || text === '') continue;
    if (['true', '1', 'yes', 'on'].includes(text)) out[key] = true;
    else if (['false', '0', 'no', 'off'].includes(text)) out[key] = false;
    else throw new Error(`${name}: must be true or false, got "${env[name] ?? ''}"`);
  }
  return out;
}

export function withRpcDefaults(partial: Partial<RpcSettings> = {}): RpcSettings {
  return { ...DEFAULT_RPC_SETTINGS, ...partial };
}

/** Pause before re-send number `attempt` (1-based): doubling, bounded (beyond-thingsboard #2). */
export function retryBackoff(settings: RpcSettings, attempt: number): number {
  const exp = Math.min(30, Math.max(0, attempt - 1));
  return Math.min(settings.retryBackoffMaxMs, settings.retryBackoffMs * 2 ** exp);
}
