// What the small RPC widgets share: the card frame, a settings drawer, reading a device's reply.
import type { ApiResult } from '../api.js';
import { loadPref, savePref } from '../context.js';
import { h, type Child } from '../dom.js';

export function card(opts: { widget: string; title: string; subtitle?: string; wide?: boolean }, ...children: Child[]): Element {
  return (
    <section class={`card widget${opts.wide ? ' wide' : ''}`} data-widget={opts.widget}>
      <header>
        <h3>{opts.title}</h3>
        {opts.subtitle ? <span class="muted">{opts.subtitle}</span> : null}
      </header>
      {children}
    </section>
  );
}

/** A value as a device reports an on/off state: true/false, "true"/"on", 1/0, or {value|state|enabled}. */
export function parseBool(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value === 1 ? true : value === 0 ? false : undefined;
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    if (['true', 'on', '1'].includes(v)) return true;
    if (['false', 'off', '0'].includes(v)) return false;
    return undefined;
  }
  if (typeof value === 'object' && value !== null) {
    const o = value as Record<string, unknown>;
    for (const k of ['value', 'state', 'enabled', 'status']) if (k in o) return parseBool(o[k]);
  }
  return undefined;
}

export function parseNumber(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  if (typeof value === 'object' && value !== null) {
    const o = value as Record<string, unknown>;
    for (const k of ['value', 'level', 'position']) if (k in o) return parseNumber(o[k]);
  }
  return undefined;
}

/** A device is unreachable (504 on the v2 paths: offline, or no reply before the timeout). */
export function isOffline(r: ApiResult): boolean {
  return r.status === 504 || r.status === 408 || r.status === 409;
}

export interface SettingField<T> {
  readonly key: keyof T & string;
  readonly label: string;
  readonly type: 'text' | 'number';
  readonly min?: number;
  readonly step?: number;
}

/**
 * Settings of a widget (method names, limits), kept per device in localStorage. `validate`
 * returns an error text or null; only valid settings are saved.
 */
export function settingsDrawer<T extends object>(opts: {
  prefKey: string;
  defaults: T;
  fields: readonly SettingField<T>[];
  validate?: (s: T) => string | null;
  onSave: (s: T) => void;
  extra?: (s: T) => { el: Element; read(): Partial<T> | string };
}): { el: Element; current: T } {
  let current = loadPref(opts.prefKey, opts.defaults);
  const inputs = new Map<string, HTMLInputElement>();
  let error!: HTMLElement;
  const extra = opts.extra?.(current);
  const el = (
    <details class="settings">
      <summary>Settings</summary>
      <form
        class="settings-form"
        novalidate
        onSubmit={(e) => {
          e.preventDefault();
          const next: Record<string, unknown> = { ...(current as Record<string, unknown>) };
          for (const f of opts.fields) {
            const raw = inputs.get(f.key)?.value ?? '';
            if (f.type === 'number') {
              const n = Number(raw);
              if (raw.trim() === '' || !Number.isFinite(n)) {
                error.textContent = `${f.label}: a number is needed.`;
                return;
              }
              next[f.key] = n;
            } else {
              if (raw.trim() === '') {
                error.textContent = `${f.label}: may not be empty.`;
                return;
              }
              next[f.key] = raw.trim();
            }
          }
          if (extra) {
            const more = extra.read();
            if (typeof more === 'string') {
              error.textContent = more;
              return;
            }
            Object.assign(next, more);
          }
          const problem = opts.validate?.(next as T) ?? null;
          if (problem !== null) {
            error.textContent = problem;
            return;
          }
          error.textContent = '';
          current = next as T;
          savePref(opts.prefKey, current);
          result.current = current;
          opts.onSave(current);
        }}
      >
        {opts.fields.map((f) => (
          <label class="field small">
            <span class="label">{f.label}</span>
            <input
              name={f.key}
              type={f.type}
              value={String(current[f.key])}
              {...(f.min !== undefined ? { min: String(f.min) } : {})}
              {...(f.step !== undefined ? { step: String(f.step) } : { step: 'any' })}
              ref={(i) => inputs.set(f.key, i as HTMLInputElement)}
            />
          </label>
        ))}
        {extra?.el}
        <div class="row">
          <button type="submit">Apply</button>
          <span class="form-error" role="alert" ref={(e) => (error = e as HTMLElement)}></span>
        </div>
      </form>
    </details>
  );
  const result = { el, current };
  return result;
}
