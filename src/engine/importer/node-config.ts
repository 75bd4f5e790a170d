import type { ValidateFunction } from 'ajv';
import { ajv, describeAjvErrors, type SchemaProblem } from '../ajv.js';
import type { JsonObject, RuleNodeDefinition } from '../node-api.js';
import { isPlainObject } from '../../msg/tb-msg.js';

/** A problem in one node's configuration, with a JSON pointer relative to the configuration. */
export type ConfigProblem = SchemaProblem;

export type PreparedConfig<C> = { ok: true; config: C } | { ok: false; problems: ConfigProblem[] };

const validators = new WeakMap<RuleNodeDefinition<unknown>, ValidateFunction>();

function validatorOf(def: RuleNodeDefinition<unknown>): ValidateFunction {
  let v = validators.get(def);
  if (!v) {
    v = ajv.compile(def.configSchema);
    validators.set(def, v);
  }
  return v;
}

/**
 * Turns a configuration as found in an export into the node's current configuration:
 * runs the upgrade steps from `configurationVersion` (missing = 0), then validates it
 * against the node's schema. Like ThingsBoard, a null value counts as missing and a
 * missing boolean reads as false; other missing keys get the catalogue's defaults.
 */
export function prepareNodeConfig<C>(
  def: RuleNodeDefinition<C>,
  rawConfig: unknown,
  configurationVersion: number | null | undefined,
): PreparedConfig<C> {
  if (rawConfig !== null && rawConfig !== undefined && !isPlainObject(rawConfig)) {
    return { ok: false, problems: [{ pointer: '', message: 'configuration must be a JSON object' }] };
  }
  let config: JsonObject = structuredClone(rawConfig ?? {});
  const from = configurationVersion ?? 0;
  if (from > def.version) {
    return {
      ok: false,
      problems: [{ pointer: '', message: `configurationVersion ${from} is newer than this node's version ${def.version}` }],
    };
  }
  for (let v = from; v < def.version; v++) {
    if (!def.upgrade) break;
    try {
      config = def.upgrade(v, config);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      return { ok: false, problems: [{ pointer: '', message: `upgrade from version ${v} failed: ${message}` }] };
    }
  }
  for (const key of Object.keys(config)) if (config[key] === null) delete config[key];
  const properties: Record<string, { type?: unknown }> = isPlainObject(def.configSchema.properties)
    ? (def.configSchema.properties as Record<string, { type?: unknown }>)
    : {};
  for (const [key, prop] of Object.entries(properties)) {
    if (prop.type === 'boolean' && config[key] === undefined) config[key] = false;
  }
  const validate = validatorOf(def as RuleNodeDefinition<unknown>);
  if (!validate(config)) {
    return { ok: false, problems: describeAjvErrors(validate.errors) };
  }
  return { ok: true, config: config as C };
}
