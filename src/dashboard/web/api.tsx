// The REST API as the page calls it: ThingsBoard's paths, the JWT in X-Authorization, and for
// every call what a widget shows: status code, round-trip time, body or error text.

export interface ApiResult<T = unknown> {
  readonly status: number;
  readonly ok: boolean;
  /** Round trip in ms, request sent to body read. */
  readonly ms: number;
  /** Parsed JSON body; null when empty or not JSON. */
  readonly body: T | null;
  readonly text: string;
  /** The envelope's message, the plain-text body (RPC validation answers), or the network error. */
  readonly error: string | null;
  /** The envelope's extra fields (the importer's `errors`). */
  readonly envelope: Readonly<Record<string, unknown>> | null;
}

export interface PageData<T> {
  readonly data: T[];
  readonly totalPages: number;
  readonly totalElements: number;
  readonly hasNext: boolean;
}

export interface EntityId {
  readonly entityType: string;
  readonly id: string;
}

export interface Device {
  readonly id: EntityId;
  readonly createdTime: number;
  readonly name: string;
  readonly type: string;
  readonly label: string | null;
  readonly customerId?: EntityId;
}

export interface RuleChain {
  readonly id: EntityId;
  readonly createdTime: number;
  readonly name: string;
  readonly type: string;
  readonly root: boolean;
}

export interface User {
  readonly id: EntityId;
  readonly email: string;
  readonly authority: string;
  readonly tenantId: EntityId;
  readonly customerId: EntityId;
  readonly firstName?: string | null;
  readonly lastName?: string | null;
}

/** ThingsBoard's stored RPC (spec/rpc.md §6.3). */
export interface Rpc {
  readonly id: EntityId;
  readonly createdTime: number;
  readonly deviceId: EntityId;
  readonly expirationTime: number;
  readonly request: { readonly oneway: boolean; readonly body: { readonly method: string; readonly params: string | null }; readonly retries: number | null };
  readonly response: unknown;
  readonly status: string;
}

export interface RpcCall {
  readonly method: string;
  /** Any JSON; undefined leaves `params` out of the body. */
  readonly params?: unknown;
  readonly oneway: boolean;
  readonly persistent?: boolean;
  /** ms */
  readonly timeout?: number;
  readonly retries?: number;
}

export class Api {
  constructor(
    private readonly token: () => string | null,
    /** A 401 on a signed-in call: the token expired or was revoked. */
    private readonly onUnauthorized: (message: string) => void,
  ) {}

  async call<T = unknown>(method: string, path: string, body?: unknown, opts: { query?: Record<string, string | number | boolean | undefined>; signal?: AbortSignal } = {}): Promise<ApiResult<T>> {
    const headers: Record<string, string> = { accept: 'application/json, text/plain, */*' };
    const token = this.token();
    if (token !== null) headers['x-authorization'] = `Bearer ${token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const started = performance.now();
    let res: Response;
    let text: string;
    try {
      res = await fetch(withQuery(path, opts.query), { method, headers, body: payload, signal: opts.signal });
      text = await res.text();
    } catch (e) {
      return { status: 0, ok: false, ms: Math.round(performance.now() - started), body: null, text: '', error: `network error: ${(e as Error).message}`, envelope: null };
    }
    const ms = Math.round(performance.now() - started);
    let json: unknown = null;
    if (text !== '') {
      try {
        json = JSON.parse(text) as unknown;
      } catch {
        json = null;
      }
    }
    const envelope = isEnvelope(json) ? json : null;
    const error = res.ok ? null : (envelope?.message ?? (text !== '' ? text : null));
    if (res.status === 401 && token !== null && envelope !== null) this.onUnauthorized(envelope.message);
    return { status: res.status, ok: res.ok, ms, body: json as T | null, text, error, envelope };
  }

  /** POST /api/rpc/{oneway|twoway}/{deviceId} (the v2 paths the ThingsBoard widgets use). */
  rpc(deviceId: string, call: RpcCall): Promise<ApiResult> {
    const body: Record<string, unknown> = { method: call.method };
    if (call.params !== undefined) body.params = call.params;
    if (call.timeout !== undefined) body.timeout = call.timeout;
    if (call.persistent) body.persistent = true;
    if (call.persistent && call.retries !== undefined) body.retries = call.retries;
    return this.call('POST', `/api/rpc/${call.oneway ? 'oneway' : 'twoway'}/${encodeURIComponent(deviceId)}`, body);
  }
}

function isEnvelope(v: unknown): v is { status: number; message: string; errorCode: number } & Record<string, unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { message?: unknown }).message === 'string' && typeof (v as { status?: unknown }).status === 'number';
}

export function withQuery(path: string, query?: Record<string, string | number | boolean | undefined>): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  const qs = params.toString();
  return qs === '' ? path : `${path}?${qs}`;
}

/** What a status code means for an RPC call (spec/rpc.md §2.5, v2 paths). */
export function rpcStatusText(r: ApiResult): string {
  switch (r.status) {
    case 0:
      return 'no answer from the server';
    case 200:
      return r.text === '' ? 'OK (no reply body)' : 'OK';
    case 400:
      return 'bad request';
    case 401:
      return 'not signed in';
    case 403:
      return 'not allowed';
    case 404:
      return 'device not found';
    case 406:
      return 'device replied with text that is not JSON';
    case 413:
      return 'request too large';
    case 500:
      return 'server error';
    case 504:
      return 'device offline or no reply in time';
    default:
      return r.ok ? 'OK' : 'error';
  }
}
