// ThingsBoard's "GPIO control" panel: pins from the settings, their states read with
// getGpioStatus ({"<pin>": true, ...}) and changed with setGpioStatus {pin, enabled}.
import type { ApiResult } from '../api.js';
import type { AppContext } from '../context.js';
import { fill, h } from '../dom.js';
import { card, isOffline, parseBool, settingsDrawer } from './common.js';
import { ResultSlot } from './result.js';

interface Pin {
  readonly pin: number;
  readonly label: string;
}

interface GpioSettings {
  readonly getMethod: string;
  readonly setMethod: string;
  readonly timeout: number;
  readonly pins: readonly Pin[];
}

// The Raspberry Pi pins of ThingsBoard's GPIO demo.
const DEFAULTS: GpioSettings = {
  getMethod: 'getGpioStatus',
  setMethod: 'setGpioStatus',
  timeout: 5000,
  pins: [
    { pin: 7, label: 'Relay' },
    { pin: 11, label: 'LED' },
    { pin: 12, label: 'Fan' },
    { pin: 13, label: 'Pump' },
  ],
};

/** "7: Relay" per line. */
export function parsePins(text: string): Pin[] | string {
  const pins: Pin[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const m = /^(\d{1,3})\s*(?:[:=-]\s*(.*))?$/.exec(line);
    if (!m) return `Pins, line ${i + 1}: write "<pin number>: <label>".`;
    const pin = Number(m[1]);
    if (pins.some((p) => p.pin === pin)) return `Pins, line ${i + 1}: pin ${pin} is listed twice.`;
    pins.push({ pin, label: (m[2] ?? '').trim() || `GPIO ${pin}` });
  }
  if (pins.length === 0) return 'Pins: list at least one pin.';
  if (pins.length > 40) return 'Pins: at most 40.';
  return pins;
}

export function gpioPanel(ctx: AppContext, deviceId: string): Element {
  const states = new Map<number, boolean>();
  const pending = new Set<number>();
  let offline: string | null = null;
  const result = new ResultSlot();
  const grid = (<div class="gpio-grid" role="group" aria-label="GPIO pins"></div>);
  let status!: HTMLElement;

  const settings = settingsDrawer<GpioSettings>({
    prefKey: `gpio.${deviceId}`,
    defaults: DEFAULTS,
    fields: [
      { key: 'getMethod', label: 'Read method', type: 'text' },
      { key: 'setMethod', label: 'Set method', type: 'text' },
      { key: 'timeout', label: 'Timeout (ms)', type: 'number', min: 0, step: 1000 },
    ],
    extra: (s) => {
      let area!: HTMLTextAreaElement;
      const el = (
        <label class="field">
          <span class="label">Pins (one per line: "pin: label")</span>
          <textarea name="pins" rows={4} ref={(t) => (area = t as HTMLTextAreaElement)}></textarea>
        </label>
      );
      area.value = s.pins.map((p) => `${p.pin}: ${p.label}`).join('\n');
      return {
        el,
        read: () => {
          const pins = parsePins(area.value);
          return typeof pins === 'string' ? pins : { pins };
        },
      };
    },
    onSave: () => {
      renderPins();
      void read();
    },
  });

  /** {"7": true, "11": false} or [{pin, enabled}]: the device's view of its pins. */
  const applyStatus = (body: unknown): boolean => {
    let any = false;
    if (Array.isArray(body)) {
      for (const item of body) {
        const o = item as { pin?: unknown; enabled?: unknown };
        const v = parseBool(o.enabled);
        if (v !== undefined && o.pin !== undefined) {
          states.set(Number(o.pin), v);
          any = true;
        }
      }
    } else if (typeof body === 'object' && body !== null) {
      for (const [k, raw] of Object.entries(body)) {
        const v = parseBool(raw);
        if (/^\d+$/.test(k) && v !== undefined) {
          states.set(Number(k), v);
          any = true;
        }
      }
    }
    return any;
  };

  const handle = (r: ApiResult): boolean => {
    result.show(r);
    if (r.ok) {
      offline = null;
      return applyStatus(r.body);
    }
    offline = isOffline(r) ? `Device offline or not answering (${r.status}).` : `Failed (${r.status}).`;
    return true;
  };

  const call = (method: string, params: unknown) => ctx.api.rpc(deviceId, { method, params, oneway: false, timeout: settings.current.timeout });

  const read = async () => {
    result.pending('reading the pins');
    handle(await call(settings.current.getMethod, {}));
    renderPins();
  };

  const toggle = async (pin: number) => {
    const enabled = !(states.get(pin) ?? false);
    pending.add(pin);
    renderPins();
    result.pending(`pin ${pin} → ${enabled ? 'on' : 'off'}`);
    const r = await call(settings.current.setMethod, { pin, enabled });
    if (!handle(r)) {
      // No status in the reply: ask for it rather than guess.
      handle(await call(settings.current.getMethod, {}));
    }
    pending.delete(pin);
    renderPins();
  };

  const renderPins = () => {
    status.textContent = offline ?? '';
    status.className = offline ? 'state-text bad' : 'state-text';
    fill(
      grid,
      settings.current.pins.map((p) => {
        const s = states.get(p.pin);
        const state = s === undefined ? 'unknown' : s ? 'on' : 'off';
        return (
          <button
            type="button"
            class={`gpio-pin ${state}${pending.has(p.pin) ? ' busy' : ''}${offline ? ' error' : ''}`}
            role="switch"
            aria-checked={s === undefined ? 'mixed' : String(s)}
            data-pin={String(p.pin)}
            data-state={state}
            disabled={pending.has(p.pin)}
            onClick={() => void toggle(p.pin)}
          >
            <span class="led" aria-hidden="true"></span>
            <span class="pin-label">{p.label}</span>
            <span class="pin-no">{`pin ${p.pin}`}</span>
          </button>
        );
      }),
    );
  };

  const el = card(
    { widget: 'gpio', title: 'GPIO panel', subtitle: 'setGpioStatus / getGpioStatus' },
    grid,
    <div class="row">
      <p class="state-text" aria-live="polite" ref={(p) => (status = p as HTMLElement)}></p>
      <button type="button" class="link" onClick={() => void read()}>
        Read pins
      </button>
    </div>,
    result.el,
    settings.el,
  );
  renderPins();
  void read();
  return el;
}
