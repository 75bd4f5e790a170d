// The RPC console: any method and params, one-way or two-way, lightweight or persistent, with
// timeout and retries; the result with status code and round-trip time; a history to replay.
import type { ApiResult, RpcCall } from '../api.js';
import { loadPref, savePref, type AppContext } from '../context.js';
import { fill, formatClock, h, shortJson } from '../dom.js';
import { jsonEditor } from './json-editor.js';
import { ResultSlot, statusClass } from './result.js';

interface HistoryEntry {
  readonly at: number;
  readonly method: string;
  readonly paramsText: string;
  readonly oneway: boolean;
  readonly persistent: boolean;
  readonly timeout: number | null;
  readonly retries: number | null;
  readonly status: number;
  readonly ms: number;
  readonly text: string;
}

const HISTORY_SIZE = 20;
const MAX_STORED_REPLY = 2000;

export function rpcConsole(ctx: AppContext, deviceId: string, onPersistentSent: (rpcId: string | null) => void): Element {
  const historyKey = `history.${deviceId}`;
  let history = loadPref<{ entries: HistoryEntry[] }>(historyKey, { entries: [] }).entries;
  const result = new ResultSlot();
  const historyList = (<ol class="history" aria-label="RPC history"></ol>);

  let method!: HTMLInputElement;
  let twoway!: HTMLInputElement;
  let oneway!: HTMLInputElement;
  let persistent!: HTMLInputElement;
  let timeout!: HTMLInputElement;
  let retries!: HTMLInputElement;
  let send!: HTMLButtonElement;
  let formError!: HTMLElement;

  const params = jsonEditor({ initial: '{}', label: 'Params (JSON)', rows: 4, onChange: () => refresh() });

  const refresh = () => {
    if (!send) return;
    const p = params.check();
    send.disabled = method.value.trim() === '' || !p.ok;
    retries.disabled = !persistent.checked;
  };

  const submit = async () => {
    const p = params.check();
    const name = method.value.trim();
    if (name === '' || !p.ok) {
      formError.textContent = name === '' ? 'A method name is needed.' : 'Params must be valid JSON.';
      return;
    }
    formError.textContent = '';
    const timeoutMs = timeout.value === '' ? null : Number(timeout.value);
    const retryCount = retries.value === '' ? null : Number(retries.value);
    if (timeoutMs !== null && (!Number.isInteger(timeoutMs) || timeoutMs < 0)) {
      formError.textContent = 'Timeout must be a whole number of milliseconds.';
      return;
    }
    if (retryCount !== null && (!Number.isInteger(retryCount) || retryCount < 0)) {
      formError.textContent = 'Retries must be a whole number ≥ 0.';
      return;
    }
    const call: RpcCall = {
      method: name,
      params: p.value,
      oneway: oneway.checked,
      persistent: persistent.checked,
      ...(timeoutMs !== null ? { timeout: timeoutMs } : {}),
      ...(persistent.checked && retryCount !== null ? { retries: retryCount } : {}),
    };
    send.disabled = true;
    result.pending(call.persistent ? 'storing the persistent RPC' : call.oneway ? 'sending' : 'waiting for the device reply');
    const r = await ctx.api.rpc(deviceId, call);
    refresh();
    result.show(r);
    record(call, params.textarea.value, timeoutMs, retryCount, r);
    if (call.persistent && r.ok) onPersistentSent(rpcIdOf(r));
  };

  const record = (call: RpcCall, paramsText: string, timeoutMs: number | null, retryCount: number | null, r: ApiResult) => {
    const entry: HistoryEntry = {
      at: Date.now(),
      method: call.method,
      paramsText,
      oneway: call.oneway,
      persistent: call.persistent === true,
      timeout: timeoutMs,
      retries: retryCount,
      status: r.status,
      ms: r.ms,
      text: (r.ok ? r.text : (r.error ?? '')).slice(0, MAX_STORED_REPLY),
    };
    history = [entry, ...history].slice(0, HISTORY_SIZE);
    savePref(historyKey, { entries: history });
    renderHistory();
  };

  const replay = (e: HistoryEntry) => {
    method.value = e.method;
    params.set(e.paramsText);
    (e.oneway ? oneway : twoway).checked = true;
    persistent.checked = e.persistent;
    timeout.value = e.timeout === null ? '' : String(e.timeout);
    retries.value = e.retries === null ? '' : String(e.retries);
    refresh();
    method.focus();
  };

  const renderHistory = () => {
    fill(
      historyList,
      history.length === 0
        ? (<li class="muted">No calls yet.</li>)
        : history.map((e) => (
            <li>
              <button type="button" class="history-item" title={`Use again: ${e.method} ${e.paramsText}`} onClick={() => replay(e)}>
                <span class="when">{formatClock(e.at)}</span>
                <span class="what">
                  <strong>{e.method}</strong> <span class="muted">{shortJson(e.paramsText.replace(/\s+/g, ' '), 40)}</span>
                </span>
                <span class="tags">
                  {e.oneway ? 'one-way' : 'two-way'}
                  {e.persistent ? ' · persistent' : ''}
                </span>
                <span class={`code ${statusClass(e.status)}`}>{e.status === 0 ? '—' : String(e.status)}</span>
                <span class="rtt">{`${e.ms} ms`}</span>
              </button>
            </li>
          )),
    );
  };

  const card = (
    <section class="card widget wide" data-widget="console">
      <header>
        <h3>RPC console</h3>
        <span class="muted">{'POST /api/rpc/{oneway|twoway}/{deviceId}'}</span>
      </header>
      <form
        class="console-form"
        novalidate
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <div class="row">
          <label class="field grow">
            <span class="label">Method</span>
            <input name="method" required autocomplete="off" placeholder="e.g. setGpio" ref={(el) => (method = el as HTMLInputElement)} onInput={() => refresh()} />
          </label>
          <fieldset class="field segmented" aria-label="Call type">
            <legend class="label">Call type</legend>
            <label>
              <input type="radio" name="calltype" value="twoway" checked ref={(el) => (twoway = el as HTMLInputElement)} />
              <span>two-way</span>
            </label>
            <label>
              <input type="radio" name="calltype" value="oneway" ref={(el) => (oneway = el as HTMLInputElement)} />
              <span>one-way</span>
            </label>
          </fieldset>
        </div>
        {params.el}
        <div class="row">
          <label class="check">
            <input type="checkbox" name="persistent" ref={(el) => (persistent = el as HTMLInputElement)} onChange={() => refresh()} />
            <span>persistent</span>
          </label>
          <label class="field small">
            <span class="label">Timeout (ms)</span>
            <input name="timeout" type="number" min="0" step="1000" placeholder="10000" ref={(el) => (timeout = el as HTMLInputElement)} />
          </label>
          <label class="field small">
            <span class="label">Retries</span>
            <input name="retries" type="number" min="0" max="5" step="1" placeholder="5" ref={(el) => (retries = el as HTMLInputElement)} />
          </label>
          <button type="submit" class="primary" ref={(el) => (send = el as HTMLButtonElement)}>
            Send
          </button>
        </div>
        <p class="form-error" role="alert" ref={(el) => (formError = el as HTMLElement)}></p>
      </form>
      {result.el}
      <details class="history-box" open>
        <summary>History</summary>
        {historyList}
      </details>
    </section>
  );
  renderHistory();
  refresh();
  return card;
}

function rpcIdOf(r: ApiResult): string | null {
  const body = r.body as { rpcId?: unknown } | null;
  return body && typeof body.rpcId === 'string' ? body.rpcId : null;
}
