// A rule chain as the picture needs it, from ThingsBoard's RuleChainMetaData (GET
// /api/ruleChain/{id}/metadata) or from an export document (the file being imported).

export type Category = 'INPUT' | 'FILTER' | 'ENRICHMENT' | 'TRANSFORMATION' | 'ACTION' | 'EXTERNAL' | 'FLOW' | 'UNKNOWN';

export interface ChainNode {
  /** Index in metadata.nodes (legacy rule chain connections follow the nodes, as the importer appends them). */
  readonly index: number;
  readonly id: string | null;
  readonly name: string;
  readonly type: string;
  readonly category: Category;
  readonly x: number;
  readonly y: number;
  readonly description: string | null;
  readonly configuration: unknown;
}

export interface ChainConnection {
  readonly from: number;
  readonly to: number;
  readonly type: string;
}

export interface ChainModel {
  readonly nodes: readonly ChainNode[];
  readonly connections: readonly ChainConnection[];
  readonly firstNodeIndex: number | null;
}

const PREFIX = 'org.thingsboard.rule.engine.';
const EXTERNAL = new Set(['rest', 'mqtt', 'kafka', 'rabbitmq', 'mail', 'sms', 'aws', 'gcp', 'azure', 'notification', 'ai', 'integration']);

/** ThingsBoard's node categories (its palette colours them), from the Java package. */
export function categoryOf(type: string): Category {
  if (!type.startsWith(PREFIX)) return 'UNKNOWN';
  const pkg = type.slice(PREFIX.length).split('.')[0] ?? '';
  if (pkg === 'filter') return 'FILTER';
  if (pkg === 'metadata') return 'ENRICHMENT';
  if (pkg === 'transform' || pkg === 'deduplication') return 'TRANSFORMATION';
  if (pkg === 'flow') return 'FLOW';
  if (EXTERNAL.has(pkg)) return 'EXTERNAL';
  return 'ACTION';
}

/** `org.thingsboard.rule.engine.filter.TbJsFilterNode` → `TbJsFilterNode`. */
export function shortType(type: string): string {
  return type.split('.').pop() ?? type;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** The metadata part of any export form: {ruleChain, metadata}, {entity, metaData}, or bare metadata. */
export function metadataOf(doc: unknown): Obj | null {
  if (!isObj(doc)) return null;
  if (isObj(doc.metadata)) return doc.metadata;
  if (isObj(doc.metaData)) return doc.metaData;
  if (Array.isArray(doc.nodes)) return doc;
  return null;
}

export function chainNameOf(doc: unknown): string | null {
  if (!isObj(doc)) return null;
  const rc = isObj(doc.ruleChain) ? doc.ruleChain : isObj(doc.entity) ? doc.entity : null;
  return rc && typeof rc.name === 'string' ? rc.name : null;
}

export function modelOf(metadata: unknown): ChainModel {
  const meta = metadataOf(metadata) ?? {};
  const rawNodes = Array.isArray(meta.nodes) ? meta.nodes : [];
  const nodes: { index: number; id: string | null; name: string; type: string; x: number | null; y: number | null; description: string | null; configuration: unknown }[] = [];
  rawNodes.forEach((raw, index) => {
    const n = isObj(raw) ? raw : {};
    const info = isObj(n.additionalInfo) ? n.additionalInfo : {};
    const id = isObj(n.id) && typeof n.id.id === 'string' ? n.id.id : typeof n.id === 'string' ? n.id : null;
    nodes.push({
      index,
      id,
      name: typeof n.name === 'string' ? n.name : `node ${index}`,
      type: typeof n.type === 'string' ? n.type : '(no type)',
      x: num(info.layoutX),
      y: num(info.layoutY),
      description: typeof info.description === 'string' && info.description !== '' ? info.description : null,
      configuration: n.configuration ?? null,
    });
  });
  const connections: ChainConnection[] = [];
  for (const raw of Array.isArray(meta.connections) ? meta.connections : []) {
    if (!isObj(raw)) continue;
    const from = num(raw.fromIndex);
    const to = num(raw.toIndex);
    if (from === null || to === null || typeof raw.type !== 'string') continue;
    connections.push({ from, to, type: raw.type });
  }
  // Legacy (≤3.0) links to other chains: the importer turns each into a rule chain node.
  for (const raw of Array.isArray(meta.ruleChainConnections) ? meta.ruleChainConnections : []) {
    if (!isObj(raw)) continue;
    const from = num(raw.fromIndex);
    if (from === null || typeof raw.type !== 'string') continue;
    const info = isObj(raw.additionalInfo) ? raw.additionalInfo : {};
    const target = isObj(raw.targetRuleChainId) && typeof raw.targetRuleChainId.id === 'string' ? raw.targetRuleChainId.id : '?';
    const index = nodes.length;
    nodes.push({
      index,
      id: null,
      name: `Rule chain ${target.slice(0, 8)}`,
      type: `${PREFIX}flow.TbRuleChainInputNode`,
      x: num(info.layoutX),
      y: num(info.layoutY),
      description: null,
      configuration: { ruleChainId: target },
    });
    connections.push({ from, to: index, type: raw.type });
  }
  const first = num(meta.firstNodeIndex);
  const firstNodeIndex = first !== null && first >= 0 && first < nodes.length ? first : null;
  const placed = autoLayout(nodes, connections, firstNodeIndex);
  return { nodes: placed.map((n) => ({ ...n, category: categoryOf(n.type) })), connections, firstNodeIndex };
}

/** Nodes without layoutX/layoutY get a place: columns by distance from the first node. */
function autoLayout<N extends { index: number; x: number | null; y: number | null }>(nodes: N[], connections: readonly ChainConnection[], first: number | null): (Omit<N, 'x' | 'y'> & { x: number; y: number })[] {
  if (nodes.every((n) => n.x !== null && n.y !== null)) return nodes as (Omit<N, 'x' | 'y'> & { x: number; y: number })[];
  const depth = new Map<number, number>();
  const queue: number[] = [];
  for (const start of first !== null ? [first] : []) {
    depth.set(start, 0);
    queue.push(start);
  }
  while (queue.length > 0) {
    const i = queue.shift() as number;
    for (const c of connections) {
      if (c.from === i && !depth.has(c.to)) {
        depth.set(c.to, (depth.get(i) ?? 0) + 1);
        queue.push(c.to);
      }
    }
  }
  const maxDepth = Math.max(0, ...depth.values());
  const rows = new Map<number, number>();
  const placedX = nodes.filter((n) => n.x !== null).map((n) => n.x as number);
  const left = placedX.length > 0 ? Math.min(...placedX) : 300;
  return nodes.map((n) => {
    if (n.x !== null && n.y !== null) return { ...n, x: n.x, y: n.y };
    const d = depth.get(n.index) ?? maxDepth + 1;
    const row = rows.get(d) ?? 0;
    rows.set(d, row + 1);
    return { ...n, x: left + d * 260, y: 100 + row * 90 };
  });
}
