// What each setting is: its environment variable, its JSON schema, and the sentence an error shows.
import type { SchemaObject } from 'ajv';

export const ROLES = ['api', 'transport', 'rule-engine'] as const;
export type Role = (typeof ROLES)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Settings {
  /** Shared Redis; undefined = start an embedded redis-server under dataDir. */
  readonly redisUrl: string | undefined;
  readonly dataDir: string;
  readonly httpPort: number;
  readonly mqttPort: number;
  /** UDP, so it may equal one of the TCP ports. */
  readonly coapPort: number;
  readonly host: string;
  readonly roles: readonly Role[];
  readonly logLevel: LogLevel;
  /** Start with the demo tenant, devices and chains. */
  readonly demo: boolean;
  readonly scriptTimeoutMs: number;
  readonly scriptMemoryMb: number;
  /** Loop guard per message; 0 = unlimited. */
  readonly maxRuleNodeExecutionsPerMessage: number;
  /** Record per-node traces of every message (costly; for debugging). */
  readonly trace: boolean;
  /** undefined = generated at start. */
  readonly serviceId: string | undefined;
  /** A separate port for /healthz, /readyz and /metrics (processes without the api role); undefined = none. */
  readonly healthPort: number | undefined;
  /** How long a QoS 1 command waits for the device's PUBACK (ThingsBoard MQTT_TIMEOUT). */
  readonly mqttTimeoutMs: number;
  /** How long a CON notification waits for its ACK (ThingsBoard COAP_TIMEOUT). */
  readonly coapTimeoutMs: number;
  /** How long a device's client-side request waits for the rule chain (ThingsBoard CLIENT_SIDE_RPC_TIMEOUT). */
  readonly clientSideRpcTimeoutMs: number;
  /** A device silent this long becomes inactive: INACTIVITY_EVENT, `active` false (ThingsBoard: 600 s). */
  readonly inactivityTimeoutMs: number;
}

export type SettingKey = keyof Settings;

/** How an environment string becomes a value for ajv. */
export type EnvKind = 'string' | 'integer' | 'boolean' | 'roles';

export interface SettingSpec {
  readonly key: SettingKey;
  readonly env: string;
  readonly kind: EnvKind;
  readonly schema: SchemaObject;
  /** Completes "<NAME>: must ..." for a wrong value. */
  readonly expected: string;
  /** The same for the JSON file, where the value has a JSON type rather than a string form. */
  readonly expectedInFile?: string;
}

const port = (env: string, key: SettingKey): SettingSpec => ({
  key,
  env,
  kind: 'integer',
  schema: { type: 'integer', minimum: 0, maximum: 65535 },
  expected: 'must be an integer from 0 to 65535',
});

const millis = (env: string, key: SettingKey): SettingSpec => ({
  key,
  env,
  kind: 'integer',
  schema: { type: 'integer', minimum: 1, maximum: 86_400_000 },
  expected: 'must be an integer from 1 to 86400000 (milliseconds)',
});

const flag = (env: string, key: SettingKey): SettingSpec => ({
  key,
  env,
  kind: 'boolean',
  schema: { type: 'boolean' },
  expected: 'must be true or false (or 1/0, yes/no, on/off)',
  expectedInFile: 'must be true or false',
});

export const SETTING_SPECS: readonly SettingSpec[] = [
  {
    key: 'redisUrl',
    env: 'REDIS_URL',
    kind: 'string',
    // One Redis, or a Redis Cluster by its seed nodes (src/redis/connection.ts reads both).
    schema: { type: 'string', pattern: '^(rediss?://\\S+|rediss?-cluster://([^@/\\s]*@)?[^@/,\\s]+(,[^@/,\\s]+)*/?)$' },
    expected:
      'must be a redis:// or rediss:// URL, or redis-cluster://host:port,host:port,... (rediss-cluster:// with TLS) for a Redis Cluster (leave unset for the embedded redis-server)',
  },
  {
    key: 'dataDir',
    env: 'DATA_DIR',
    kind: 'string',
    schema: { type: 'string', minLength: 1 },
    expected: 'must be a directory path',
  },
  port('HTTP_PORT', 'httpPort'),
  port('MQTT_PORT', 'mqttPort'),
  port('COAP_PORT', 'coapPort'),
  port('HEALTH_PORT', 'healthPort'),
  {
    key: 'host',
    env: 'HOST',
    kind: 'string',
    schema: { type: 'string', minLength: 1, pattern: '^\\S+$' },
    expected: 'must be a host name or IP address to listen on',
  },
  {
    key: 'roles',
    env: 'ROLES',
    kind: 'roles',
    schema: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...ROLES] } },
    expected: `must be a comma-separated list of ${ROLES.join(', ')} (each at most once)`,
    expectedInFile: `must be a non-empty array of ${ROLES.map((r) => `"${r}"`).join(', ')} (each at most once)`,
  },
  {
    key: 'logLevel',
    env: 'LOG_LEVEL',
    kind: 'string',
    schema: { type: 'string', enum: [...LOG_LEVELS] },
    expected: `must be one of ${LOG_LEVELS.join(', ')}`,
  },
  flag('DEMO', 'demo'),
  {
    key: 'scriptTimeoutMs',
    env: 'SCRIPT_TIMEOUT_MS',
    kind: 'integer',
    schema: { type: 'integer', minimum: 1, maximum: 600000 },
    expected: 'must be an integer from 1 to 600000 (milliseconds)',
  },
  {
    // isolated-vm refuses a memory limit below 8 MB.
    key: 'scriptMemoryMb',
    env: 'SCRIPT_MEMORY_MB',
    kind: 'integer',
    schema: { type: 'integer', minimum: 8, maximum: 65536 },
    expected: 'must be an integer from 8 to 65536 (megabytes)',
  },
  {
    key: 'maxRuleNodeExecutionsPerMessage',
    env: 'MAX_RULE_NODE_EXECUTIONS_PER_MESSAGE',
    kind: 'integer',
    schema: { type: 'integer', minimum: 0 },
    expected: 'must be an integer >= 0 (0 = unlimited)',
  },
  flag('TRACE', 'trace'),
  millis('MQTT_TIMEOUT', 'mqttTimeoutMs'),
  millis('COAP_TIMEOUT', 'coapTimeoutMs'),
  millis('CLIENT_SIDE_RPC_TIMEOUT', 'clientSideRpcTimeoutMs'),
  // ThingsBoard's DEFAULT_INACTIVITY_TIMEOUT counts seconds; a name of our own keeps a value
  // copied from a ThingsBoard setup from being read as milliseconds.
  millis('DEVICE_INACTIVITY_TIMEOUT', 'inactivityTimeoutMs'),
  {
    // Becomes part of Redis keys and channel names, so keep it to a safe alphabet.
    key: 'serviceId',
    env: 'SERVICE_ID',
    kind: 'string',
    schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' },
    expected: 'must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit',
  },
];

/** Schema of a partial settings object (one source: the file, or the environment). */
export const partialSettingsSchema: SchemaObject = {
  type: 'object',
  additionalProperties: false,
  properties: Object.fromEntries(SETTING_SPECS.map((s) => [s.key, s.schema])),
};
