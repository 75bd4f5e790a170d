// The simulator over ThingsBoard's HTTP device API (spec/rpc.md §7.2): a loop of long polls
// `GET /api/v1/{token}/rpc?timeout=` (one command per poll, 408 when none came), replies
// `POST /api/v1/{token}/rpc/{id}`, client-side requests `POST /api/v1/{token}/rpc`.
import { setTimeout as sleep } from 'node:timers/promises';
import { errorText, parseCommand, type DeviceLink, type LinkHandlers, type LinkSettings } from './link.js';

export interface HttpLinkSettings extends LinkSettings {
  /** The `timeout` of each long poll, ms (ThingsBoard's default is 60 000). */
  readonly pollTimeoutMs: number;
}

const RETRY_MS = 1000;

export class HttpLink implements DeviceLink {
  readonly description: string;
  private readonly base: string;
  private readonly stop = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly s: HttpLinkSettings,
    private readonly on: LinkHandlers,
  ) {
    const host = s.host.includes(':') ? `[${s.host}]` : s.host;
    this.base = `http://${host}:${s.port}/api/v1/${encodeURIComponent(s.token)}`;
    this.description = `http://${host}:${s.port} (long poll, timeout ${s.pollTimeoutMs} ms)`;
  }

  /** HTTP has no connection to wait for: the poll loop starts and reports what it meets. */
  async start(): Promise<void> {
    this.loop = this.pollLoop();
  }

  private async pollLoop(): Promise<void> {
    const signal = this.stop.signal;
    let failing = false;
    while (!signal.aborted) {
      let status: number;
      let text: string;
      try {
        const res = await fetch(`${this.base}/rpc?timeout=${this.s.pollTimeoutMs}`, { signal });
        status = res.status;
        text = await res.text();
      } catch (e) {
        if (signal.aborted) return;
        // Report a run of failures once, not every second, while the server is down.
        if (!failing) this.on.info(`poll failed: ${errorText(e)}; retrying every ${RETRY_MS / 1000} s`);
        failing = true;
        await sleep(RETRY_MS, undefined, { signal }).catch(() => undefined);
        continue;
      }
      if (failing) this.on.info('polling again');
      failing = false;
      if (status === 200) {
        const cmd = parseCommand(text);
        if (typeof cmd === 'string') this.on.info(`ignored a command: ${cmd}`);
        else this.on.command(cmd);
      } else if (status === 408) {
        // No command within the timeout: poll again.
      } else if (status === 401 || status === 403) {
        this.on.fatal(new Error(`the server refused the access token (HTTP ${status})${text ? `: ${text}` : ''}`));
        return;
      } else {
        this.on.info(`poll answered HTTP ${status}${text ? `: ${text}` : ''}; retrying in ${RETRY_MS / 1000} s`);
        await sleep(RETRY_MS, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  private async post(path: string, body: string, timeoutMs?: number): Promise<{ status: number; text: string }> {
    if (this.stop.signal.aborted) throw new Error('the simulator is closed');
    const signal = timeoutMs === undefined ? this.stop.signal : AbortSignal.any([this.stop.signal, AbortSignal.timeout(timeoutMs)]);
    const res = await fetch(`${this.base}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' }, signal });
    return { status: res.status, text: await res.text() };
  }

  async reply(id: number, body: string): Promise<void> {
    const r = await this.post(`/rpc/${id}`, body);
    if (r.status !== 200) throw new Error(`reply to ${id}: HTTP ${r.status}${r.text ? `: ${r.text}` : ''}`);
  }

  async request(method: string, params: unknown): Promise<string> {
    let r: { status: number; text: string };
    try {
      r = await this.post('/rpc', JSON.stringify({ method, params }), this.s.requestTimeoutMs);
    } catch (e) {
      if (e instanceof Error && e.name === 'TimeoutError') throw new Error(`no reply to client-side request (${method}) within ${this.s.requestTimeoutMs} ms`);
      throw e;
    }
    // 408: ThingsBoard's sync session gave up before the rule chain answered (spec §7.2).
    if (r.status !== 200) throw new Error(`client-side request ${method}: HTTP ${r.status}${r.text ? `: ${r.text}` : ''}`);
    return r.text;
  }

  async telemetry(body: string): Promise<void> {
    const r = await this.post('/telemetry', body);
    if (r.status !== 200) throw new Error(`telemetry: HTTP ${r.status}${r.text ? `: ${r.text}` : ''}`);
  }

  async close(): Promise<void> {
    this.stop.abort();
    await this.loop;
  }
}
