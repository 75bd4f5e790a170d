// The REST fuzzer: malformed requests generated from GET /api/openapi.json with a seeded PRNG
// (each case from its own seed, so one case can be replayed alone), sent over real HTTP (and, for
// what fetch cannot send, a raw socket), and judged by oracles: no 5xx except where the spec
// documents one, every error of the REST API in the JSON envelope, no way in without a valid
// token or with the wrong role, no other tenant's ids in an answer, no prototype pollution, no
// unhandled rejection, a server that still answers, memory back near its level.
// Used by test/security/rest-fuzz.test.ts (short) and scripts/reliability/security-fuzz.ts (full).
import { Agent, request as httpRequest, type ClientRequest } from 'node:http';
import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { caseSeed, Rng } from '../../scripts/reliability/lib/rng.js';
import type { Caller, World } from './world.js';


// ---- routes from the OpenAPI document --------------------------------------------------------

type Schema = Record<string, unknown>;

export interface FuzzRoute {
  readonly method: string;
  readonly path: string;
  readonly params: readonly { name: string; schema: Schema }[];
  readonly query: readonly { name: string; schema: Schema; required: boolean }[];
  readonly body: Schema | undefined;
  /** Undefined: not guarded by a JWT (login, the device API, ...). */
  readonly authorities: readonly string[] | undefined;
}

interface OpenApiParameter {
  name: string;
  in: 'path' | 'query';
  required?: boolean;
  schema?: Schema;
}
interface OpenApiOperation {
  parameters?: OpenApiParameter[];
  requestBody?: { content?: { 'application/json'?: { schema?: Schema } } };
  'x-authorities'?: string[];
}

export function routesOf(doc: { paths: Record<string, Record<string, OpenApiOperation>> }): FuzzRoute[] {
  const routes: FuzzRoute[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      // Streams never end: not something a request/response fuzzer can judge.
      if (path === '/api/dashboard/events') continue;
      const ps = op.parameters ?? [];
      routes.push({
        method: method.toUpperCase(),
        path,
        // Every {name} of the path, documented or not (the device API documents none).
        params: [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string).map((name) => ({ name, schema: ps.find((p) => p.in === 'path' && p.name === name)?.schema ?? {} })),
        query: ps.filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema ?? {}, required: p.required === true })),
        body: op.requestBody?.content?.['application/json']?.schema,
        authorities: op['x-authorities'],
      });
    }
  }
  return routes.sort((a, b) => `${a.method} ${a.path}`.localeCompare(`${b.method} ${b.path}`));
}

// ---- cases -----------------------------------------------------------------------------------

export interface FuzzCase {
  readonly index: number;
  readonly route: FuzzRoute | null;
  readonly method: string;
  /** Path and query, as sent. */
  readonly url: string;
  readonly caller: Caller | 'garbage';
  readonly headers: Record<string, string>;
  readonly body: Buffer | undefined;
  /** Sent over a raw socket, byte for byte (fetch would normalize or refuse it). */
  readonly raw: Buffer | undefined;
  /** What was done to the request, for the report. */
  readonly kinds: string[];
}

const HUGE = [1024, 16 * 1024, 256 * 1024, 1024 * 1024] as const;
const BAD_IDS = [
  '',
  'not-a-uuid',
  '00000000000000000000000000000000',
  '00000000-0000-0000-0000-000000000000',
  '13814000-1dd2-11b2-8080-808080808080',
  'ZZZZZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZZZZZZZZZ',
  '{{7*7}}',
  "1' OR '1'='1",
  '*',
  '%00',
  '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '%E0%A4%A',
  '%',
  '%25',
  '%F0%9F%92%A9',
  '%u202e',
  'null',
  'undefined',
  '__proto__',
  'constructor',
  'prototype',
  '-1',
  '1e309',
  'true',
  '[]',
  '%7B%7D',
];
const UNICODE = ['\u0000', '\u202e', '\ufeff', '\uffff', '\ud800', '\udfff', '💩', 'é', 'e\u0301', 'Ω', '\u2028', '\u0085', '\u200b', '𝕏', 'ﷺ', '\\', '"', "'", '<script>', '${x}', '\r\n'];
const BAD_QUERY_VALUES = ['', 'abc', '-1', '0', '1.5', '1e309', '9007199254740993', '0x10', 'NaN', 'Infinity', 'true', 'null', '[]', '{}', '%00', '%FF', '%', ' 1', '1 ', '+1', '-0', '10001', '2147483648'];
const PROTO_QUERIES = ['__proto__=x', '__proto__[polluted]=1', 'constructor[prototype][polluted]=1', '__proto__.polluted=1', 'constructor=1', 'prototype=1', 'hasOwnProperty=1', 'toString=1', 'valueOf=1'];
const PROTO_BODIES = [
  '{"__proto__":{"polluted":"yes","isAdmin":true,"authority":"SYS_ADMIN"}}',
  '{"constructor":{"prototype":{"polluted":"yes"}}}',
  '{"__proto__":null}',
  '{"__proto__":[]}',
  '{"toString":"x","valueOf":1,"hasOwnProperty":"x"}',
];
const CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=----x',
  'application/json; charset=utf-16le',
  'application/json; charset=latin1',
  'application/json; charset=nonsense',
  'APPLICATION/JSON',
  'application/json, text/plain',
  'application/vnd.api+json',
  'application/xml',
  '*/*',
  'application/json; ' + 'x'.repeat(4096),
  ';',
  'application/',
];

export interface CaseContext {
  readonly world: World;
  readonly routes: readonly FuzzRoute[];
}

export function generateCase(ctx: CaseContext, seed: number, index: number): FuzzCase {
  const rng = new Rng(caseSeed(seed, index));
  const kinds: string[] = [];
  const caller = rng.weighted<Caller | 'garbage'>([
    [45, 'adminA'],
    [14, 'custA'],
    [10, 'sys'],
    [10, 'adminB'],
    [5, 'custA2'],
    [3, 'custB'],
    [8, 'none'],
    [2, 'expired'],
    [3, 'garbage'],
  ]);
  const headers: Record<string, string> = {};
  const token = caller === 'garbage' ? garbageToken(rng) : ctx.world.tokens[caller];
  if (token !== null) headers['x-authorization'] = `Bearer ${token}`;

  if (rng.chance(0.03)) {
    kinds.push('raw');
    return { index, route: null, method: 'RAW', url: '', caller, headers, body: undefined, raw: rawRequest(rng, ctx, headers, kinds), kinds };
  }

  const route = rng.pick(ctx.routes);
  let method = route.method;
  if (rng.chance(0.02)) {
    method = rng.pick(['PUT', 'PATCH', 'OPTIONS', 'PROPFIND', 'DELETE', 'GET', 'POST']);
    kinds.push(`method ${method}`);
  }

  // Path
  let path = route.path;
  for (const p of route.params) {
    let value = paramValue(rng, ctx, route, p.name, p.schema);
    if (rng.chance(0.25)) {
      value = badPathValue(rng);
      kinds.push(`path ${p.name}`);
    }
    path = path.replace(`{${p.name}}`, value);
  }

  // Query
  const query: string[] = [];
  for (const q of route.query) {
    if (q.required || rng.chance(0.4)) query.push(`${encodeURIComponent(q.name)}=${encodeURIComponent(String(valueFor(rng, ctx, q.name, q.schema, 0)))}`);
  }
  if (rng.chance(0.3)) {
    const what = rng.pick(['bad', 'drop', 'dup', 'proto', 'huge', 'unicode', 'unknown', 'array']);
    kinds.push(`query ${what}`);
    const name = route.query.length > 0 ? rng.pick(route.query).name : 'pageSize';
    switch (what) {
      case 'bad':
        query.push(`${name}=${rng.pick(BAD_QUERY_VALUES)}`);
        break;
      case 'drop':
        query.splice(rng.int(0, Math.max(0, query.length - 1)), 1);
        break;
      case 'dup':
        query.push(`${name}=1`, `${name}=2`);
        break;
      case 'proto':
        query.push(rng.pick(PROTO_QUERIES));
        break;
      case 'huge':
        query.push(`${name}=${'9'.repeat(rng.pick([100, 1000, 6000]))}`);
        break;
      case 'unicode':
        query.push(`${name}=${encodeURIComponent(rng.pick(UNICODE.filter((u) => !/[\ud800-\udfff]/.test(u))))}`);
        break;
      case 'unknown':
        query.push(`x${rng.int(0, 99)}=${rng.int(0, 9)}`);
        break;
      case 'array':
        query.push(`${name}[]=1`, `${name}[0]=2`);
        break;
    }
  }
  const url = query.length > 0 ? `${path}?${query.join('&')}` : path;

  // Body
  let body: Buffer | undefined;
  const wantsBody = route.body !== undefined || ((route.path.startsWith('/api/v1/') || route.path.includes('/rpc/')) && route.method === 'POST');
  if (wantsBody || rng.chance(0.05)) {
    const base = route.body !== undefined ? valueFor(rng, ctx, 'body', route.body, 0) : route.path.includes('/rpc/') ? rpcBody(rng) : { temperature: rng.int(-40, 60) };
    const mutate = rng.chance(0.7);
    const text = mutate ? mutateBody(rng, ctx, base, route.body, kinds) : JSON.stringify(base);
    body = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    headers['content-type'] = 'application/json';
    if (rng.chance(0.08)) {
      const type = rng.pick(CONTENT_TYPES);
      headers['content-type'] = type;
      kinds.push(`content-type ${type.slice(0, 40)}`);
      if (type.includes('utf-16')) body = Buffer.from(body.toString('utf8'), 'utf16le');
    } else if (rng.chance(0.03)) {
      delete headers['content-type'];
      kinds.push('no content-type');
    }
  }
  if (rng.chance(0.02)) {
    headers['x-fuzz'] = 'v'.repeat(rng.pick([1000, 8000, 20_000]));
    kinds.push('big header');
  }
  if (kinds.length === 0) kinds.push('valid-ish');
  return { index, route, method, url, caller, headers, body, raw: undefined, kinds };
}

function garbageToken(rng: Rng): string {
  return rng.pick(['x', 'a.b.c', 'eyJhbGciOiJub25lIn0.e30.', '.'.repeat(rng.int(1, 50)), 'Bearer', '%F0%9F%92%A9', 'A'.repeat(rng.pick([10, 1000, 7000]))]);
}

/** A path parameter that the route accepts (known ids of both tenants, fresh ids, enums). */
function paramValue(rng: Rng, ctx: CaseContext, route: FuzzRoute, name: string, schema: Schema): string {
  const ids = ctx.world.ids;
  // Known ids stay out of the destructive routes, so that the world lives through the run.
  const destructive = route.method === 'DELETE' && /\/(tenant|device|user)\/\{/.test(route.path);
  if (name === 'token') return rng.pick([ids.deviceAToken, ids.deviceAToken, ids.deviceBToken, 'no-such-token', rng.uuid()]);
  if (name === 'requestId') return String(rng.pick([0, 1, 2, rng.int(0, 1_000_000)]));
  if (destructive) return rng.uuid();
  return String(valueFor(rng, ctx, name, schema, 0));
}

function badPathValue(rng: Rng): string {
  return rng.weighted<() => string>([
    [6, () => rng.pick(BAD_IDS)],
    [2, () => 'a'.repeat(rng.pick([64, 1024, 8192, 20_000]))],
    [2, () => encodeURIComponent(rng.pick(UNICODE.filter((u) => !/[\ud800-\udfff]/.test(u))))],
    [1, () => rng.uuid().toUpperCase()],
    [1, () => `${rng.uuid()}x`],
    [1, () => rng.uuid().replace(/-/g, '')],
  ])();
}

function rpcBody(rng: Rng): unknown {
  return {
    method: rng.pick(['getState', 'setMode', '', 42]),
    params: rng.pick([{}, { a: 1 }, 'text', null, [1, 2]]),
    // Short windows and persistence: a fuzz case must not wait for a device for minutes.
    ...(rng.chance(0.5) ? { persistent: true } : { expirationTime: Date.now() + rng.int(0, 1500) }),
  };
}

/** A value valid for the schema where that is easy; ids from the world when the name says so. */
function valueFor(rng: Rng, ctx: CaseContext, name: string, schema: Schema, depth: number): unknown {
  const ids = ctx.world.ids;
  const anyOf = schema.anyOf as Schema[] | undefined;
  if (Array.isArray(anyOf) && anyOf.length > 0) return valueFor(rng, ctx, name, rng.pick(anyOf), depth);
  const en = schema.enum as unknown[] | undefined;
  if (Array.isArray(en) && en.length > 0) return rng.pick(en);
  let type = schema.type as string | string[] | undefined;
  if (Array.isArray(type)) type = rng.pick(type);
  if (type === undefined) type = schema.properties ? 'object' : rng.pick(['string', 'integer', 'object', 'boolean']);
  switch (type) {
    case 'string': {
      if (schema.format === 'uuid' || /id$/i.test(name)) {
        const byName: Record<string, string[]> = {
          deviceId: [ids.deviceA, ids.deviceB],
          customerId: [ids.customerA, ids.customerA2, ids.customerB],
          userId: [ids.custA, ids.custA2, ids.adminA, ids.custB],
          tenantId: [ids.tenantA, ids.tenantB],
          ruleChainId: [ids.chainA],
          deviceProfileId: [ids.profileA],
          entityId: [ids.deviceA, ids.customerA, ids.tenantA, ids.deviceB],
          fromId: [ids.deviceA, ids.customerA],
          toId: [ids.customerA, ids.deviceA],
        };
        const known = byName[name] ?? [ids.deviceA, ids.customerA, ids.tenantA];
        return rng.chance(0.75) ? rng.pick(known) : rng.uuid();
      }
      if (schema.format === 'email') return `fuzz-${rng.int(0, 1e6)}@fuzz.example`;
      if (name === 'keys') return rng.pick(['temperature', 'a,b', 'matrix', '']);
      return rng.pick(['fuzz', 'Device 1', 'default', 'x'.repeat(rng.int(1, 20)), 'ANY']);
    }
    case 'integer':
    case 'number': {
      const min = typeof schema.minimum === 'number' ? schema.minimum : 0;
      const max = typeof schema.maximum === 'number' ? Math.min(schema.maximum, min + 100) : min + 100;
      return name === 'pageSize' ? rng.int(1, 20) : name === 'page' ? rng.int(0, 2) : rng.int(min, max);
    }
    case 'boolean':
      return rng.chance(0.5);
    case 'null':
      return null;
    case 'array':
      return depth > 3 ? [] : Array.from({ length: rng.int(0, 3) }, () => valueFor(rng, ctx, name, (schema.items as Schema | undefined) ?? {}, depth + 1));
    case 'object':
    default: {
      if (depth > 4) return {};
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      const required = new Set((schema.required as string[] | undefined) ?? []);
      const out: Record<string, unknown> = {};
      for (const [k, s] of Object.entries(props)) if (required.has(k) || rng.chance(0.5)) out[k] = valueFor(rng, ctx, k, s, depth + 1);
      if (Object.keys(props).length === 0) out[rng.pick(['temperature', 'a', 'key'])] = rng.int(0, 100);
      return out;
    }
  }
}

/** The body text of a mutated case (a Buffer when it is not valid UTF-8). */
function mutateBody(rng: Rng, ctx: CaseContext, base: unknown, schema: Schema | undefined, kinds: string[]): string | Buffer {
  const what = rng.weighted<string>([
    [12, 'wrong-type'],
    [6, 'drop-required'],
    [8, 'proto'],
    [5, 'huge-string'],
    [5, 'deep'],
    [8, 'unicode'],
    [8, 'random-json'],
    [8, 'truncated'],
    [3, 'garbage'],
    [3, 'empty'],
    [5, 'numbers'],
    [3, 'duplicate-keys'],
    [2, 'invalid-utf8'],
    [4, 'wide'],
  ]);
  kinds.push(`body ${what}`);
  const obj: Record<string, unknown> = typeof base === 'object' && base !== null && !Array.isArray(base) ? { ...(base as Record<string, unknown>) } : { value: base };
  const keys = Object.keys(obj);
  const someKey = () => (keys.length > 0 ? rng.pick(keys) : 'name');
  switch (what) {
    case 'wrong-type': {
      const k = someKey();
      obj[k] = rng.pick<unknown>([5, -1, 1.5, true, null, [], {}, [1, 'a'], 'x', '', { id: 'x' }, { entityType: 'DEVICE' }, { id: rng.uuid(), entityType: 'TENANT' }]);
      return JSON.stringify(obj);
    }
    case 'drop-required': {
      const req = (schema?.required as string[] | undefined) ?? keys;
      for (const k of req) if (rng.chance(0.7)) delete obj[k];
      return JSON.stringify(obj);
    }
    case 'proto': {
      const inner = JSON.stringify(obj).slice(1, -1);
      const proto = rng.pick(PROTO_BODIES).slice(1, -1);
      if (rng.chance(0.3) && keys.length > 0) {
        // Nested: {"additionalInfo": {"__proto__": {...}}}
        const k = someKey();
        delete obj[k];
        const rest = JSON.stringify(obj).slice(1, -1);
        return `{${rest}${rest ? ',' : ''}"${k}":{${proto}}}`;
      }
      return `{${inner}${inner ? ',' : ''}${proto}}`;
    }
    case 'huge-string': {
      obj[someKey()] = rng.pick(['a', 'é', '💩', '\\']).repeat(rng.pick(HUGE) / 4);
      return JSON.stringify(obj);
    }
    case 'deep': {
      const depth = rng.pick([100, 1000, 5000, 20_000, 100_000]);
      const open = rng.chance(0.5) ? '[' : '{"a":';
      const close = open === '[' ? ']' : '}';
      const nested = `${open.repeat(depth)}1${close.repeat(depth)}`;
      if (rng.chance(0.5)) return nested;
      const inner = JSON.stringify({ ...obj, [someKey()]: 0 }).slice(0, -2);
      return `${inner}${nested}}`;
    }
    case 'unicode': {
      const u = Array.from({ length: rng.int(1, 8) }, () => rng.pick(UNICODE)).join('');
      const k = someKey();
      if (rng.chance(0.3)) {
        // As a key, and with escapes JSON.stringify would not write (lone surrogates).
        return JSON.stringify({ ...obj, [u]: 1 }).replace('}', ',"\\ud800\\udbff":"\\udfff"}');
      }
      obj[k] = u;
      return JSON.stringify(obj);
    }
    case 'random-json':
      return JSON.stringify(randomJson(rng, 0));
    case 'truncated': {
      const text = JSON.stringify(obj);
      return text.slice(0, rng.int(0, Math.max(0, text.length - 1)));
    }
    case 'garbage':
      return Buffer.from(Array.from({ length: rng.int(1, 200) }, () => rng.int(0, 255)));
    case 'empty':
      return rng.pick(['', ' ', '\n', 'null', '""', '0']);
    case 'numbers': {
      const text = JSON.stringify(obj);
      const n = rng.pick(['1e309', '-1e309', '-0', '1e-400', '123456789012345678901234567890', '0.1e1', '1E2', '9007199254740993']);
      const k = someKey();
      return text.replace(new RegExp(`"${k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}":("[^"]*"|[^,}]*)`), `"${k}":${n}`);
    }
    case 'duplicate-keys': {
      const k = someKey();
      const text = JSON.stringify(obj);
      return `{"${k}":"first",${text.slice(1, -1)}${text.length > 2 ? ',' : ''}"${k}":{"id":"${ctx.world.ids.deviceB}"}}`;
    }
    case 'invalid-utf8': {
      const text = JSON.stringify({ ...obj, [someKey()]: 'XX' });
      const i = text.indexOf('XX');
      return Buffer.concat([Buffer.from(text.slice(0, i)), Buffer.from(rng.pick([[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xff, 0xfe], [0xf8, 0x88, 0x80, 0x80, 0x80]])), Buffer.from(text.slice(i + 2))]);
    }
    case 'wide':
    default: {
      const n = rng.pick([100, 1000, 10_000, 50_000]);
      const wide: Record<string, number> = {};
      for (let i = 0; i < n; i++) wide[`k${i}`] = i;
      return JSON.stringify(rng.chance(0.5) ? { ...obj, additionalInfo: wide } : wide);
    }
  }
}

function randomJson(rng: Rng, depth: number): unknown {
  const kind = depth > 3 ? rng.int(0, 4) : rng.int(0, 6);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -1, 1.5, 1e21, Number.MAX_SAFE_INTEGER, -2147483649]);
    case 3:
      return rng.pick(['', 'x', 'DEVICE', rng.uuid(), 'SYS_ADMIN']);
    case 4:
      return rng.pick(UNICODE);
    case 5:
      return Array.from({ length: rng.int(0, 4) }, () => randomJson(rng, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = rng.int(0, 4); i > 0; i--) o[rng.pick(['id', 'name', 'type', 'entityType', 'tenantId', 'authority', 'x', 'scopes'])] = randomJson(rng, depth + 1);
      return o;
    }
  }
}

/** What fetch would refuse or normalize: broken framing, smuggling shapes, bad request lines. */
function rawRequest(rng: Rng, ctx: CaseContext, headers: Record<string, string>, kinds: string[]): Buffer {
  const auth = headers['x-authorization'] ? `X-Authorization: ${headers['x-authorization']}\r\n` : '';
  const dev = ctx.world.ids.deviceA;
  const what = rng.pick(['truncated', 'te-and-cl', 'bad-chunk', 'bad-line', 'bad-header', 'many-headers', 'http10', 'traversal', 'dot-segments', 'cl-negative', 'pipelined', 'nul-in-path']);
  kinds.push(what);
  const body = JSON.stringify({ name: 'raw' });
  switch (what) {
    case 'truncated':
      return Buffer.from(`POST /api/device HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: ${body.length + rng.int(1, 1000)}\r\n\r\n${body}`);
    case 'te-and-cl':
      return Buffer.from(`POST /api/device HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /api/tenants HTTP/1.1\r\nHost: x\r\n\r\n`);
    case 'bad-chunk':
      return Buffer.from(`POST /api/device HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n${body}\r\n0\r\n\r\n`);
    case 'bad-line':
      return Buffer.from(rng.pick(['GARBAGE\r\n\r\n', 'GET\r\n\r\n', 'GET /api/auth/user HTTP/9.9\r\nHost: x\r\n\r\n', '\x00\x01\x02\r\n\r\n', 'GET  /api/auth/user  HTTP/1.1\r\n\r\n']));
    case 'bad-header':
      return Buffer.from(`GET /api/device/${dev} HTTP/1.1\r\nHost: x\r\n${auth}Bad Header\r\nX-\x01: y\r\n\r\n`);
    case 'many-headers':
      return Buffer.from(`GET /api/device/${dev} HTTP/1.1\r\nHost: x\r\n${auth}${Array.from({ length: 3000 }, (_, i) => `X-H${i}: v\r\n`).join('')}\r\n`);
    case 'http10':
      return Buffer.from(`GET /api/device/${dev} HTTP/1.0\r\n${auth}\r\n`);
    case 'traversal':
      return Buffer.from(`GET /api/device/..%2F..%2Ftenants?pageSize=10&page=0 HTTP/1.1\r\nHost: x\r\n${auth}\r\n`);
    case 'dot-segments':
      return Buffer.from(`GET /api/v1/${ctx.world.ids.deviceAToken}/../../tenants?pageSize=10&page=0 HTTP/1.1\r\nHost: x\r\n${auth}\r\n`);
    case 'cl-negative':
      return Buffer.from(`POST /api/device HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: -1\r\n\r\n${body}`);
    case 'pipelined':
      return Buffer.from(`GET /api/auth/user HTTP/1.1\r\nHost: x\r\n${auth}\r\nGET /api/device/not-a-uuid HTTP/1.1\r\nHost: x\r\n${auth}\r\n`);
    case 'nul-in-path':
    default:
      return Buffer.from(`GET /api/device/${dev}\x00 HTTP/1.1\r\nHost: x\r\n${auth}\r\n`);
  }
}

// ---- sending and judging ---------------------------------------------------------------------

export interface Outcome {
  /** 0: no HTTP answer (connection closed, or a long wait the client gave up on); -1: node:http refused to send it. */
  readonly statuses: readonly number[];
  readonly contentType: string;
  readonly text: string;
  /** The client stopped waiting (see `held`). */
  readonly timedOut: boolean;
  readonly ms: number;
}

const WAIT_MS = 15_000;

/**
 * Sends one case over node:http (fetch would refuse a body on GET, some methods and header values,
 * and keeps sockets of its own that outlive the run). `deadline` (performance.now() ms): requests
 * that may rightly wait are given up on by then.
 */
export async function send(world: World, c: FuzzCase, deadline = Infinity, agent?: Agent): Promise<Outcome> {
  const t0 = performance.now();
  if (c.raw !== undefined) return sendRaw(world, c.raw, t0);
  const patience = mayHold(c) ? Math.max(500, Math.min(WAIT_MS, deadline - t0)) : WAIT_MS;
  return new Promise<Outcome>((resolve) => {
    let settled = false;
    const done = (o: Omit<Outcome, 'ms'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...o, ms: performance.now() - t0 });
    };
    const timer = setTimeout(() => {
      done({ statuses: [0], contentType: '', text: '', timedOut: true });
      req?.destroy();
    }, patience);
    let req: ClientRequest | undefined;
    try {
      const headers: Record<string, string | number> = { ...c.headers };
      if (c.body !== undefined) headers['content-length'] = c.body.length;
      req = httpRequest(`${world.base}${c.url}`, { method: c.method, headers, ...(agent ? { agent } : {}) }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => done({ statuses: [res.statusCode ?? 0], contentType: String(res.headers['content-type'] ?? ''), text: Buffer.concat(parts).toString('utf8'), timedOut: false }));
        res.on('error', () => done({ statuses: [res.statusCode ?? 0], contentType: String(res.headers['content-type'] ?? ''), text: Buffer.concat(parts).toString('utf8'), timedOut: false }));
      });
    } catch (e) {
      // node:http refuses some inputs itself (bad header characters, methods): not the server's doing.
      done({ statuses: [-1], contentType: '', text: (e as Error).message, timedOut: false });
      return;
    }
    // The server may answer (413) and close while the body is still going out: then no answer but
    // the reset, which is fine.
    req.on('error', (e) => done({ statuses: [0], contentType: '', text: `client: ${e.message}`, timedOut: false }));
    req.end(c.body);
  });
}

function sendRaw(world: World, bytes: Buffer, t0: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const port = Number(new URL(world.base).port);
    const socket = connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    let done = false;
    const finish = (timedOut: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(parts).toString('latin1');
      const statuses = [...text.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
      resolve({ statuses: statuses.length > 0 ? statuses : [0], contentType: '', text: text.slice(0, 2000), timedOut, ms: performance.now() - t0 });
    };
    const timer = setTimeout(() => finish(true), 2000);
    socket.on('data', (d: Buffer) => parts.push(d));
    socket.on('close', () => finish(false));
    socket.on('error', () => finish(false));
    socket.on('connect', () => {
      socket.write(bytes);
      // No half-close: Node's HTTP server leaves pipelined requests of a half-closed connection
      // unanswered and open (a platform quirk, seen with a bare http.Server too), which would
      // only hold up the shutdown. A truncated body ends with the connection, at the timer.
    });
  });
}

/** Routes whose 5xx the spec documents (rpc.md §2.3 missing method → 500; §2.5 v2 timeouts → 504). */
function documented5xx(c: FuzzCase, status: number): boolean {
  const path = c.route?.path ?? '';
  const rpcPost = c.method === 'POST' && /^\/api\/(plugins\/)?rpc\/(oneway|twoway)\//.test(path);
  if (rpcPost && status === 504 && path.startsWith('/api/rpc/')) return true;
  if (rpcPost && status === 500 && c.body !== undefined) return true;
  return false;
}

/** Requests that may rightly stay open past the client's patience (long polls, RPC waits). */
function mayHold(c: FuzzCase): boolean {
  const path = c.route?.path ?? '';
  return (c.method === 'GET' && (path === '/api/v1/{token}/rpc' || path === '/api/v1/{token}/attributes/updates')) || (c.method === 'POST' && path === '/api/v1/{token}/rpc') || /^\/api\/(plugins\/)?rpc\/(oneway|twoway)\//.test(path);
}

const AUTHORITY: Record<string, string> = { sys: 'SYS_ADMIN', adminA: 'TENANT_ADMIN', adminB: 'TENANT_ADMIN', custA: 'CUSTOMER_USER', custA2: 'CUSTOMER_USER', custB: 'CUSTOMER_USER' };

/** Problems that are only about the shape of an error body start with this. */
export const ENVELOPE = 'not the envelope: ';
/** A 5xx of a case whose body was nested deep ends with this. */
export const DEEP = ' (deeply nested body)';

/**
 * The finding a failure signature belongs to, when it is one already reported (see the
 * `findings` tests of test/security/rest-fuzz.test.ts), else undefined.
 */
export function knownFinding(signature: string): 'envelope' | 'deep nesting' | undefined {
  if (signature.includes(ENVELOPE)) return 'envelope';
  if (signature.endsWith(DEEP)) return 'deep nesting';
  return undefined;
}

/** The server's log line of the deep-nesting finding. */
export const DEEP_NESTING_LOG = 'Maximum call stack size exceeded';

/** Every way the answer is wrong; [] when it is fine. */
export function judge(world: World, c: FuzzCase, o: Outcome): string[] {
  const problems: string[] = [];
  for (const status of o.statuses) if (status >= 500 && !documented5xx(c, status)) problems.push(`${status}`);
  if (o.timedOut && c.raw === undefined && !mayHold(c)) problems.push(`no answer within ${WAIT_MS / 1000} s`);
  if (c.raw !== undefined || c.route === null) return problems;
  const status = o.statuses[0] ?? 0;
  const path = c.route.path;
  const deviceApi = path.startsWith('/api/v1/');
  const plainRpc = /^\/api\/(plugins\/)?rpc\//.test(path) && o.contentType.startsWith('text/plain') && (status === 403 || status === 404);
  // Node's HTTP parser answers some malformed requests itself, before any routing: fine.
  const fromNode = (o.contentType === '' && o.text === '' && [400, 413, 414, 431].includes(status)) || status === 431;
  // RPC outcomes are bare statuses with empty bodies (spec §2.5).
  const bareRpc = /^\/api\/(plugins\/)?rpc\/(oneway|twoway)\//.test(path) && [406, 408, 409].includes(status) && o.text === '';
  if (status >= 400 && status < 500 && !deviceApi && !plainRpc && !fromNode && !bareRpc) {
    let env: { status?: unknown; errorCode?: unknown; message?: unknown } | undefined;
    try {
      env = JSON.parse(o.text) as typeof env;
    } catch {
      env = undefined;
    }
    if (!o.contentType.includes('application/json') || typeof env !== 'object' || env === null || env.status !== status || typeof env.errorCode !== 'number' || typeof env.message !== 'string') {
      const code = /"code":"([A-Z_]+)"/.exec(o.text)?.[1];
      problems.push(`${ENVELOPE}${status}${code ? ` ${code}` : ''}`);
    }
  }
  if (status >= 200 && status < 300 && c.method === c.route.method) {
    const roles = c.route.authorities;
    if (roles !== undefined) {
      const role = AUTHORITY[c.caller];
      if (role === undefined) problems.push(`2xx for caller ${c.caller}`);
      else if (!roles.includes(role)) problems.push(`2xx for ${role}, route allows ${roles.join(',')}`);
    }
    problems.push(...leaksOf(world, c, o.text));
  }
  return problems;
}

function leaksOf(world: World, c: FuzzCase, text: string): string[] {
  const path = c.route?.path ?? '';
  if (path.startsWith('/api/v1/') || path.startsWith('/api/auth/')) return [];
  const i = world.ids;
  const tenantA = [i.tenantA, i.adminA, i.customerA, i.customerA2, i.custA, i.custA2, i.deviceA, i.profileA, i.chainA];
  const tenantB = [i.tenantB, i.adminB, i.customerB, i.custB, i.deviceB];
  const foreign: Record<string, string[]> = {
    adminA: tenantB,
    custA: [...tenantB, i.customerA2, i.custA2],
    adminB: tenantA,
    custB: tenantA,
    custA2: [...tenantB, i.customerA, i.custA, i.deviceA],
  };
  // An entity of tenant A that an earlier case assigned to the caller's own customer (a tenant
  // admin may move deviceA to customerA2) is the caller's to see now.
  const ownCustomer = { custA: i.customerA, custA2: i.customerA2, custB: i.customerB }[c.caller as 'custA' | 'custA2' | 'custB'];
  const assignedToCaller = ownCustomer === undefined ? new Set<string>() : idsAssignedTo(text, ownCustomer);
  // Only ids in entity references ({"entityType": ..., "id": ...}) count: free-form fields
  // (additionalInfo, titles) hold whatever earlier cases wrote there, ids included. And an id the
  // request itself sent (e.g. echoed in "Device with id [...] is not found") is no leak.
  return (foreign[c.caller] ?? [])
    .filter((id) => new RegExp(`"entityType":"[A-Z_]+","id":"${id}"`).test(text) && !c.url.includes(id) && !assignedToCaller.has(id))
    .map((id) => `leaks ${id}`);
}

/** Ids of the entities in a JSON answer whose customerId is `customerId`. */
function idsAssignedTo(text: string, customerId: string): Set<string> {
  const found = new Set<string>();
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const item of v) visit(item);
      return;
    }
    if (typeof v !== 'object' || v === null) return;
    const o = v as { id?: { id?: unknown }; customerId?: { id?: unknown } };
    if (o.customerId?.id === customerId && typeof o.id?.id === 'string') found.add(o.id.id);
    for (const child of Object.values(v)) visit(child);
  };
  try {
    visit(JSON.parse(text));
  } catch {
    // Not JSON: nothing is assigned to anyone.
  }
  return found;
}

// ---- a run -----------------------------------------------------------------------------------

export interface FuzzOptions {
  readonly seed: number;
  /** Stop after this many cases ... */
  readonly cases: number;
  /** ... or after this long, whichever comes first. */
  readonly seconds: number;
  readonly concurrency: number;
  /** Only this case (replay). */
  readonly only?: number;
  readonly log?: (line: string) => void;
}

export interface Failure {
  readonly index: number;
  readonly signature: string;
  readonly request: string;
  readonly answer: string;
}

export interface FuzzReport {
  readonly seed: number;
  readonly cases: number;
  readonly seconds: number;
  readonly byStatus: Record<string, number>;
  readonly byKind: Record<string, number>;
  readonly failures: readonly Failure[];
  /** signature → count */
  readonly signatures: Record<string, number>;
  readonly held: number;
  readonly slowest: { index: number; ms: number; request: string };
}

export function describeCase(c: FuzzCase): string {
  if (c.raw !== undefined) return `RAW[${c.kinds.join(',')}] ${JSON.stringify(c.raw.toString('latin1').slice(0, 200))}`;
  const body = c.body === undefined ? '' : ` body(${c.body.length} B, ${c.headers['content-type'] ?? 'no type'}) ${JSON.stringify(c.body.toString('utf8').slice(0, 160))}`;
  return `${c.method} ${c.url.slice(0, 200)}${c.url.length > 200 ? `…(${c.url.length})` : ''} as ${c.caller} [${c.kinds.join(', ')}]${body}`;
}

export async function runFuzz(world: World, opts: FuzzOptions): Promise<FuzzReport> {
  const doc = (await world.call('GET', '/api/openapi.json')).json as { paths: Record<string, Record<string, OpenApiOperation>> };
  const ctx: CaseContext = { world, routes: routesOf(doc) };
  const started = performance.now();
  const deadline = started + opts.seconds * 1000;
  const byStatus: Record<string, number> = {};
  const byKind: Record<string, number> = {};
  const signatures: Record<string, number> = {};
  const failures: Failure[] = [];
  let next = opts.only ?? 0;
  const last = opts.only !== undefined ? opts.only + 1 : opts.cases;
  let sent = 0;
  let held = 0;
  let slowest = { index: -1, ms: 0, request: '' };
  // Our own pool, destroyed at the end: no client socket outlives the run. No keep-alive: a
  // connection the server closed after one answer (413, 431) would fail the next case with
  // "socket hang up" before it is even sent.
  const agent = new Agent({ keepAlive: false, maxSockets: opts.concurrency });
  const worker = async () => {
    while (next < last && performance.now() < deadline) {
      const c = generateCase(ctx, opts.seed, next++);
      const o = await send(world, c, deadline, agent);
      sent++;
      if (o.timedOut) held++;
      if (o.ms > slowest.ms && !o.timedOut) slowest = { index: c.index, ms: o.ms, request: describeCase(c) };
      for (const s of o.statuses) byStatus[s] = (byStatus[s] ?? 0) + 1;
      for (const k of c.kinds) {
        const kind = k.replace(/ .*/, '') === 'body' || k.startsWith('query') || k.startsWith('path') ? k.split(' ').slice(0, 2).join(' ') : k.split(' ')[0] ?? k;
        byKind[kind] = (byKind[kind] ?? 0) + 1;
      }
      const problems = judge(world, c, o);
      if (problems.length > 0) {
        const where = c.route ? `${c.method} ${c.route.path}` : `RAW ${c.kinds.join(',')}`;
        const deep = c.kinds.includes('body deep');
        for (const p of problems) {
          const signature = `${where}: ${p.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<id>')}${deep && /^5\d\d$/.test(p) ? DEEP : ''}`;
          signatures[signature] = (signatures[signature] ?? 0) + 1;
          // A few examples of each kind, so that a frequent kind does not hide a rare one.
          if ((signatures[signature] ?? 0) <= 3 && failures.length < 2000) failures.push({ index: c.index, signature, request: describeCase(c), answer: `${o.statuses.join(',')} ${o.text.slice(0, 300)}` });
        }
      }
      if (opts.log && sent % 1000 === 0) opts.log(`${sent} cases, ${failures.length} failures, ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
  } finally {
    agent.destroy();
  }
  return { seed: opts.seed, cases: sent, seconds: (performance.now() - started) / 1000, byStatus, byKind, failures, signatures, held, slowest };
}

// ---- process-level oracles -------------------------------------------------------------------

/** global.gc, from --expose-gc or switched on at run time; null when neither works. */
export function gcFunction(): (() => void) | null {
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return g;
  try {
    setFlagsFromString('--expose_gc');
    const fn = runInNewContext('gc') as unknown;
    return typeof fn === 'function' ? (fn as () => void) : null;
  } catch {
    return null;
  }
}

export interface MemorySample {
  readonly what: 'heapUsed after GC' | 'rss';
  readonly bytes: number;
}

export async function memorySample(gc: (() => void) | null): Promise<MemorySample> {
  if (gc === null) return { what: 'rss', bytes: process.memoryUsage().rss };
  // A few rounds: finalizers and weak references free more on the next pass.
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return { what: 'heapUsed after GC', bytes: process.memoryUsage().heapUsed };
}

/** Names on the built-in prototypes now: a fuzz run must leave them as they were. */
export function prototypeSnapshot(): string {
  const names = (o: object) => Object.getOwnPropertyNames(o).sort().join(',');
  return [Object.prototype, Array.prototype, Function.prototype, String.prototype].map(names).join('|');
}

export function parseSeed(text: string | undefined, fallback: number): number {
  if (text === undefined || text.trim() === '') return fallback;
  const n = Number(text.trim());
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`FUZZ_SEED must be an integer 0..4294967295, got ${text}`);
  return n;
}
