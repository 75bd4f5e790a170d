// Settings from environment variables and an optional JSON file, checked with ajv, then frozen.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import {
  partialSettingsSchema,
  ROLES,
  SETTING_SPECS,
  type SettingKey,
  type Settings,
  type SettingSpec,
} from './settings-schema.js';

export { LOG_LEVELS, ROLES, SETTING_SPECS } from './settings-schema.js';
export type { LogLevel, Role, Settings, SettingSpec } from './settings-schema.js';

/** Environment variable naming the JSON settings file. */
export const CONFIG_FILE_ENV = 'RPC_CHAINS_CONFIG';

export const DEFAULT_SETTINGS: Settings = Object.freeze({
  redisUrl: undefined,
  dataDir: './data',
  httpPort: 8080,
  mqttPort: 1883,
  coapPort: 5683,
  host: '0.0.0.0',
  roles: Object.freeze([...ROLES]),
  logLevel: 'info',
  demo: true,
  scriptTimeoutMs: 500,
  scriptMemoryMb: 64,
  maxRuleNodeExecutionsPerMessage: 50,
  trace: false,
  serviceId: undefined,
  healthPort: undefined,
  mqttTimeoutMs: 10_000,
  coapTimeoutMs: 10_000,
  clientSideRpcTimeoutMs: 60_000,
  inactivityTimeoutMs: 600_000,
});

/** One or more wrong settings; each problem names the variable (or file key) and what is expected. */
export class SettingsError extends Error {
  override readonly name = 'SettingsError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
  }
}

export interface LoadSettingsOptions {
  /** JSON settings file; takes the place of $RPC_CHAINS_CONFIG. */
  readonly file?: string;
}

type SettingValues = { [K in SettingKey]?: unknown };

// Own instance: the shared one fills defaults, and we need to know which keys a source really set.
// No coerceTypes: ajv's coercion takes "0x10" or "1e3" as integers; envValue() converts strictly
// and leaves anything else a string, so ajv reports it as the wrong type.
const validatePartial = new Ajv({ allErrors: true, strict: true }).compile<SettingValues>(partialSettingsSchema);

const specByKey = new Map<string, SettingSpec>(SETTING_SPECS.map((s) => [s.key, s]));

export function loadSettings(env: NodeJS.ProcessEnv = process.env, opts: LoadSettingsOptions = {}): Settings {
  const problems: string[] = [];

  const fileName = opts.file ?? nonEmpty(env[CONFIG_FILE_ENV]);
  let fromFile: SettingValues = {};
  if (fileName !== undefined) {
    const label = opts.file !== undefined ? `config file ${resolve(fileName)}` : `${CONFIG_FILE_ENV}=${fileName}`;
    const read = readSettingsFile(fileName, label);
    if (typeof read === 'string') problems.push(read);
    else {
      fromFile = read;
      problems.push(...check(fromFile, 'file', label));
    }
  }

  const fromEnv: SettingValues = {};
  for (const spec of SETTING_SPECS) {
    const raw = nonEmpty(env[spec.env]);
    if (raw !== undefined) fromEnv[spec.key] = envValue(spec, raw);
  }
  problems.push(...check(fromEnv, 'env', '', env));

  if (problems.length > 0) throw new SettingsError(problems);

  // Both sources passed the schema, so every value has its field's type; env wins over the file.
  const merged = { ...DEFAULT_SETTINGS, ...fromFile, ...fromEnv } as Settings;
  return Object.freeze({ ...merged, roles: Object.freeze([...merged.roles]) });
}

/** An empty variable counts as unset, so `REDIS_URL=` means "embedded", as with most tools. */
function nonEmpty(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v === undefined || v === '' ? undefined : v;
}

function envValue(spec: SettingSpec, raw: string): unknown {
  switch (spec.kind) {
    case 'string':
      return raw;
    case 'integer':
      return /^[+-]?\d+$/.test(raw) ? Number(raw) : raw;
    case 'boolean': {
      const v = raw.toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off'].includes(v)) return false;
      return raw;
    }
    case 'roles':
      return raw.split(',').map((r) => r.trim()).filter((r) => r !== '');
  }
}

/** The file's settings object, or a problem sentence. */
function readSettingsFile(fileName: string, label: string): SettingValues | string {
  let text: string;
  try {
    text = readFileSync(fileName, 'utf8');
  } catch (e) {
    return `${label}: cannot read the file (${(e as Error).message})`;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return `${label}: not valid JSON (${(e as Error).message})`;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return `${label}: must be a JSON object of settings, e.g. {"mqttPort": 1883}`;
  }
  // null in the file means "use the default", e.g. {"redisUrl": null} for the embedded Redis.
  return Object.fromEntries(Object.entries(parsed).filter(([, v]) => v !== null));
}

function check(values: SettingValues, source: 'file' | 'env', fileLabel: string, env?: NodeJS.ProcessEnv): string[] {
  if (validatePartial(values)) return [];
  const problems: string[] = [];
  const reported = new Set<string>();
  for (const e of validatePartial.errors ?? []) {
    if (e.keyword === 'additionalProperties') {
      problems.push(`${fileLabel}: ${unknownKey(String(e.params.additionalProperty))}`);
      continue;
    }
    const key = topKey(e);
    const spec = specByKey.get(key);
    if (spec === undefined || reported.has(key)) continue; // allErrors gives several per field
    reported.add(key);
    if (source === 'env') {
      problems.push(`${spec.env}: ${spec.expected}, got ${JSON.stringify(env?.[spec.env]?.trim())}`);
    } else {
      const got = JSON.stringify(values[spec.key]);
      problems.push(`${fileLabel}: "${key}" ${spec.expectedInFile ?? spec.expected}, got ${got}`);
    }
  }
  return problems;
}

function topKey(e: ErrorObject): string {
  return e.instancePath.split('/')[1] ?? '';
}

function unknownKey(key: string): string {
  // People often copy the environment name or miscase the key; point at the right one.
  const spec = SETTING_SPECS.find((s) => s.env === key || s.key.toLowerCase() === key.toLowerCase());
  const hint = spec ? `; did you mean "${spec.key}"?` : `; known keys: ${SETTING_SPECS.map((s) => s.key).join(', ')}`;
  return `unknown key "${key}"${hint}`;
}
