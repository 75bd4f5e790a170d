// A JSON text area that says, as you type, whether the text is valid JSON and where it is not.
import { h } from '../dom.js';

export type JsonCheck = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string };

/** Parses JSON and, on failure, names the line and column (V8 only gives a position). */
export function checkJson(text: string): JsonCheck {
  if (text.trim() === '') return { ok: false, error: 'empty: write a JSON value, e.g. {} or true' };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    const message = (e as Error).message;
    const pos = /position (\d+)/.exec(message);
    if (pos) {
      const offset = Number(pos[1]);
      const before = text.slice(0, offset);
      const line = before.split('\n').length;
      const column = offset - before.lastIndexOf('\n');
      return { ok: false, error: `line ${line}, column ${column}: ${message.replace(/\s*(in JSON )?at position \d+.*$/, '')}` };
    }
    return { ok: false, error: message };
  }
}

export interface JsonEditor {
  readonly el: Element;
  readonly textarea: HTMLTextAreaElement;
  check(): JsonCheck;
  set(text: string): void;
}

export function jsonEditor(opts: { initial: string; label: string; rows?: number; onChange?: (c: JsonCheck) => void }): JsonEditor {
  let textarea!: HTMLTextAreaElement;
  let status!: HTMLElement;
  const update = () => {
    const c = checkJson(textarea.value);
    status.textContent = c.ok ? 'valid JSON' : c.error;
    status.className = `json-status ${c.ok ? 'ok' : 'bad'}`;
    textarea.setAttribute('aria-invalid', String(!c.ok));
    opts.onChange?.(c);
    return c;
  };
  const el = (
    <label class="field json-field">
      <span class="label">{opts.label}</span>
      <textarea
        class="json"
        rows={opts.rows ?? 4}
        spellcheck="false"
        autocomplete="off"
        ref={(t) => (textarea = t as HTMLTextAreaElement)}
        onInput={() => update()}
        onKeyDown={(e) => {
          // Tab indents instead of leaving the field (Shift+Tab still leaves).
          if (e.key === 'Tab' && !e.shiftKey) {
            e.preventDefault();
            textarea.setRangeText('  ', textarea.selectionStart, textarea.selectionEnd, 'end');
            update();
          }
        }}
      ></textarea>
      <span class="json-status" aria-live="polite" ref={(s) => (status = s as HTMLElement)}></span>
    </label>
  );
  textarea.value = opts.initial;
  queueMicrotask(update);
  return {
    el,
    textarea,
    check: () => checkJson(textarea.value),
    set(text: string) {
      textarea.value = text;
      update();
    },
  };
}
