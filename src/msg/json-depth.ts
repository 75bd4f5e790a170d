/**
 * ThingsBoard's JSON parser (Jackson) refuses documents nested deeper than 1,000 levels; deeper
 * ones would overflow the stack where rpc-chains stringifies them again. Iterative, so the check
 * itself cannot overflow.
 */
export const MAX_JSON_DEPTH = 1000;

export function jsonTooDeep(value: unknown, max: number = MAX_JSON_DEPTH): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const stack: [object, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [object, number];
    if (depth > max) return true;
    for (const child of Object.values(node)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}
