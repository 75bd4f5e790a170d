// Builds rule-chain export documents in ThingsBoard's format for tests.
export interface TestNode {
  type: string;
  name: string;
  configuration?: Record<string, unknown> | null;
  configurationVersion?: number;
  [key: string]: unknown;
}

export function chainDoc(
  name: string,
  nodes: TestNode[],
  connections: [number, number, string][],
  firstNodeIndex: number | null = 0,
): { ruleChain: Record<string, unknown>; metadata: Record<string, unknown> } {
  return {
    ruleChain: { name, type: 'CORE', firstRuleNodeId: null, root: false, debugMode: false, configuration: null, additionalInfo: null },
    metadata: {
      firstNodeIndex,
      nodes: nodes.map((n) => ({ configuration: {}, debugMode: false, additionalInfo: { layoutX: 0, layoutY: 0 }, ...n })),
      connections: connections.map(([fromIndex, toIndex, type]) => ({ fromIndex, toIndex, type })),
      ruleChainConnections: null,
    },
  };
}
