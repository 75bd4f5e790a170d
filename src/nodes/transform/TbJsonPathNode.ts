import { JSONPath } from 'jsonpath-plus';
import { defineNode, FAILURE, NodeConfigError, SUCCESS, tellFailure, tellSuccess } from '../../engine/node-api.js';
import { isPlainObject, parseMsgData, transformMsg } from '../../msg/tb-msg.js';

export interface TbJsonPathNodeConfig {
  jsonPath: string;
}

const DEFAULT_JSON_PATH = '$';

/** What JSON.parse can return. */
type ParsedJson = null | boolean | number | string | object;

/** One step of a definite path: a property name or a single array index. */
type Step = { readonly kind: 'prop'; readonly name: string } | { readonly kind: 'index'; readonly index: number };

interface ParsedPath {
  /** The path as evaluated: trimmed, with "$." put in front when it had no root. */
  readonly path: string;
  /** Jayway's "definite" path (names and single indexes only): returns one value, not a list. */
  readonly definite: boolean;
  /** The steps, when the path is definite. */
  readonly steps: readonly Step[];
}

/** Index of the "]" closing the "[" at `open`, skipping quoted text and nested brackets. */
function closingBracket(path: string, open: number): number {
  let depth = 0;
  let quote: string | null = null;
  for (let i = open; i < path.length; i++) {
    const c = path[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '[' || c === '(') depth++;
    else if (c === ']' || c === ')') {
      depth--;
      if (depth === 0) {
        if (c !== ']') break;
        return i;
      }
    }
  }
  throw new Error(`no closing "]" for the "[" at position ${open}`);
}

/**
 * Reads a Jayway JsonPath far enough to know whether it is definite and, if so, its steps.
 * Indefinite parts (.., *, filters, slices, unions) are left to jsonpath-plus. Throws on
 * the syntax errors Jayway rejects at compile time and on what jsonpath-plus cannot do.
 */
function parsePath(raw: string): ParsedPath {
  let path = raw.trim();
  if (path === '') throw new Error('path must not be empty');
  // Jayway reads a path without a root as relative to "$".
  if (!path.startsWith('$') && !path.startsWith('@')) path = `$.${path}`;
  if (path.endsWith('.')) throw new Error("path must not end with a '.' or '..'");
  const steps: Step[] = [];
  let definite = true;
  let i = 1;
  while (i < path.length) {
    const c = path[i];
    if (c === '.') {
      if (path[i + 1] === '.') {
        definite = false;
        i += 2;
        if (path[i] === '[') continue;
      } else {
        i += 1;
      }
      const start = i;
      while (i < path.length && path[i] !== '.' && path[i] !== '[') i++;
      const name = path.slice(start, i).trim();
      if (name === '') throw new Error(`empty property name at position ${start}`);
      if (name.endsWith(')')) throw new Error(`path functions such as "${name}" are not supported`);
      if (name === '*') definite = false;
      else steps.push({ kind: 'prop', name });
    } else if (c === '[') {
      const end = closingBracket(path, i);
      const inner = path.slice(i + 1, end).trim();
      i = end + 1;
      const quoted = /^'((?:[^'\\]|\\.)*)'$|^"((?:[^"\\]|\\.)*)"$/.exec(inner);
      if (quoted) {
        steps.push({ kind: 'prop', name: (quoted[1] ?? quoted[2] ?? '').replace(/\\(.)/g, '$1') });
      } else if (/^-?\d+$/.test(inner)) {
        steps.push({ kind: 'index', index: Number(inner) });
      } else if (inner === '') {
        throw new Error(`empty brackets at position ${end - 1}`);
      } else if (/^(['"]).*\1\s*,/.test(inner)) {
        // Jayway merges ['a','b'] into one object; jsonpath-plus has no such form.
        throw new Error(`multi-property brackets [${inner}] are not supported`);
      } else {
        definite = false;
      }
    } else {
      throw new Error(`unexpected character '${c}' at position ${i}`);
    }
  }
  return { path, definite, steps };
}

function stepText(step: Step): string {
  return step.kind === 'prop' ? `['${step.name}']` : `[${step.index}]`;
}

function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'array' : typeof value;
}

/**
 * Jayway's evaluation of a definite path (no options): the value, or PathNotFoundException
 * with Jayway's messages. Java class names in two messages are replaced by JSON types; an
 * index out of range gives "No results" (the Jackson provider would yield a null instead).
 */
function readDefinite(json: unknown, steps: readonly Step[]): unknown {
  const full = `$${steps.map(stepText).join('')}`;
  let current = json;
  let at = '$';
  steps.forEach((step, k) => {
    const leaf = k === steps.length - 1;
    if (step.kind === 'prop') {
      if (!isPlainObject(current)) {
        throw new Error(
          `Expected to find an object with property ['${step.name}'] in path ${at} but found '${jsonTypeOf(current)}'. ` +
            'This is not a json object.',
        );
      }
      const here = `${at}['${step.name}']`;
      if (!Object.prototype.hasOwnProperty.call(current, step.name)) {
        throw new Error(leaf ? `No results for path: ${full}` : `Missing property in path ${here}`);
      }
      current = current[step.name];
      at = here;
    } else {
      if (!Array.isArray(current)) {
        throw new Error(`Filter: [${step.index}] can only be applied to arrays. Current context is: ${JSON.stringify(current)}`);
      }
      const index = step.index < 0 ? current.length + step.index : step.index;
      if (index < 0 || index >= current.length) throw new Error(`No results for path: ${full}`);
      current = current[index] as unknown;
      at += stepText(step);
    }
  });
  return current;
}

/**
 * Replaces the data with the result of a JSONPath (Jayway semantics): a definite path
 * gives its value, an indefinite one the list of matches (maybe empty). "$" passes the
 * message through untouched; a definite path that matches nothing goes to Failure.
 */
export const TbJsonPathNode = defineNode<TbJsonPathNodeConfig>({
  type: 'org.thingsboard.rule.engine.transform.TbJsonPathNode',
  category: 'TRANSFORMATION',
  uiName: 'json path',
  version: 0,
  relations: [SUCCESS, FAILURE],
  configSchema: {
    type: 'object',
    properties: { jsonPath: { type: 'string', default: DEFAULT_JSON_PATH } },
  },
  defaultConfig: { jsonPath: DEFAULT_JSON_PATH },
  create(config) {
    // ThingsBoard skips parsing the data only for exactly "$".
    if (config.jsonPath === DEFAULT_JSON_PATH) return { onMsg: (msg) => tellSuccess(msg) };
    let parsed: ParsedPath;
    try {
      parsed = parsePath(config.jsonPath);
    } catch (e) {
      throw new NodeConfigError(`jsonPath "${config.jsonPath}" is not a valid JSONPath: ${(e as Error).message}`, '/jsonPath');
    }
    const { path, definite, steps } = parsed;
    return {
      onMsg(msg) {
        const json = parseMsgData(msg);
        if (json === undefined) return tellFailure(msg, 'Msg data is not a valid JSON!');
        try {
          // eval 'safe': filter expressions run in jsonpath-plus's sandboxed evaluator, never as JS.
          const result = definite
            ? readDefinite(json, steps)
            : ((JSONPath({ path, json: json as ParsedJson, wrap: true, eval: 'safe' }) as unknown) ?? []);
          return tellSuccess(transformMsg(msg, { data: JSON.stringify(result) }));
        } catch (e) {
          return tellFailure(msg, e);
        }
      },
    };
  },
});
