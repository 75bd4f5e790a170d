// Attribute and time-series values: JSON types kept (boolean, number, string, JSON object/array),
// stored as `<ts>:<json>` so one string holds the value and its timestamp.
import { StoreValidationError } from './errors.js';
import type { JsonValue } from './json.js';

export type KvValue = Exclude<JsonValue, null>;

export function encodeKv(ts: number, value: KvValue): string {
  return `${ts}:${JSON.stringify(value)}`;
}

export function decodeKv(stored: string): { ts: number; value: KvValue } {
  const colon = stored.indexOf(':');
  return { ts: Number(stored.slice(0, colon)), value: JSON.parse(stored.slice(colon + 1)) as KvValue };
}

export function checkKvValue(key: string, value: unknown): KvValue {
  if (key === '') throw new StoreValidationError('key must not be empty');
  switch (typeof value) {
    case 'boolean':
    case 'string':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new StoreValidationError(`value of "${key}" is not a finite number`);
      return value;
    case 'object':
      if (value !== null) return value as KvValue;
  }
  throw new StoreValidationError(`value of "${key}" must be a boolean, number, string or JSON object`);
}

export function checkTs(ts: number): void {
  if (!Number.isSafeInteger(ts) || ts < 0) throw new StoreValidationError(`invalid timestamp ${ts}`);
}
