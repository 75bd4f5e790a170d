// ThingsBoard's "LED indicator": asks the device checkStatus every few seconds and lights up on
// true. One request at a time: a slow device is not sent a pile of checks.
import type { AppContext } from '../context.js';
import { formatClock, h, type Scope } from '../dom.js';
import { card, isOffline, parseBool, settingsDrawer } from './common.js';
import { ResultSlot } from './result.js';

interface LedSettings {
  readonly method: string;
  readonly intervalSec: number;
  readonly timeout: number;
}

const DEFAULTS: LedSettings = { method: 'checkStatus', intervalSec: 5, timeout: 5000 };

export function ledWidget(ctx: AppContext, deviceId: string, scope: Scope): Element {
  const result = new ResultSlot();
  let led!: HTMLElement;
  let stateText!: HTMLElement;
  let pauseButton!: HTMLButtonElement;
  let paused = false;
  let inFlight = false;
  let timer: number | undefined;
  let checks = 0;

  const settings = settingsDrawer<LedSettings>({
    prefKey: `led.${deviceId}`,
    defaults: DEFAULTS,
    fields: [
      { key: 'method', label: 'Method', type: 'text' },
      { key: 'intervalSec', label: 'Every (s)', type: 'number', min: 1, step: 1 },
      { key: 'timeout', label: 'Timeout (ms)', type: 'number', min: 0, step: 1000 },
    ],
    validate: (s) => (s.intervalSec < 1 ? 'Poll at most once a second.' : s.timeout < 0 ? 'Timeout must be ≥ 0.' : null),
    onSave: () => schedule(0),
  });

  const show = (state: 'on' | 'off' | 'offline' | 'unknown', text: string) => {
    led.dataset.state = state;
    led.closest('[data-widget]')?.setAttribute('data-state', state);
    stateText.textContent = text;
    stateText.className = `state-text${state === 'offline' ? ' bad' : ''}`;
  };

  const check = async () => {
    if (inFlight || paused || scope.disposed) return;
    inFlight = true;
    led.classList.add('checking');
    const r = await ctx.api.rpc(deviceId, { method: settings.current.method, oneway: false, timeout: settings.current.timeout });
    inFlight = false;
    if (scope.disposed) return;
    led.classList.remove('checking');
    checks++;
    led.closest('[data-widget]')?.setAttribute('data-checks', String(checks));
    result.show(r);
    const at = formatClock(Date.now());
    if (r.ok) {
      const v = parseBool(r.body ?? r.text);
      if (v === undefined) show('unknown', `Reply is not a status (${at}).`);
      else show(v ? 'on' : 'off', `${v ? 'ON' : 'OFF'} at ${at}`);
    } else show(isOffline(r) ? 'offline' : 'unknown', `${isOffline(r) ? 'Device offline or not answering' : 'Check failed'} (${r.status}) at ${at}`);
    schedule(settings.current.intervalSec * 1000);
  };

  const schedule = (ms: number) => {
    window.clearTimeout(timer);
    if (!paused && !scope.disposed) timer = window.setTimeout(() => void check(), ms);
  };
  scope.onDispose(() => window.clearTimeout(timer));

  const el = card(
    { widget: 'led', title: 'LED indicator', subtitle: 'polls checkStatus' },
    <div class="led-row">
      <span class="led-big" data-state="unknown" role="img" aria-label="Device status" ref={(s) => (led = s as HTMLElement)}></span>
      <div>
        <p class="state-text" aria-live="polite" ref={(p) => (stateText = p as HTMLElement)}>
          Not checked yet.
        </p>
        <button
          type="button"
          class="link"
          ref={(b) => (pauseButton = b as HTMLButtonElement)}
          onClick={() => {
            paused = !paused;
            pauseButton.textContent = paused ? 'Resume polling' : 'Pause polling';
            if (paused) window.clearTimeout(timer);
            else schedule(0);
          }}
        >
          Pause polling
        </button>
      </div>
    </div>,
    result.el,
    settings.el,
  );
  schedule(0);
  return el;
}
