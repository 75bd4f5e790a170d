// Reads the real ThingsBoard exports in ../shared/examples/rule-chains at test time.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { NodeRegistry } from '../../src/engine/registry.js';

export const EXAMPLES_DIR = fileURLToPath(new URL('../../../shared/examples/rule-chains/', import.meta.url));

export function exampleFiles(): string[] {
  return readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => join(EXAMPLES_DIR, f));
}

interface RawDoc {
  ruleChain?: Record<string, unknown>;
  metadata?: RawMeta;
  nodes?: unknown[];
}
interface RawMeta {
  firstNodeIndex: number | null;
  nodes: { type: string }[];
  connections: { fromIndex: number; toIndex: number; type: string }[] | null;
  ruleChainConnections?: unknown;
}

export function readExample(name: string): RawDoc {
  return JSON.parse(readFileSync(join(EXAMPLES_DIR, name), 'utf8')) as RawDoc;
}

/**
 * The part of a real chain made of nodes this registry runs: the other nodes and their
 * connections are left out, and the chain starts at `startIndex` (an index of the original).
 */
export function supportedPart(doc: RawDoc, registry: NodeRegistry, startIndex: number): { doc: unknown; indexOf: (original: number) => number } {
  const meta: RawMeta = (doc.metadata ?? doc) as RawMeta;
  const kept: number[] = [];
  meta.nodes.forEach((n, i) => {
    if (registry.lookup(n.type).found) kept.push(i);
  });
  const indexOf = (original: number) => {
    const i = kept.indexOf(original);
    if (i < 0) throw new Error(`node #${original} (${meta.nodes[original]?.type}) is not runnable yet`);
    return i;
  };
  const connections = (meta.connections ?? [])
    .filter((c) => kept.includes(c.fromIndex) && kept.includes(c.toIndex))
    .map((c) => ({ ...c, fromIndex: indexOf(c.fromIndex), toIndex: indexOf(c.toIndex) }));
  return {
    doc: {
      ruleChain: { ...(doc.ruleChain ?? {}), name: String(doc.ruleChain?.name ?? 'metadata only') },
      metadata: { firstNodeIndex: indexOf(startIndex), nodes: kept.map((i) => meta.nodes[i]), connections, ruleChainConnections: null },
    },
    indexOf,
  };
}
