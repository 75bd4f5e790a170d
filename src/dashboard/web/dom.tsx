// A tiny JSX-to-DOM builder: JSX makes the page's structure readable, and real DOM nodes are
// easy to update in place (no virtual DOM, no framework to ship).

export type Child = Node | string | number | boolean | null | undefined | readonly Child[];

type StyleMap = Readonly<Record<string, string | number | null | undefined>>;

/** What an element accepts; event handlers are typed so their parameter needs no annotation. */
export interface DomAttrs {
  readonly [key: string]: unknown;
  readonly class?: string | false | null;
  readonly style?: StyleMap;
  /** Called with the element once it is built (keep a reference without a cast). */
  readonly ref?: (el: Element) => void;
  readonly onClick?: (e: MouseEvent) => void;
  readonly onInput?: (e: Event) => void;
  readonly onChange?: (e: Event) => void;
  readonly onSubmit?: (e: SubmitEvent) => void;
  readonly onKeyDown?: (e: KeyboardEvent) => void;
  readonly onPointerDown?: (e: PointerEvent) => void;
  readonly onFocus?: (e: FocusEvent) => void;
  readonly onBlur?: (e: FocusEvent) => void;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace JSX {
    type Element = globalThis.Element;
    interface IntrinsicElements {
      [tag: string]: DomAttrs;
    }
  }
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const SVG_TAGS = new Set(['svg', 'g', 'rect', 'path', 'text', 'tspan', 'circle', 'ellipse', 'line', 'polyline', 'polygon', 'defs', 'marker', 'title', 'clipPath', 'linearGradient', 'radialGradient', 'stop']);
// Set as properties (the live state of a form control), not as attributes (its initial state).
const PROPERTIES = new Set(['value', 'checked', 'disabled', 'selected', 'indeterminate', 'readOnly', 'multiple', 'open']);

type Component = (props: DomAttrs, children: Child[]) => Element;

export function h(tag: string | Component, props: DomAttrs | null, ...children: Child[]): Element {
  if (typeof tag === 'function') return tag(props ?? {}, children);
  const svg = SVG_TAGS.has(tag);
  const el = svg ? document.createElementNS(SVG_NS, tag) : document.createElement(tag);
  let ref: ((el: Element) => void) | undefined;
  for (const [key, value] of Object.entries(props ?? {})) {
    if (key === 'ref') ref = value as (el: Element) => void;
    else setProp(el, key, value, svg);
  }
  append(el, children);
  ref?.(el);
  return el;
}

/** `<>...</>`: children without a wrapper element. */
export function Fragment(_props: DomAttrs, children: Child[]): Element {
  // A DocumentFragment is not an Element; JSX needs one, so fragments get a neutral wrapper.
  const span = document.createElement('span');
  span.className = 'fragment';
  append(span, children);
  return span;
}

function setProp(el: Element, key: string, value: unknown, svg: boolean): void {
  if (value === undefined || value === null || value === false) return;
  if (key === 'class') {
    el.setAttribute('class', String(value));
  } else if (key === 'style' && typeof value === 'object') {
    // CSSOM, not a style attribute: the page's CSP forbids inline style attributes.
    const style = (el as HTMLElement | SVGElement).style;
    for (const [name, v] of Object.entries(value as StyleMap)) {
      if (v !== null && v !== undefined) style.setProperty(name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), String(v));
    }
  } else if (key.startsWith('on') && typeof value === 'function') {
    el.addEventListener(key.slice(2).toLowerCase(), value as EventListener);
  } else if (!svg && PROPERTIES.has(key)) {
    (el as unknown as Record<string, unknown>)[key] = value;
  } else {
    el.setAttribute(key, value === true ? '' : String(value));
  }
}

export function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false || child === true) continue;
    if (Array.isArray(child)) append(parent, child as readonly Child[]);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces an element's content. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A typed query for elements the page itself built. */
export function must<T extends Element>(el: Element | null, type: new () => T): T {
  if (!(el instanceof type)) throw new Error(`expected ${type.name}`);
  return el;
}

/** Things to undo when a page or widget goes away (timers, stream listeners). */
export class Scope {
  private readonly cleanups: (() => void)[] = [];
  private closed = false;

  onDispose(fn: () => void): void {
    if (this.closed) fn();
    else this.cleanups.push(fn);
  }

  get disposed(): boolean {
    return this.closed;
  }

  interval(fn: () => void, ms: number): void {
    const id = window.setInterval(fn, ms);
    this.onDispose(() => window.clearInterval(id));
  }

  timeout(fn: () => void, ms: number): void {
    const id = window.setTimeout(fn, ms);
    this.onDispose(() => window.clearTimeout(id));
  }

  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fn of this.cleanups.splice(0).reverse()) {
      try {
        fn();
      } catch (e) {
        console.error(e);
      }
    }
  }
}

export function formatTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function formatClock(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** Short one-line JSON for tables; the full text goes into a title. */
export function shortJson(value: unknown, max = 80): string {
  const text = value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function debounce<A extends unknown[]>(fn: (...args: A) => void, ms: number): (...args: A) => void {
  let timer: number | undefined;
  return (...args: A) => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => fn(...args), ms);
  };
}
