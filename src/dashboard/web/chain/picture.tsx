// A picture of a rule chain as ThingsBoard's editor lays it out: nodes at layoutX/layoutY coloured
// by category, connections drawn from a node's right side to the next one's left side and labelled
// with their relation types. A trace (or import errors) can be drawn over it.
import { h, type Scope } from '../dom.js';
import { shortType, type Category, type ChainModel, type ChainNode } from './model.js';

export const NODE_W = 170;
export const NODE_H = 50;
const INPUT_INDEX = -1;

// ThingsBoard's palette (ui-ngx rule node component types).
export const CATEGORY_COLORS: Readonly<Record<Category, string>> = {
  INPUT: '#a3eaa9',
  FILTER: '#f1e861',
  ENRICHMENT: '#cdf14e',
  TRANSFORMATION: '#79cef1',
  ACTION: '#f1928f',
  EXTERNAL: '#fbc766',
  FLOW: '#d6c4f1',
  UNKNOWN: '#d9d9d9',
};

export interface NodeMark {
  /** Shown under the node (e.g. "1.2 ms"). */
  readonly badge?: string;
  readonly error?: string;
  /** How many times a walk passed the node. */
  readonly count?: number;
}

export interface ChainPicture {
  readonly el: SVGSVGElement;
  /** Marks visited nodes and traversed connections ("from>to"); the input node is index -1. */
  highlight(nodes: ReadonlyMap<number, NodeMark>, edges: ReadonlySet<string>): void;
  clear(): void;
}

let pictures = 0;

const truncate = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

type Point = { readonly x: number; readonly y: number };

/** Where each node goes (INPUT_INDEX too): the editor's layout, or rows top to bottom for a phone. */
function positions(model: ChainModel, portrait: boolean): Map<number, Point> {
  const pos = new Map<number, Point>();
  const first = model.firstNodeIndex === null ? undefined : model.nodes[model.firstNodeIndex];
  if (!portrait) {
    for (const n of model.nodes) pos.set(n.index, { x: n.x, y: n.y });
    if (first) pos.set(INPUT_INDEX, { x: first.x - NODE_W - 70, y: first.y });
    return pos;
  }
  // The editor's columns (close layoutX) become rows, ordered by layoutY within a row: a chain
  // that reads left to right on a wide screen reads top to bottom on a narrow one.
  const sorted = [...model.nodes].sort((a, b) => a.x - b.x || a.y - b.y);
  const rows: ChainNode[][] = [];
  let rowStart = -Infinity;
  for (const n of sorted) {
    if (n.x - rowStart > NODE_W * 0.6) {
      rows.push([]);
      rowStart = n.x;
    }
    rows[rows.length - 1]?.push(n);
  }
  // At most two side by side (a phone's width): a wider column wraps onto more rows.
  const PER_ROW = 2;
  const wrapped = rows.flatMap((row) => {
    row.sort((a, b) => a.y - b.y);
    const out: ChainNode[][] = [];
    for (let i = 0; i < row.length; i += PER_ROW) out.push(row.slice(i, i + PER_ROW));
    return out;
  });
  rows.splice(0, rows.length, ...wrapped);
  if (first) rows.unshift([]);
  const gapX = 24;
  const gapY = 64;
  const widest = Math.max(1, ...rows.map((r) => r.length));
  rows.forEach((row, r) => {
    const offset = ((widest - row.length) * (NODE_W + gapX)) / 2;
    row.forEach((n, i) => pos.set(n.index, { x: offset + i * (NODE_W + gapX), y: r * (NODE_H + gapY) }));
  });
  if (first) {
    const f = pos.get(first.index) as Point;
    pos.set(INPUT_INDEX, { x: f.x, y: 0 });
  }
  return pos;
}

/** Narrow screens get the portrait picture. */
export function prefersPortrait(): boolean {
  return window.matchMedia('(max-width: 640px)').matches;
}

export function chainPicture(model: ChainModel, opts: { onNodeClick?: (node: ChainNode) => void; title?: string; portrait?: boolean } = {}): ChainPicture {
  const portrait = opts.portrait ?? prefersPortrait();
  // Several pictures may share a page: each gets its own marker id.
  const arrowId = `arrow-${++pictures}`;
  const first = model.firstNodeIndex === null ? undefined : model.nodes[model.firstNodeIndex];
  const byIndex = new Map(model.nodes.map((n) => [n.index, n]));
  const at = positions(model, portrait);

  const points = [...at.values()];
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const pad = 30;
  const minX = (xs.length ? Math.min(...xs) : 0) - pad;
  const minY = (ys.length ? Math.min(...ys) : 0) - pad;
  const width = (xs.length ? Math.max(...xs) : 0) + NODE_W + pad - minX;
  const height = (ys.length ? Math.max(...ys) : 0) + NODE_H + pad + 18 - minY;

  // One drawn connection per node pair: parallel relations share a line and a label.
  const pairs = new Map<string, { from: number; to: number; types: string[] }>();
  for (const c of model.connections) {
    if (!byIndex.has(c.from) || !byIndex.has(c.to)) continue;
    const key = `${c.from}>${c.to}`;
    const p = pairs.get(key) ?? { from: c.from, to: c.to, types: [] };
    p.types.push(c.type);
    pairs.set(key, p);
  }
  if (first) pairs.set(`${INPUT_INDEX}>${first.index}`, { from: INPUT_INDEX, to: first.index, types: [] });

  const pos = (i: number) => at.get(i) as Point;
  const edgeEls = new Map<string, Element>();
  const edges = [...pairs.entries()].map(([key, p]) => {
    const a = pos(p.from);
    const b = pos(p.to);
    // Landscape: right side to left side; portrait: bottom to top.
    const [sx, sy, ex, ey] = portrait ? [a.x + NODE_W / 2, a.y + NODE_H, b.x + NODE_W / 2, b.y] : [a.x + NODE_W, a.y + NODE_H / 2, b.x, b.y + NODE_H / 2];
    const bend = Math.max(portrait ? 30 : 40, Math.abs(portrait ? ey - sy : ex - sx) / 2);
    const [c1x, c1y, c2x, c2y] = portrait ? [sx, sy + bend, ex, ey - bend] : [sx + bend, sy, ex - bend, ey];
    const d = `M ${sx} ${sy} C ${c1x} ${c1y}, ${c2x} ${c2y}, ${ex} ${ey}`;
    // Label at the curve's midpoint (t = 0.5 of the cubic Bézier).
    const mx = 0.125 * sx + 0.375 * c1x + 0.375 * c2x + 0.125 * ex;
    const my = 0.125 * sy + 0.375 * c1y + 0.375 * c2y + 0.125 * ey;
    const label = p.types.join(' / ');
    const lw = label.length * 6.4 + 10;
    const g = (
      <g class="edge" data-edge={key} data-relations={label}>
        <path class="edge-line" d={d} marker-end={`url(#${arrowId})`} />
        {label !== '' ? (
          <g class="edge-label" transform={`translate(${mx.toFixed(1)} ${my.toFixed(1)})`}>
            <rect x={(-lw / 2).toFixed(1)} y="-9" width={lw.toFixed(1)} height="18" rx="4" />
            <text text-anchor="middle" y="4">
              {label}
            </text>
          </g>
        ) : null}
      </g>
    );
    edgeEls.set(key, g);
    return g;
  });

  const nodeEls = new Map<number, Element>();
  const badgeEls = new Map<number, SVGTextElement>();
  const nodeView = (n: { index: number; name: string; type: string; category: Category; description?: string | null }) => {
    let badge!: SVGTextElement;
    const p = pos(n.index);
    const g = (
      <g
        class={`node cat-${n.category.toLowerCase()}`}
        data-index={String(n.index)}
        data-name={n.name}
        transform={`translate(${p.x} ${p.y})`}
        tabindex={n.index === INPUT_INDEX ? undefined : '0'}
        role={n.index === INPUT_INDEX ? undefined : 'button'}
        aria-label={`${n.name} (${shortType(n.type)})`}
      >
        <title>{`${n.name}\n${n.type}${n.description ? `\n${n.description}` : ''}`}</title>
        <rect class="node-box" width={String(NODE_W)} height={String(NODE_H)} rx="6" fill={CATEGORY_COLORS[n.category]} />
        <text class="node-name" x="10" y="21">
          {truncate(n.name, 22)}
        </text>
        <text class="node-type" x="10" y="38">
          {truncate(shortType(n.type).replace(/^Tb/, '').replace(/Node$/, ''), 26)}
        </text>
        <text class="node-badge" x={String(NODE_W / 2)} y={String(NODE_H + 14)} text-anchor="middle" ref={(t) => (badge = t as SVGTextElement)}></text>
      </g>
    );
    if (n.index !== INPUT_INDEX) {
      const node = byIndex.get(n.index);
      if (node && opts.onNodeClick) {
        const click = opts.onNodeClick;
        g.addEventListener('click', () => click(node));
        g.addEventListener('keydown', (e) => {
          if ((e as KeyboardEvent).key === 'Enter' || (e as KeyboardEvent).key === ' ') {
            e.preventDefault();
            click(node);
          }
        });
      }
    }
    nodeEls.set(n.index, g);
    badgeEls.set(n.index, badge);
    return g;
  };

  const svg = (
    <svg
      class="chain-svg"
      viewBox={`${minX} ${minY} ${width} ${height}`}
      preserveAspectRatio="xMinYMin meet"
      role="img"
      aria-label={opts.title ?? 'Rule chain'}
      data-width={String(Math.round(width))}
      data-orientation={portrait ? 'portrait' : 'landscape'}
    >
      <defs>
        <marker id={arrowId} viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse">
          <path d="M 0 0 L 10 5 L 0 10 z" class="arrow-head" />
        </marker>
      </defs>
      <g class="edges">{edges}</g>
      <g class="nodes">
        {first ? nodeView({ index: INPUT_INDEX, name: 'Input', type: 'Input', category: 'INPUT' }) : null}
        {model.nodes.map((n) => nodeView(n))}
      </g>
    </svg>
  ) as SVGSVGElement;
  // Hard-coded sizes for a browser that ignores the viewBox aspect when height is auto.
  svg.style.aspectRatio = `${width} / ${height}`;

  const clear = () => {
    svg.classList.remove('tracing');
    for (const el of nodeEls.values()) el.classList.remove('visited', 'failed');
    for (const el of edgeEls.values()) el.classList.remove('traversed');
    for (const b of badgeEls.values()) b.textContent = '';
  };

  return {
    el: svg,
    clear,
    highlight(nodes, traversed) {
      clear();
      svg.classList.add('tracing');
      for (const [index, mark] of nodes) {
        const el = nodeEls.get(index);
        if (!el) continue;
        el.classList.add('visited');
        if (mark.error !== undefined) el.classList.add('failed');
        const badge = badgeEls.get(index);
        if (badge) badge.textContent = [mark.badge, mark.count && mark.count > 1 ? `×${mark.count}` : '', mark.error !== undefined ? '⚠' : ''].filter(Boolean).join(' ');
      }
      for (const key of traversed) edgeEls.get(key)?.classList.add('traversed');
    },
  };
}

/** The colour legend. */
export function legend(): Element {
  const cats: Category[] = ['FILTER', 'ENRICHMENT', 'TRANSFORMATION', 'ACTION', 'EXTERNAL', 'FLOW'];
  return (
    <ul class="legend" aria-label="Node categories">
      {cats.map((c) => (
        <li>
          <span class="swatch" style={{ background: CATEGORY_COLORS[c] }}></span>
          {c.toLowerCase()}
        </li>
      ))}
    </ul>
  );
}

/**
 * A picture that fits the width (default) or shows at actual size in its own scroll box, redrawn
 * in the other orientation when the screen crosses the phone width (rotation, resize).
 */
export function zoomable(scope: Scope, make: (portrait: boolean) => SVGSVGElement): Element {
  const media = window.matchMedia('(max-width: 640px)');
  let svg = make(media.matches);
  const box = (<div class="zoom-box">{svg}</div>);
  const size = () => {
    svg.style.width = box.classList.contains('actual') ? `${svg.dataset.width ?? 800}px` : '';
  };
  const button = (
    <button
      type="button"
      class="small zoom-toggle"
      onClick={() => {
        const actual = box.classList.toggle('actual');
        size();
        button.textContent = actual ? 'Fit to width' : 'Actual size';
      }}
    >
      Actual size
    </button>
  );
  const redraw = () => {
    // Pictures of earlier renders are gone from the page: they stop listening.
    if (!box.isConnected) return media.removeEventListener('change', redraw);
    svg = make(media.matches);
    box.replaceChildren(svg);
    size();
  };
  media.addEventListener('change', redraw);
  scope.onDispose(() => media.removeEventListener('change', redraw));
  return (
    <div class="zoomable">
      {button}
      {box}
    </div>
  );
}
