import type { RuleNodeDefinition } from './node-api.js';
import { unsupportedReason, type UnsupportedReason } from './known-node-types.js';

export type NodeLookup =
  | { readonly found: true; readonly definition: RuleNodeDefinition<unknown> }
  | { readonly found: false; readonly reason: UnsupportedReason | 'unknown node type' };

/** The node types this process can run, by ThingsBoard's fully qualified name (the short class name works too). */
export class NodeRegistry {
  private readonly byType = new Map<string, RuleNodeDefinition<unknown>>();
  private readonly byShortName = new Map<string, RuleNodeDefinition<unknown>>();

  constructor(definitions: readonly RuleNodeDefinition<unknown>[] = []) {
    for (const def of definitions) this.register(def);
  }

  register(def: RuleNodeDefinition<unknown>): void {
    if (this.byType.has(def.type)) throw new Error(`node type ${def.type} is registered twice`);
    this.byType.set(def.type, def);
    this.byShortName.set(shortName(def.type), def);
  }

  lookup(type: string): NodeLookup {
    const def = this.byType.get(type) ?? (type.includes('.') ? undefined : this.byShortName.get(type));
    if (def) return { found: true, definition: def };
    return { found: false, reason: unsupportedReason(type) ?? 'unknown node type' };
  }

  definitions(): RuleNodeDefinition<unknown>[] {
    return [...this.byType.values()];
  }
}

export function shortName(type: string): string {
  return type.slice(type.lastIndexOf('.') + 1);
}
