// What script nodes do with a script's result: name its type in errors, and turn a
// transform/generate result {msg?, metadata?, msgType?} into message changes.
import { isPlainObject, type MsgChanges } from '../../msg/tb-msg.js';

/** The result's JSON type as ThingsBoard names it in "Wrong result type: …" (Jackson's JsonNodeType). */
export function jsonTypeName(value: unknown): string {
  if (value === undefined) return 'MISSING';
  if (value === null) return 'NULL';
  if (Array.isArray(value)) return 'ARRAY';
  if (typeof value === 'object') return 'OBJECT';
  return typeof value === 'string' ? 'STRING' : typeof value === 'number' ? 'NUMBER' : 'BOOLEAN';
}

export class WrongResultError extends Error {
  constructor(what: string, value: unknown) {
    super(`Wrong ${what} type: ${jsonTypeName(value)}`);
    this.name = 'WrongResultError';
  }
}

/**
 * ThingsBoard's unbindMsg: `msg` becomes the new data (as JSON text), `metadata` the new
 * metadata (values stringified, null dropped), `msgType` the new type. A missing field, a
 * null metadata and an empty msgType keep the original. Throws WrongResultError otherwise.
 */
export function msgChangesOf(result: unknown): MsgChanges {
  if (!isPlainObject(result)) throw new WrongResultError('result', result);
  const changes: MsgChanges = {};
  if (Object.hasOwn(result, 'msg')) changes.data = JSON.stringify(result.msg);
  const metadata = Object.hasOwn(result, 'metadata') ? result.metadata : null;
  if (metadata !== null && metadata !== undefined) {
    if (!isPlainObject(metadata)) throw new WrongResultError('metadata', metadata);
    const md: Record<string, string> = {};
    for (const [key, value] of Object.entries(metadata)) {
      if (value !== null && value !== undefined) md[key] = typeof value === 'string' ? value : JSON.stringify(value);
    }
    changes.metaData = md;
  }
  const msgType = Object.hasOwn(result, 'msgType') ? result.msgType : null;
  if (msgType !== null && msgType !== undefined && msgType !== '') {
    changes.type = typeof msgType === 'string' ? msgType : JSON.stringify(msgType);
  }
  return changes;
}
