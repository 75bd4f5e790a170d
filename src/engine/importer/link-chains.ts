import type { ImportedChain, ImportedNode, ImportIssue } from './chain-model.js';
import { RULE_CHAIN_INPUT_NODE } from './import-chain.js';

export interface LinkOptions {
  /** Ids of the source system → ids here, for exports whose rule chain nodes name chains by id. */
  readonly idMap?: Readonly<Record<string, string>>;
  /** Chains already loaded, that the new ones may point at. */
  readonly known?: readonly ImportedChain[];
}

/**
 * Points every rule chain node at a chain that exists here. An export names its target
 * by the source tenant's id, so the id is looked up in the id map, then among the chains'
 * own and original ids, and last by the node's name (ThingsBoard names the node after its
 * target chain). An unresolved target is an error: nothing starts with a dangling link.
 */
export function linkChains(
  chains: readonly ImportedChain[],
  opts: LinkOptions = {},
): { chains: ImportedChain[]; issues: ImportIssue[] } {
  const all = [...chains, ...(opts.known ?? [])];
  const issues: ImportIssue[] = [];
  const resolve = (target: string, nodeName: string): ImportedChain | undefined => {
    const mapped = opts.idMap?.[target] ?? target;
    return (
      all.find((c) => c.id === mapped) ??
      all.find((c) => c.originalId === mapped) ??
      all.filter((c) => c.name === nodeName).at(0)
    );
  };
  const linked = chains.map((chain) => {
    const nodes = chain.nodes.map((node): ImportedNode => {
      if (node.type !== RULE_CHAIN_INPUT_NODE) return node;
      const target = String(node.configuration.ruleChainId ?? '');
      const found = resolve(target, node.name);
      if (!found) {
        issues.push({
          source: chain.source,
          pointer: `/metadata/nodes/${node.index}/configuration/ruleChainId`,
          nodeIndex: node.index,
          nodeName: node.name,
          message: `rule chain ${target || '(none)'} is not known here: import it together with this chain, or give an id map`,
        });
        return node;
      }
      const name = node.name === 'Rule Chain Input' ? found.name : node.name;
      return { ...node, name, configuration: { ...node.configuration, ruleChainId: found.id } };
    });
    return { ...chain, nodes };
  });
  return { chains: linked, issues };
}
