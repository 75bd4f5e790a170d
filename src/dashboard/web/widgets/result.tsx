// The line every widget shows after a call: status code (and what it means), round-trip time,
// and the reply or error.
import { rpcStatusText, type ApiResult } from '../api.js';
import { fill, h } from '../dom.js';

export function statusClass(status: number): string {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 504 || status === 408) return 'warn';
  return 'bad';
}

/** Pretty JSON of a reply, or its text when it is not JSON. */
export function replyText(r: ApiResult): string {
  if (r.body !== null) return JSON.stringify(r.body, null, 2);
  return r.text;
}

export function resultView(r: ApiResult, opts: { showBody?: boolean; meaning?: string } = {}): Element {
  const body = opts.showBody === false ? '' : r.ok ? replyText(r) : (r.error ?? '');
  return (
    <div class={`result ${statusClass(r.status)}`} data-status={String(r.status)}>
      <span class="code" title="HTTP status">
        {r.status === 0 ? '—' : String(r.status)}
      </span>
      <span class="meaning">{opts.meaning ?? rpcStatusText(r)}</span>
      <span class="rtt" title="round-trip time">
        {`${r.ms} ms`}
      </span>
      {body !== '' ? <pre class="reply">{body}</pre> : null}
    </div>
  );
}

/** A slot that shows "waiting…" with the elapsed time, then the result. */
export class ResultSlot {
  readonly el: Element = (<div class="result-slot" aria-live="polite"></div>);
  private timer: number | undefined;

  pending(label = 'waiting for the device'): void {
    window.clearInterval(this.timer);
    const started = performance.now();
    const text = (<span class="elapsed">0 ms</span>);
    fill(
      this.el,
      <div class="result pending" data-status="pending">
        <span class="spinner" aria-hidden="true"></span>
        <span class="meaning">{label}</span>
        {text}
      </div>,
    );
    this.timer = window.setInterval(() => {
      text.textContent = `${Math.round(performance.now() - started)} ms`;
    }, 100);
  }

  show(r: ApiResult, opts: { showBody?: boolean; meaning?: string } = {}): void {
    window.clearInterval(this.timer);
    fill(this.el, resultView(r, opts));
  }

  message(text: string, kind: 'info' | 'bad' = 'info'): void {
    window.clearInterval(this.timer);
    fill(this.el, <div class={`result ${kind === 'bad' ? 'bad' : 'info'}`}>{text}</div>);
  }

  clear(): void {
    window.clearInterval(this.timer);
    fill(this.el);
  }
}
