// ThingsBoard's "switch control": reads the state with getValue, sets it with setValue, and shows
// only what the device confirmed. A 504 (device offline or silent) puts it in a plain error state.
import type { ApiResult } from '../api.js';
import type { AppContext } from '../context.js';
import { h } from '../dom.js';
import { card, isOffline, parseBool, settingsDrawer } from './common.js';
import { ResultSlot } from './result.js';

interface SwitchSettings {
  readonly getMethod: string;
  readonly setMethod: string;
  readonly timeout: number;
}

const DEFAULTS: SwitchSettings = { getMethod: 'getValue', setMethod: 'setValue', timeout: 5000 };

export function switchWidget(ctx: AppContext, deviceId: string): Element {
  let confirmed: boolean | null = null;
  let busy = false;
  let error: string | null = null;
  const result = new ResultSlot();

  let toggle!: HTMLButtonElement;
  let stateText!: HTMLElement;
  let readButton!: HTMLButtonElement;
  const settings = settingsDrawer<SwitchSettings>({
    prefKey: `switch.${deviceId}`,
    defaults: DEFAULTS,
    fields: [
      { key: 'getMethod', label: 'Read method', type: 'text' },
      { key: 'setMethod', label: 'Set method', type: 'text' },
      { key: 'timeout', label: 'Timeout (ms)', type: 'number', min: 0, step: 1000 },
    ],
    validate: (s) => (s.timeout < 0 ? 'Timeout must be ≥ 0.' : null),
    onSave: () => void read(),
  });

  const render = () => {
    const state = confirmed === null ? 'unknown' : confirmed ? 'on' : 'off';
    toggle.dataset.state = state;
    toggle.setAttribute('aria-checked', confirmed === null ? 'mixed' : String(confirmed));
    toggle.classList.toggle('busy', busy);
    toggle.classList.toggle('error', error !== null);
    toggle.disabled = busy;
    readButton.disabled = busy;
    const root = toggle.closest('[data-widget]');
    root?.setAttribute('data-state', error !== null ? 'error' : state);
    if (busy) stateText.textContent = 'Waiting for the device…';
    else if (error !== null) stateText.textContent = `${error}${confirmed === null ? '' : ` Last confirmed: ${confirmed ? 'ON' : 'OFF'}.`}`;
    else stateText.textContent = confirmed === null ? 'State not known yet.' : `Device confirmed: ${confirmed ? 'ON' : 'OFF'}`;
    stateText.className = `state-text${error !== null ? ' bad' : ''}`;
  };

  /** Applies a reply: the device's state when it gave one; else an error or "unknown". */
  const apply = (r: ApiResult, fallback?: boolean): boolean => {
    result.show(r);
    if (r.ok) {
      error = null;
      const value = parseBool(r.body ?? r.text);
      if (value !== undefined) confirmed = value;
      else if (fallback !== undefined) return false; // no state in the reply: read it back
      return true;
    }
    // Offline: clear the state, it is no longer confirmed by anyone; keep the last one as a hint.
    error = isOffline(r) ? `Device offline or not answering (${r.status}).` : `Failed (${r.status}${r.error ? `: ${r.error}` : ''}).`;
    return true;
  };

  const call = (method: string, params?: unknown) =>
    ctx.api.rpc(deviceId, { method, oneway: false, timeout: settings.current.timeout, ...(params !== undefined ? { params } : {}) });

  const read = async () => {
    busy = true;
    render();
    result.pending('reading the state');
    apply(await call(settings.current.getMethod));
    busy = false;
    render();
  };

  const set = async (value: boolean) => {
    busy = true;
    render();
    result.pending(`setting ${value ? 'ON' : 'OFF'}`);
    const r = await call(settings.current.setMethod, value);
    if (!apply(r, value)) {
      // The device acknowledged without a state: ask it, rather than assume.
      result.pending('reading back the state');
      apply(await call(settings.current.getMethod));
    }
    busy = false;
    render();
  };

  const el = card(
    { widget: 'switch', title: 'Switch', subtitle: 'setValue / getValue' },
    <div class="switch-row">
      <button
        type="button"
        class="switch"
        role="switch"
        aria-label="Switch"
        ref={(b) => (toggle = b as HTMLButtonElement)}
        onClick={() => void set(!(confirmed ?? false))}
      >
        <span class="track">
          <span class="thumb"></span>
        </span>
        <span class="switch-label on">ON</span>
        <span class="switch-label off">OFF</span>
      </button>
      <div class="switch-side">
        <p class="state-text" aria-live="polite" ref={(p) => (stateText = p as HTMLElement)}></p>
        <button type="button" class="link" ref={(b) => (readButton = b as HTMLButtonElement)} onClick={() => void read()}>
          Read state
        </button>
      </div>
    </div>,
    result.el,
    settings.el,
  );
  render();
  void read();
  return el;
}
