// The REST API as a user's program sees it: fetch, a JWT, a deadline on every call.
import { PASSWORD } from './world.js';

export interface Answer {
  /** HTTP status; 0 when no answer came (connection refused or reset, or the deadline passed). */
  readonly status: number;
  readonly text: string;
  readonly json: unknown;
  readonly ms: number;
  /** Why there was no answer (status 0). */
  readonly error?: string;
  /** The deadline passed without an answer. */
  readonly hung: boolean;
}

export class RestClient {
  token: string | undefined;
  constructor(readonly base: string) {}

  async call(method: string, path: string, body?: unknown, opts: { timeoutMs?: number; raw?: boolean } = {}): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (this.token !== undefined) headers['x-authorization'] = `Bearer ${this.token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' && opts.raw ? body : JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    const started = performance.now();
    const timeoutMs = opts.timeoutMs ?? 15_000;
    try {
      const res = await fetch(`${this.base}${path}`, { method, headers, body: payload, signal: AbortSignal.timeout(timeoutMs) });
      const text = await res.text();
      let json: unknown;
      try {
        json = text === '' ? undefined : (JSON.parse(text) as unknown);
      } catch {
        json = undefined;
      }
      return { status: res.status, text, json, ms: performance.now() - started, hung: false };
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      const hung = err.name === 'TimeoutError' || err.name === 'AbortError';
      return { status: 0, text: '', json: undefined, ms: performance.now() - started, error: err.cause?.code ?? err.message, hung };
    }
  }

  /** Logs in as `email`; retries while the server is not ready. */
  async login(email: string, password = PASSWORD, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await this.call('POST', '/api/auth/login', { username: email, password });
      if (res.status === 200) {
        this.token = (res.json as { token: string }).token;
        return;
      }
      if (Date.now() > deadline) throw new Error(`login of ${email}: ${res.status} ${res.text || res.error || ''}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

/** A persistent RPC as GET /api/rpc/persistent/{id} shows it. */
export interface StoredRpcView {
  readonly status: string;
  readonly response: unknown;
}

export async function getRpc(api: RestClient, rpcId: string): Promise<StoredRpcView | null> {
  const res = await api.call('GET', `/api/rpc/persistent/${rpcId}`, undefined, { timeoutMs: 5000 });
  if (res.status !== 200) return null;
  const j = res.json as { status: string; response: unknown };
  return { status: j.status, response: j.response };
}

/**
 * Polls a persistent RPC and records every status seen, until `until` holds for a status or the
 * time is up. Fast transitions between two polls are not seen.
 */
export async function watchRpc(api: RestClient, rpcId: string, until: (status: string) => boolean, timeoutMs: number, everyMs = 50): Promise<{ seen: string[]; last: StoredRpcView | null }> {
  const seen: string[] = [];
  const deadline = Date.now() + timeoutMs;
  let last: StoredRpcView | null = null;
  for (;;) {
    const now = await getRpc(api, rpcId);
    if (now) {
      last = now;
      if (seen[seen.length - 1] !== now.status) seen.push(now.status);
      if (until(now.status)) return { seen, last };
    }
    if (Date.now() > deadline) return { seen, last };
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
