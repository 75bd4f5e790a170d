// Optimistic writes (read, compute, compare-and-set in Lua) retry when another writer got in between.
import { ConcurrentUpdateError } from './errors.js';

export const STALE = Symbol('stale');

/** Runs `attempt` until it returns something other than STALE, at most `max` times. */
export async function retryStale<T>(what: string, attempt: () => Promise<T | typeof STALE>, max = 20): Promise<T> {
  for (let i = 0; i < max; i++) {
    const result = await attempt();
    if (result !== STALE) return result;
  }
  throw new ConcurrentUpdateError(`${what}: too many concurrent updates, giving up`);
}
