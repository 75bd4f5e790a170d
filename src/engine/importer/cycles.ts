/** Finds one loop among a chain's connections (ThingsBoard refuses them: "circling relations"), or null. */
export function findCycle(nodeCount: number, connections: readonly { fromIndex: number; toIndex: number }[]): number[] | null {
  const next: number[][] = Array.from({ length: nodeCount }, () => []);
  for (const c of connections) next[c.fromIndex].push(c.toIndex);
  const state = new Uint8Array(nodeCount); // 0 new, 1 on the current path, 2 done
  const path: number[] = [];
  const visit = (n: number): number[] | null => {
    state[n] = 1;
    path.push(n);
    for (const m of next[n]) {
      if (state[m] === 1) return [...path.slice(path.indexOf(m)), m];
      if (state[m] === 0) {
        const found = visit(m);
        if (found) return found;
      }
    }
    path.pop();
    state[n] = 2;
    return null;
  };
  for (let n = 0; n < nodeCount; n++) {
    if (state[n] === 0) {
      const found = visit(n);
      if (found) return found;
    }
  }
  return null;
}
