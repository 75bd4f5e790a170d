// A Lua script run by EVALSHA, with EVAL as fallback when the server does not know it yet
// (first use, restart, or another cluster node).
import { createHash } from 'node:crypto';
import type { RedisClient } from './redis-client.js';

export type ScriptArg = string | number;

export class LuaScript {
  readonly sha: string;

  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** All `keys` must share one hash tag (cluster). */
  async run(redis: RedisClient, keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (e) {
      if (!(e instanceof Error) || !e.message.startsWith('NOSCRIPT')) throw e;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

/** Script replies are untyped; these narrow them. */
export function replyStrings(reply: unknown): string[] {
  if (!Array.isArray(reply)) return [String(reply)];
  return reply.map((x) => (x === null || x === undefined ? '' : String(x)));
}
