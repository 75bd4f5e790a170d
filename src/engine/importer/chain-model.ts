import type { RuleNodeDefinition } from '../node-api.js';

/** One node of an imported chain: its upgraded, validated configuration and the definition that runs it. */
export interface ImportedNode {
  /** A new id given at import (ThingsBoard gives nodes new ids too). */
  readonly id: string;
  readonly index: number;
  /** ThingsBoard's fully qualified type name. */
  readonly type: string;
  readonly name: string;
  /** The node's current configuration version (after the upgrade steps). */
  readonly configurationVersion: number;
  readonly configuration: Record<string, unknown>;
  readonly queueName: string | null;
  readonly debugMode: boolean;
  readonly additionalInfo: Record<string, unknown> | null;
  readonly definition: RuleNodeDefinition<unknown>;
}

export interface ImportedConnection {
  readonly fromIndex: number;
  readonly toIndex: number;
  /** The relation type as written in the export ("RPC Request" stays as it is; matching handles the alias). */
  readonly type: string;
}

/** A rule chain ready to load into the runtime. */
export interface ImportedChain {
  readonly id: string;
  readonly name: string;
  readonly type: 'CORE' | 'EDGE';
  readonly root: boolean;
  readonly debugMode: boolean;
  readonly additionalInfo: Record<string, unknown> | null;
  readonly firstNodeIndex: number | null;
  readonly nodes: readonly ImportedNode[];
  readonly connections: readonly ImportedConnection[];
  /** Where it came from, for error messages (a file name, or "request body"). */
  readonly source: string;
  /** The chain id the export was made with, when it carried one (entity export format). */
  readonly originalId: string | null;
}

/** One problem found while importing, with everything a user needs to find it. */
export interface ImportIssue {
  readonly source: string;
  /** JSON pointer into the document, e.g. /metadata/nodes/3/configuration/jsScript */
  readonly pointer: string;
  readonly nodeIndex?: number;
  readonly nodeName?: string;
  readonly message: string;
}

export function formatIssue(issue: ImportIssue): string {
  const node = issue.nodeIndex === undefined ? '' : ` (node #${issue.nodeIndex}${issue.nodeName ? ` "${issue.nodeName}"` : ''})`;
  return `${issue.source}: ${issue.pointer || '/'}${node}: ${issue.message}`;
}

/** Thrown when a chain cannot be imported or loaded; `issues` lists every problem found. */
export class ChainImportError extends Error {
  constructor(readonly issues: readonly ImportIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ChainImportError';
  }
}
