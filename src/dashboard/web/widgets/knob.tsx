// ThingsBoard's "knob control": a number between min and max sent with setValue (read with
// getValue). Drag the knob, use the slider, or the arrow keys; the value is sent on release.
import type { AppContext } from '../context.js';
import { h } from '../dom.js';
import { card, isOffline, parseNumber, settingsDrawer } from './common.js';
import { ResultSlot } from './result.js';

interface KnobSettings {
  readonly getMethod: string;
  readonly setMethod: string;
  readonly min: number;
  readonly max: number;
  readonly step: number;
  readonly timeout: number;
}

const DEFAULTS: KnobSettings = { getMethod: 'getValue', setMethod: 'setValue', min: 0, max: 100, step: 1, timeout: 5000 };

const START = 135; // degrees, clockwise from +x: the arc opens at the bottom
const SWEEP = 270;
const R = 40;
const C = 50;

function point(deg: number, r = R): [number, number] {
  const a = (deg * Math.PI) / 180;
  return [C + r * Math.cos(a), C + r * Math.sin(a)];
}

function arc(fraction: number): string {
  const f = Math.min(1, Math.max(0, fraction));
  const [x0, y0] = point(START);
  const [x1, y1] = point(START + SWEEP * f);
  const large = SWEEP * f > 180 ? 1 : 0;
  return f <= 0 ? `M ${x0} ${y0}` : `M ${x0} ${y0} A ${R} ${R} 0 ${large} 1 ${x1.toFixed(2)} ${y1.toFixed(2)}`;
}

export function knobWidget(ctx: AppContext, deviceId: string): Element {
  let target = DEFAULTS.min;
  let confirmed: number | null = null;
  let busy = false;
  let error: string | null = null;
  const result = new ResultSlot();

  let slider!: HTMLInputElement;
  let valueArc!: SVGPathElement;
  let handle!: SVGCircleElement;
  let valueText!: SVGTextElement;
  let stateText!: HTMLElement;
  let minText!: HTMLElement;
  let maxText!: HTMLElement;

  const settings = settingsDrawer<KnobSettings>({
    prefKey: `knob.${deviceId}`,
    defaults: DEFAULTS,
    fields: [
      { key: 'min', label: 'Min', type: 'number' },
      { key: 'max', label: 'Max', type: 'number' },
      { key: 'step', label: 'Step', type: 'number' },
      { key: 'getMethod', label: 'Read method', type: 'text' },
      { key: 'setMethod', label: 'Set method', type: 'text' },
      { key: 'timeout', label: 'Timeout (ms)', type: 'number', min: 0, step: 1000 },
    ],
    validate: (s) => (s.min >= s.max ? 'Min must be below max.' : s.step <= 0 ? 'Step must be above 0.' : s.step > s.max - s.min ? 'Step is larger than the range.' : null),
    onSave: () => {
      applyLimits();
      void read();
    },
  });

  const clamp = (v: number) => {
    const { min, max, step } = settings.current;
    const stepped = Math.round((v - min) / step) * step + min;
    // Round away float noise from the step arithmetic (0.1 + 0.2).
    return Math.min(max, Math.max(min, Number(stepped.toFixed(6))));
  };

  const draw = () => {
    const { min, max } = settings.current;
    const f = (target - min) / (max - min);
    valueArc.setAttribute('d', arc(f));
    const [hx, hy] = point(START + SWEEP * Math.min(1, Math.max(0, f)));
    handle.setAttribute('cx', hx.toFixed(2));
    handle.setAttribute('cy', hy.toFixed(2));
    valueText.textContent = String(target);
    slider.value = String(target);
    slider.disabled = busy;
    const root = slider.closest('[data-widget]');
    root?.setAttribute('data-state', error !== null ? 'error' : busy ? 'busy' : 'idle');
    root?.setAttribute('data-confirmed', confirmed === null ? '' : String(confirmed));
    if (busy) stateText.textContent = `Sending ${target}…`;
    else if (error !== null) stateText.textContent = error;
    else stateText.textContent = confirmed === null ? 'Value not known yet.' : `Device confirmed: ${confirmed}`;
    stateText.className = `state-text${error !== null ? ' bad' : ''}`;
  };

  const applyLimits = () => {
    const { min, max, step } = settings.current;
    slider.min = String(min);
    slider.max = String(max);
    slider.step = String(step);
    minText.textContent = String(min);
    maxText.textContent = String(max);
    target = clamp(confirmed ?? target);
    draw();
  };

  const call = (method: string, params?: unknown) =>
    ctx.api.rpc(deviceId, { method, oneway: false, timeout: settings.current.timeout, ...(params !== undefined ? { params } : {}) });

  const read = async () => {
    busy = true;
    draw();
    result.pending('reading the value');
    const r = await call(settings.current.getMethod);
    result.show(r);
    busy = false;
    if (r.ok) {
      error = null;
      const v = parseNumber(r.body ?? r.text);
      if (v !== undefined) {
        confirmed = v;
        target = clamp(v);
      }
    } else error = isOffline(r) ? `Device offline or not answering (${r.status}).` : `Failed (${r.status}).`;
    draw();
  };

  const send = async () => {
    const value = target;
    busy = true;
    draw();
    result.pending(`setting ${value}`);
    const r = await call(settings.current.setMethod, value);
    result.show(r);
    busy = false;
    if (r.ok) {
      error = null;
      // A device that echoes the value confirms it; an empty 200 means it took the command.
      const v = parseNumber(r.body ?? r.text);
      confirmed = v ?? value;
    } else {
      error = isOffline(r) ? `Device offline or not answering (${r.status}).` : `Failed (${r.status}).`;
      if (confirmed !== null) target = clamp(confirmed);
    }
    draw();
  };

  let dragging = false;
  const fromPointer = (e: PointerEvent, svg: SVGSVGElement) => {
    const box = svg.getBoundingClientRect();
    const x = ((e.clientX - box.left) / box.width) * 100 - C;
    const y = ((e.clientY - box.top) / box.height) * 100 - C;
    let rel = ((Math.atan2(y, x) * 180) / Math.PI - START + 720) % 360;
    if (rel > SWEEP) rel = rel > SWEEP + (360 - SWEEP) / 2 ? 0 : SWEEP;
    const { min, max } = settings.current;
    target = clamp(min + (rel / SWEEP) * (max - min));
    draw();
  };

  const knob = (
    <svg
      class="knob"
      viewBox="0 0 100 100"
      role="presentation"
      onPointerDown={(e) => {
        if (busy) return;
        const svg = e.currentTarget as SVGSVGElement;
        dragging = true;
        svg.setPointerCapture(e.pointerId);
        fromPointer(e, svg);
      }}
    >
      <path class="knob-track" d={arc(1)} />
      <path class="knob-value" d={arc(0)} ref={(p) => (valueArc = p as SVGPathElement)} />
      <circle class="knob-handle" r="5" cx="0" cy="0" ref={(c) => (handle = c as SVGCircleElement)} />
      <text class="knob-text" x="50" y="56" text-anchor="middle" ref={(t) => (valueText = t as SVGTextElement)}>
        0
      </text>
    </svg>
  ) as SVGSVGElement;
  knob.addEventListener('pointermove', (e) => dragging && fromPointer(e, knob));
  const release = () => {
    if (!dragging) return;
    dragging = false;
    void send();
  };
  knob.addEventListener('pointerup', release);
  knob.addEventListener('pointercancel', release);

  const el = card(
    { widget: 'knob', title: 'Knob', subtitle: 'setValue (number)' },
    <div class="knob-row">
      {knob}
      <div class="knob-side">
        <label class="field">
          <span class="label">Value</span>
          <input
            type="range"
            name="knob"
            aria-label="Knob value"
            ref={(i) => (slider = i as HTMLInputElement)}
            onInput={() => {
              target = clamp(Number(slider.value));
              draw();
            }}
            onChange={() => void send()}
          />
        </label>
        <div class="limits">
          <span ref={(s) => (minText = s as HTMLElement)}></span>
          <span ref={(s) => (maxText = s as HTMLElement)}></span>
        </div>
        <p class="state-text" aria-live="polite" ref={(p) => (stateText = p as HTMLElement)}></p>
      </div>
    </div>,
    result.el,
    settings.el,
  );
  applyLimits();
  void read();
  return el;
}
