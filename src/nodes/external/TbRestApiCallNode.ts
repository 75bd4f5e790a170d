import { Agent as HttpAgent, request as httpRequest, STATUS_CODES, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import {
  defineNode,
  FAILURE,
  type JsonObject,
  NodeConfigError,
  SUCCESS,
  tell,
  tellFailure,
  tellSuccess,
} from '../../engine/node-api.js';
import { processPattern } from '../../engine/patterns.js';
import { transformMsg, type TbMsg } from '../../msg/tb-msg.js';

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export type RestCredentials =
  | { type: 'anonymous' }
  | { type: 'basic'; username?: string; password?: string }
  | { type: 'cert.PEM'; caCert?: string; cert?: string; privateKey?: string; password?: string };

export interface RestApiCallConfig {
  restEndpointUrlPattern: string;
  requestMethod: HttpMethod;
  /** Added to the URL, encoded once. Missing (configs saved before it existed): the URL is taken as written. */
  queryParams?: { key: string; value: string }[];
  headers: Record<string, string>;
  /** Longest wait for response data, in ms; 0 = no limit. */
  readTimeoutMs: number;
  /** Requests in flight at once; 0 = no limit. */
  maxParallelRequestsCount: number;
  parseToPlainText: boolean;
  enableProxy: boolean;
  useSystemProxyProperties: boolean;
  proxyHost?: string;
  proxyPort?: number;
  proxyUser?: string;
  proxyPassword?: string;
  credentials: RestCredentials;
  ignoreRequestBody: boolean;
  requestBodyTemplate?: string;
  /** Largest response body, in KB; 0 = 256. */
  maxInMemoryBufferSizeInKb: number;
}

/** ThingsBoard's limit of maxInMemoryBufferSizeInKb (its system property tb.http.maxInMemoryBufferSizeInKb). */
const MAX_BUFFER_KB = 25000;

/** The keys ThingsBoard keeps in its 3→4 upgrade; any other key is removed. */
const V4_KEYS = new Set([
  'restEndpointUrlPattern',
  'requestMethod',
  'headers',
  'readTimeoutMs',
  'maxParallelRequestsCount',
  'parseToPlainText',
  'enableProxy',
  'useSystemProxyProperties',
  'proxyHost',
  'proxyPort',
  'proxyUser',
  'proxyPassword',
  'credentials',
  'ignoreRequestBody',
  'requestBodyTemplate',
  'maxInMemoryBufferSizeInKb',
]);

/**
 * ThingsBoard's upgrade, one step at a time: 0→1 trimDoubleQuotes → parseToPlainText;
 * 1→2 drops the Redis queue settings; 2→3 adds maxInMemoryBufferSizeInKb 256; 3→4 adds
 * requestBodyTemplate (null: none) and drops unknown keys.
 */
export function upgradeRestApiCallConfig(fromVersion: number, config: JsonObject): JsonObject {
  const out: JsonObject = { ...config };
  switch (fromVersion) {
    case 0:
      if (!('parseToPlainText' in out) && 'trimDoubleQuotes' in out) {
        out.parseToPlainText = out.trimDoubleQuotes === true;
        delete out.trimDoubleQuotes;
      }
      break;
    case 1:
      if ('useRedisQueueForMsgPersistence' in out) {
        delete out.useRedisQueueForMsgPersistence;
        delete out.trimQueue;
        delete out.maxQueueSize;
      }
      break;
    case 2:
      if (!('maxInMemoryBufferSizeInKb' in out)) out.maxInMemoryBufferSizeInKb = 256;
      break;
    case 3:
      if (!('requestBodyTemplate' in out)) out.requestBodyTemplate = null;
      for (const key of Object.keys(out)) if (!V4_KEYS.has(key)) delete out[key];
      break;
  }
  return out;
}

/** ThingsBoard's JacksonUtil.toPlainText: data that is a JSON string literal loses its quotes. */
export function toPlainText(data: string): string {
  if (data.length >= 2 && data.startsWith('"') && data.endsWith('"')) {
    try {
      const value: unknown = JSON.parse(data);
      if (typeof value === 'string') return value;
    } catch {
      // not a JSON string literal: used as it is
    }
  }
  return data;
}

/**
 * "rest api call": calls an HTTP(S) endpoint for each message. The URL, query parameters
 * and headers take ${metadata} / $[data] patterns; POST, PUT, PATCH and DELETE send the
 * message data (or requestBodyTemplate) as the body unless ignoreRequestBody. A 2xx answer
 * → Success with the response body as data and status, statusCode, statusReason and the
 * response headers in metadata. 4xx/5xx → Failure with status, statusCode and error_body;
 * a redirect (not followed) → Failure with the response's metadata; no answer → Failure.
 *
 * Uses node:http rather than fetch: ThingsBoard copies response headers into metadata
 * under the names as the server wrote them (fetch lowercases them), and its read timeout
 * is a time without data (a socket timeout), not a limit on the whole call.
 */
export const TbRestApiCallNode = defineNode<RestApiCallConfig>({
  type: 'org.thingsboard.rule.engine.rest.TbRestApiCallNode',
  category: 'EXTERNAL',
  uiName: 'rest api call',
  version: 4,
  relations: [SUCCESS, FAILURE],
  configSchema: {
    type: 'object',
    properties: {
      restEndpointUrlPattern: { type: 'string', default: 'http://localhost/api' },
      requestMethod: { type: 'string', enum: [...HTTP_METHODS], default: 'POST' },
      queryParams: {
        type: 'array',
        items: {
          type: 'object',
          required: ['key', 'value'],
          properties: { key: { type: 'string' }, value: { type: 'string' } },
        },
      },
      headers: { type: 'object', additionalProperties: { type: 'string' }, default: { 'Content-Type': 'application/json' } },
      readTimeoutMs: { type: 'integer', minimum: 0, default: 0 },
      maxParallelRequestsCount: { type: 'integer', minimum: 0, default: 0 },
      parseToPlainText: { type: 'boolean', default: false },
      enableProxy: { type: 'boolean', default: false },
      useSystemProxyProperties: { type: 'boolean', default: false },
      proxyHost: { type: 'string' },
      proxyPort: { type: 'integer', minimum: 0, maximum: 65535 },
      proxyUser: { type: 'string' },
      proxyPassword: { type: 'string' },
      credentials: {
        type: 'object',
        required: ['type'],
        properties: {
          type: { type: 'string', enum: ['anonymous', 'basic', 'cert.PEM'] },
          username: { type: 'string' },
          password: { type: 'string' },
          caCert: { type: 'string' },
          cert: { type: 'string' },
          privateKey: { type: 'string' },
        },
        default: { type: 'anonymous' },
      },
      ignoreRequestBody: { type: 'boolean', default: false },
      requestBodyTemplate: { type: 'string' },
      maxInMemoryBufferSizeInKb: { type: 'integer', minimum: 0, default: 256 },
    },
  },
  defaultConfig: {
    restEndpointUrlPattern: 'http://localhost/api',
    requestMethod: 'POST',
    queryParams: [],
    headers: { 'Content-Type': 'application/json' },
    readTimeoutMs: 0,
    maxParallelRequestsCount: 0,
    parseToPlainText: false,
    enableProxy: false,
    useSystemProxyProperties: false,
    proxyPort: 0,
    credentials: { type: 'anonymous' },
    ignoreRequestBody: false,
    maxInMemoryBufferSizeInKb: 256,
  },
  upgrade: upgradeRestApiCallConfig,
  create(config) {
    if (config.enableProxy) throw new NodeConfigError('HTTP proxies are not supported yet', '/enableProxy');
    if (config.credentials.type === 'cert.PEM') {
      throw new NodeConfigError('cert.PEM credentials (client certificates) are not supported yet', '/credentials/type');
    }
    if (config.maxInMemoryBufferSizeInKb > MAX_BUFFER_KB) {
      throw new NodeConfigError(
        `The configured maximum in-memory buffer size (in KB) exceeds the system limit for this parameter.\nThe system limit is ${MAX_BUFFER_KB} KB.`,
        '/maxInMemoryBufferSizeInKb',
      );
    }
    const maxBytes = (config.maxInMemoryBufferSizeInKb > 0 ? config.maxInMemoryBufferSizeInKb : 256) * 1024;
    const authorization =
      config.credentials.type === 'basic'
        ? `Basic ${Buffer.from(`${config.credentials.username ?? 'null'}:${config.credentials.password ?? 'null'}`, 'utf8').toString('base64')}`
        : null;
    // Kept-alive connections per node, as ThingsBoard's pooled client; closed in destroy.
    const httpAgent = new HttpAgent({ keepAlive: true });
    const httpsAgent = new HttpsAgent({ keepAlive: true });
    const limiter = new Limiter(config.maxParallelRequestsCount);
    let stopped = false;

    const call = async (msg: TbMsg) => {
      const url = urlOf(processPattern(config.restEndpointUrlPattern, msg), config.queryParams, msg);
      const method = config.requestMethod;
      const headers = new OutgoingHeaders();
      for (const [k, v] of Object.entries(config.headers)) headers.add(processPattern(k, msg), processPattern(v, msg));
      if (authorization !== null) headers.add('Authorization', authorization);
      let body: Buffer | null = null;
      if ((method === 'POST' || method === 'PUT' || method === 'PATCH' || method === 'DELETE') && !config.ignoreRequestBody) {
        const { text, json } = requestBodyOf(config, msg);
        body = Buffer.from(text, 'utf8');
        // Spring's defaults when the configuration sets no Content-Type.
        if (!headers.has('content-type')) headers.add('Content-Type', json ? 'application/json' : 'text/plain;charset=UTF-8');
      }
      const res = await send(url, method, headers, body, {
        agent: url.protocol === 'https:' ? httpsAgent : httpAgent,
        readTimeoutMs: config.readTimeoutMs,
        maxBytes,
      });
      const code = res.statusCode;
      if (code >= 200 && code < 300) {
        const md = { ...msg.metaData, status: statusName(code), statusCode: String(code), statusReason: reasonOf(code, res.statusMessage) };
        return tellSuccess(transformMsg(msg, { metaData: { ...md, ...res.headers }, data: res.body === '' ? '{}' : res.body }));
      }
      if (code >= 400) {
        // Spring's WebClientResponseException: status text, code and body; no response headers.
        const md = { ...msg.metaData, status: reasonOf(code, res.statusMessage), statusCode: String(code), error_body: res.body };
        return tellFailure(transformMsg(msg, { metaData: md }), `${code} ${reasonOf(code, res.statusMessage)} from ${method} ${url.href}`);
      }
      // Redirects are not followed: the response goes to Failure as it is, without an error.
      const md: Record<string, string> = { ...msg.metaData, status: statusName(code), statusCode: String(code), statusReason: reasonOf(code, res.statusMessage) };
      if (res.body !== '') md.error_body = res.body;
      return tell(transformMsg(msg, { metaData: { ...md, ...res.headers } }), FAILURE);
    };

    return {
      async onMsg(msg) {
        await limiter.acquire();
        try {
          if (stopped) return tellFailure(msg, 'the node was stopped');
          return await call(msg);
        } catch (e) {
          return tellFailure(msg, e);
        } finally {
          limiter.release();
        }
      },
      destroy() {
        stopped = true;
        limiter.releaseAll();
        httpAgent.destroy();
        httpsAgent.destroy();
      },
    };
  },
});

/** A counting semaphore that hands a freed slot straight to the next waiter; 0 = no limit. */
class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  acquire(): Promise<void> {
    if (this.limit <= 0 || this.active < this.limit) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }

  /** Lets every waiter go (they see the node stopped). */
  releaseAll(): void {
    for (const next of this.waiting.splice(0)) {
      this.active++;
      next();
    }
  }
}

/** Request headers by case-insensitive name, keeping the first spelling and every value (Spring's headers.add). */
class OutgoingHeaders {
  private readonly byName = new Map<string, { name: string; values: string[] }>();

  add(name: string, value: string): void {
    const key = name.toLowerCase();
    const entry = this.byName.get(key);
    if (entry) entry.values.push(value);
    else this.byName.set(key, { name, values: [value] });
  }

  has(lowerName: string): boolean {
    return this.byName.has(lowerName);
  }

  entries(): { name: string; values: string[] }[] {
    return [...this.byName.values()];
  }
}

/** The request URL as ThingsBoard's TbHttpClient.buildEncodedUri checks it, with the query parameters added. */
function urlOf(text: string, queryParams: RestApiCallConfig['queryParams'], msg: TbMsg): URL {
  if (text === '') throw new Error('Url string cannot be empty!');
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(text)) throw new Error('Transport scheme(protocol) must be provided!');
  if (queryParams !== undefined && /[\s"<>\\^`{|}]|%(?![0-9A-Fa-f]{2})/.test(text)) {
    throw new Error(
      `Invalid request URL: '${text}'. The URL must be valid and properly encoded. If URL contains special characters (e.g., spaces), they must be percent-encoded (e.g., '/my device/' should be '/my%20device/').`,
    );
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error('Url string is invalid!');
  }
  if (url.hostname === '') throw new Error('Url string is invalid!');
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`Transport scheme(protocol) ${url.protocol.slice(0, -1)} is not supported`);
  if (queryParams !== undefined && queryParams.length > 0) {
    // Each name and value encoded exactly once (RFC 3986 unreserved characters stay): "+" → %2B, " " → %20.
    const added = queryParams.map((p) => `${encodeRfc3986(processPattern(p.key, msg))}=${encodeRfc3986(processPattern(p.value, msg))}`).join('&');
    url.search = url.search === '' || url.search === '?' ? `?${added}` : `${url.search}&${added}`;
  }
  return url;
}

function encodeRfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The request body: the template when set (patterns filled, JSON-escaped unless plain text), else the message data. */
function requestBodyOf(config: RestApiCallConfig, msg: TbMsg): { text: string; json: boolean } {
  const template = config.requestBodyTemplate ?? '';
  if (template.trim() !== '') {
    const text = fillTemplate(template, msg, !config.parseToPlainText);
    if (config.parseToPlainText) return { text, json: false };
    try {
      JSON.parse(text);
    } catch {
      throw new Error(`Request body template produced invalid JSON: ${text}`);
    }
    return { text, json: true };
  }
  if (config.parseToPlainText) return { text: toPlainText(msg.data), json: false };
  try {
    JSON.parse(msg.data);
  } catch (e) {
    throw new Error(`Message data is not valid JSON (parseToPlainText sends it as text): ${e instanceof Error ? e.message : String(e)}`);
  }
  // Sent as written: re-serializing could change large numbers.
  return { text: msg.data, json: true };
}

const PATTERN = /\$\{([^}]+)\}|\$\[([^\]]+)\]/g;

/** processPattern with ThingsBoard's escapeJsonValues: substituted values are escaped for use inside a JSON string. */
function fillTemplate(template: string, msg: TbMsg, escapeJson: boolean): string {
  if (!escapeJson) return processPattern(template, msg);
  let data: unknown;
  try {
    data = JSON.parse(msg.data);
  } catch {
    data = undefined;
  }
  const escape = (value: string) => JSON.stringify(value).slice(1, -1);
  return template.replace(PATTERN, (whole, mdKey: string | undefined, dataPath: string | undefined) => {
    if (mdKey !== undefined) {
      if (mdKey === '*') return JSON.stringify(msg.metaData);
      const value = msg.metaData[mdKey];
      return value === undefined ? whole : escape(value);
    }
    if (dataPath === '*') return msg.data;
    const value = processPattern(whole, msg, data);
    return value === whole ? whole : escape(value);
  });
}

/** Spring's HttpStatus name: 201 → CREATED, 302 → FOUND; the number when it has none. */
function statusName(code: number): string {
  const phrase = STATUS_CODES[code];
  return phrase ? phrase.toUpperCase().replace(/[^A-Z0-9]+/g, '_') : String(code);
}

function reasonOf(code: number, received: string | undefined): string {
  return STATUS_CODES[code] ?? received ?? '';
}

interface HttpResult {
  readonly statusCode: number;
  readonly statusMessage: string | undefined;
  /** Response headers under the names as received; a repeated header as a JSON array. */
  readonly headers: Record<string, string>;
  readonly body: string;
}

function send(
  url: URL,
  method: HttpMethod,
  headers: OutgoingHeaders,
  body: Buffer | null,
  opts: { agent: HttpAgent; readTimeoutMs: number; maxBytes: number },
): Promise<HttpResult> {
  return new Promise<HttpResult>((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method, agent: opts.agent });
    for (const h of headers.entries()) req.setHeader(h.name, h.values.length === 1 ? h.values[0] : h.values);
    if (body !== null) req.setHeader('Content-Length', body.length);
    if (opts.readTimeoutMs > 0) {
      // Netty's ReadTimeoutHandler: no data for that long ends the call.
      req.setTimeout(opts.readTimeoutMs, () => req.destroy(new Error(`ReadTimeoutException: no response data for ${opts.readTimeoutMs} ms`)));
    }
    req.on('error', reject);
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > opts.maxBytes) {
          res.destroy();
          req.destroy();
          reject(new Error(`Exceeded limit on max bytes to buffer : ${opts.maxBytes}`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', reject);
      res.on('end', () => {
        resolve({
          statusCode: res.statusCode ?? 0,
          statusMessage: res.statusMessage,
          headers: headersOf(res.rawHeaders),
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
    req.end(body ?? undefined);
  });
}

/** ThingsBoard's headersToMetaData over a case-insensitive header map: first spelling wins, repeated values as a JSON array. */
function headersOf(raw: readonly string[]): Record<string, string> {
  const byName = new Map<string, { name: string; values: string[] }>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = raw[i].toLowerCase();
    const entry = byName.get(key);
    if (entry) entry.values.push(raw[i + 1]);
    else byName.set(key, { name: raw[i], values: [raw[i + 1]] });
  }
  const out: Record<string, string> = {};
  for (const { name, values } of byName.values()) out[name] = values.length === 1 ? values[0] : JSON.stringify(values);
  return out;
}
