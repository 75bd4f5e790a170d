import { createHash, randomUUID } from 'node:crypto';
import { ajv, describeAjvErrors } from '../ajv.js';
import type { NodeRegistry } from '../registry.js';
import { isPlainObject } from '../../msg/tb-msg.js';
import { prepareNodeConfig } from './node-config.js';
import { metadataSchema, ruleChainSchema } from './document-schema.js';
import type { ImportedChain, ImportedConnection, ImportedNode, ImportIssue } from './chain-model.js';
import { findCycle } from './cycles.js';

export const RULE_CHAIN_INPUT_NODE = 'org.thingsboard.rule.engine.flow.TbRuleChainInputNode';

const validateMetadata = ajv.compile(metadataSchema);
const validateRuleChain = ajv.compile(ruleChainSchema);

export interface ImportOptions {
  /** Named in every error: a file name or "request body". */
  readonly source: string;
  readonly registry: NodeRegistry;
  /** The id to give the chain (default: a new one). */
  readonly chainId?: string;
  /** The name to use when the document has none (a bare metadata document). */
  readonly fallbackName?: string;
}

export type ImportResult =
  | { readonly ok: true; readonly chain: ImportedChain; readonly warnings: readonly ImportIssue[] }
  | { readonly ok: false; readonly issues: readonly ImportIssue[] };

interface RawNode {
  type: string;
  name?: string | null;
  debugMode?: boolean | null;
  debugSettings?: { allEnabled?: boolean; failuresEnabled?: boolean } | null;
  queueName?: string | null;
  configurationVersion?: number | null;
  configuration?: Record<string, unknown> | null;
  additionalInfo?: Record<string, unknown> | null;
}

interface RawRuleChainConnection {
  fromIndex: number;
  targetRuleChainId: { id: string };
  type: string;
  additionalInfo?: Record<string, unknown> | null;
}

interface RawMetadata {
  firstNodeIndex?: number | null;
  nodes: RawNode[];
  connections?: ImportedConnection[] | null;
  ruleChainConnections?: RawRuleChainConnection[] | null;
}

interface RawRuleChain {
  name: string;
  type?: 'CORE' | 'EDGE' | null;
  root?: boolean | null;
  debugMode?: boolean | null;
  additionalInfo?: Record<string, unknown> | null;
  id?: unknown;
}

/** Where the parts of a document are: the three forms ThingsBoard produces. */
interface DocumentParts {
  readonly ruleChain: unknown;
  readonly ruleChainPointer: string;
  readonly metadata: unknown;
  readonly metadataPointer: string;
}

function locateParts(doc: unknown): DocumentParts | string {
  if (!isPlainObject(doc)) return 'a rule-chain document must be a JSON object';
  if ('metadata' in doc) return { ruleChain: doc.ruleChain, ruleChainPointer: '/ruleChain', metadata: doc.metadata, metadataPointer: '/metadata' };
  if ('metaData' in doc && 'entity' in doc) {
    return { ruleChain: doc.entity, ruleChainPointer: '/entity', metadata: doc.metaData, metadataPointer: '/metaData' };
  }
  if ('nodes' in doc) return { ruleChain: undefined, ruleChainPointer: '', metadata: doc, metadataPointer: '' };
  return 'not a rule-chain export: expected {"ruleChain", "metadata"}, a metadata document with "nodes", or an entity export with "entity" and "metaData"';
}

/**
 * Imports one ThingsBoard rule-chain document (any of its export forms, old or new):
 * checks its shape, converts legacy rule-chain connections into rule chain nodes, runs
 * each node's configuration upgrades and validates it. Every problem is collected and
 * returned at once; nothing is half-imported.
 */
export function importChain(doc: unknown, opts: ImportOptions): ImportResult {
  const issues: ImportIssue[] = [];
  const warnings: ImportIssue[] = [];
  const source = opts.source;
  const parts = locateParts(doc);
  if (typeof parts === 'string') return { ok: false, issues: [{ source, pointer: '', message: parts }] };

  let chainInfo: RawRuleChain | undefined;
  if (parts.ruleChain !== undefined && parts.ruleChain !== null) {
    if (!validateRuleChain(parts.ruleChain)) {
      for (const p of describeAjvErrors(validateRuleChain.errors)) {
        issues.push({ source, pointer: parts.ruleChainPointer + p.pointer, message: p.message });
      }
    } else {
      chainInfo = parts.ruleChain as RawRuleChain;
    }
  }
  if (!validateMetadata(parts.metadata)) {
    for (const p of describeAjvErrors(validateMetadata.errors)) {
      issues.push({ source, pointer: parts.metadataPointer + p.pointer, message: p.message });
    }
    return { ok: false, issues };
  }
  const metadata = parts.metadata as RawMetadata;
  const mp = parts.metadataPointer;
  const rawNodes: RawNode[] = [...metadata.nodes];
  const rawConnections: ImportedConnection[] = [...(metadata.connections ?? [])];

  // Legacy form: each ruleChainConnections entry becomes a rule chain node appended to the nodes.
  (metadata.ruleChainConnections ?? []).forEach((rcc) => {
    const index = rawNodes.length;
    rawNodes.push({
      type: RULE_CHAIN_INPUT_NODE,
      name: 'Rule Chain Input',
      configurationVersion: 0,
      configuration: { ruleChainId: rcc.targetRuleChainId.id },
      additionalInfo: rcc.additionalInfo ?? null,
    });
    rawConnections.push({ fromIndex: rcc.fromIndex, toIndex: index, type: rcc.type });
  });

  const chainId = opts.chainId ?? randomUUID();
  const nodes: ImportedNode[] = [];
  rawNodes.forEach((raw, index) => {
    const pointer = index < metadata.nodes.length ? `${mp}/nodes/${index}` : `${mp}/ruleChainConnections/${index - metadata.nodes.length}`;
    const nodeName = raw.name ?? undefined;
    const at = { source, nodeIndex: index, nodeName };
    const lookup = opts.registry.lookup(raw.type);
    if (!lookup.found) {
      issues.push({ ...at, pointer: `${pointer}/type`, message: `${lookup.reason}: ${raw.type}` });
      return;
    }
    const def = lookup.definition;
    const prepared = prepareNodeConfig(def, raw.configuration ?? {}, raw.configurationVersion);
    if (!prepared.ok) {
      for (const p of prepared.problems) issues.push({ ...at, pointer: `${pointer}/configuration${p.pointer}`, message: p.message });
      return;
    }
    const debug = raw.debugSettings ? Boolean(raw.debugSettings.allEnabled || raw.debugSettings.failuresEnabled) : Boolean(raw.debugMode);
    nodes.push({
      id: nodeIdOf(chainId, index),
      index,
      type: def.type,
      name: nodeName ?? def.uiName,
      configurationVersion: def.version,
      configuration: prepared.config as Record<string, unknown>,
      queueName: raw.queueName ?? null,
      debugMode: debug,
      additionalInfo: raw.additionalInfo ?? null,
      definition: def,
    });
  });

  rawConnections.forEach((c, i) => {
    const pointer = i < (metadata.connections?.length ?? 0) ? `${mp}/connections/${i}` : `${mp}/ruleChainConnections/${i - (metadata.connections?.length ?? 0)}`;
    if (c.fromIndex >= rawNodes.length) issues.push({ source, pointer: `${pointer}/fromIndex`, message: `no node with index ${c.fromIndex} (the chain has ${rawNodes.length})` });
    if (c.toIndex >= rawNodes.length) issues.push({ source, pointer: `${pointer}/toIndex`, message: `no node with index ${c.toIndex} (the chain has ${rawNodes.length})` });
    if (c.fromIndex === c.toIndex) issues.push({ source, pointer, nodeIndex: c.fromIndex, message: "a node cannot be connected to itself" });
  });
  if (issues.length === 0) {
    const cycle = findCycle(rawNodes.length, rawConnections);
    if (cycle) {
      const names = cycle.map((i) => `#${i} "${rawNodes[i].name ?? rawNodes[i].type}"`).join(' → ');
      issues.push({ source, pointer: `${mp}/connections`, message: `connections form a loop (circling relations): ${names}` });
    }
  }
  const first = metadata.firstNodeIndex ?? null;
  if (first !== null && first >= rawNodes.length) {
    issues.push({ source, pointer: `${mp}/firstNodeIndex`, message: `no node with index ${first} (the chain has ${rawNodes.length})` });
  }
  if (rawNodes.length > 0 && first === null) {
    warnings.push({ source, pointer: `${mp}/firstNodeIndex`, message: 'no first node: messages sent to this chain end at once' });
  }
  if (issues.length > 0) return { ok: false, issues };

  return {
    ok: true,
    warnings,
    chain: {
      id: chainId,
      name: chainInfo?.name ?? opts.fallbackName ?? 'Imported rule chain',
      type: chainInfo?.type ?? 'CORE',
      root: chainInfo?.root ?? false,
      debugMode: chainInfo?.debugMode ?? false,
      additionalInfo: chainInfo?.additionalInfo ?? null,
      firstNodeIndex: first,
      nodes,
      connections: rawConnections,
      source,
      originalId: originalIdOf(chainInfo),
    },
  };
}

/**
 * Node ids follow from the chain id and the node's place, so that a stored chain loaded again
 * (after a restart, in another process) has the same node ids: messages queued to resume after
 * a node find it again.
 */
export function nodeIdOf(chainId: string, index: number): string {
  const h = createHash('sha1').update(`${chainId}/${index}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function originalIdOf(chain: RawRuleChain | undefined): string | null {
  const id = chain?.id;
  if (typeof id === 'string') return id;
  if (isPlainObject(id) && typeof id.id === 'string') return id.id;
  return null;
}
