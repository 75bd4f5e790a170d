// Callers waiting for an RPC's outcome, by id, each with its fallback timer: ThingsBoard's rule-engine
// and core services answer TIMEOUT at expiration + 1 s when the device actor never answers (§2.5).
import type { RpcOutcome } from './rpc-types.js';

/** How long after expiration a waiter gives up (ThingsBoard: 1 s). */
export const FALLBACK_GRACE_MS = 1000;

interface Waiter {
  readonly resolve: (outcome: RpcOutcome) => void;
  readonly timer: NodeJS.Timeout;
}

export class OutcomeWaiters {
  private readonly waiting = new Map<string, Waiter>();

  /** Waits for `id`'s outcome; TIMEOUT at `expirationTime` + 1 s. A second wait for the same id replaces the first (which times out). */
  wait(id: string, expirationTime: number, now: number = Date.now()): Promise<RpcOutcome> {
    return new Promise<RpcOutcome>((resolve) => {
      const delay = Math.max(0, expirationTime - now) + FALLBACK_GRACE_MS;
      const timer = setTimeout(() => this.complete(id, { rpcId: id, response: null, error: 'TIMEOUT' }), delay);
      const old = this.waiting.get(id);
      if (old) {
        clearTimeout(old.timer);
        old.resolve({ rpcId: id, response: null, error: 'TIMEOUT' });
      }
      this.waiting.set(id, { resolve, timer });
    });
  }

  /** Resolves the waiter of `id`; false when nobody waits (late, or another process's). */
  complete(id: string, outcome: RpcOutcome): boolean {
    const w = this.waiting.get(id);
    if (!w) return false;
    this.waiting.delete(id);
    clearTimeout(w.timer);
    w.resolve(outcome);
    return true;
  }

  has(id: string): boolean {
    return this.waiting.has(id);
  }

  get size(): number {
    return this.waiting.size;
  }

  /** Answers everyone with `error` (shutdown). */
  failAll(error: RpcOutcome['error']): void {
    for (const id of [...this.waiting.keys()]) this.complete(id, { rpcId: id, response: null, error });
  }
}
