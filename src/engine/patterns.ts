import type { TbMsg } from '../msg/tb-msg.js';

// ThingsBoard's TbNodeUtils.processPattern: `${key}` takes a metadata value, `$[a.b]` a value
// from the message data (objects and arrays are left as they are), `${*}` / `$[*]` the whole
// metadata / data as JSON. A placeholder that finds nothing stays as it is.
const PATTERN = /\$\{([^}]+)\}|\$\[([^\]]+)\]/g;

/** True when the text holds a `${...}` or `$[...]` placeholder (plain strings skip the work). */
export function hasPattern(text: string): boolean {
  return text.includes('${') || text.includes('$[');
}

/** Replaces the placeholders of `pattern` from `msg`; `data` is msg.data parsed once by the caller, when it has it. */
export function processPattern(pattern: string, msg: TbMsg, data: unknown = parseData(msg)): string {
  if (!hasPattern(pattern)) return pattern;
  return pattern.replace(PATTERN, (whole, mdKey: string | undefined, dataPath: string | undefined) => {
    if (mdKey !== undefined) {
      if (mdKey === '*') return JSON.stringify(msg.metaData);
      const value = msg.metaData[mdKey];
      return value === undefined ? whole : value;
    }
    if (dataPath === '*') return msg.data;
    const value = valueAtPath(data, dataPath ?? '');
    return value === undefined ? whole : value;
  });
}

/** Applies processPattern to each element. */
export function processPatterns(patterns: readonly string[], msg: TbMsg): string[] {
  if (!patterns.some(hasPattern)) return [...patterns];
  const data = parseData(msg);
  return patterns.map((p) => processPattern(p, msg, data));
}

function parseData(msg: TbMsg): unknown {
  try {
    return JSON.parse(msg.data) as unknown;
  } catch {
    return undefined;
  }
}

/** The text of a value node at a dotted path; undefined for objects, arrays, null and missing paths. */
function valueAtPath(data: unknown, path: string): string | undefined {
  let current: unknown = data;
  for (const part of path.split('.')) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  if (typeof current === 'string') return current;
  if (typeof current === 'number' || typeof current === 'boolean') return String(current);
  return undefined;
}
