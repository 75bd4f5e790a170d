// beyond-thingsboard #6: a client-side RPC (TO_SERVER_RPC_REQUEST) that the rule chain never answers
// gets {"error":"no reply from rule chain"} as soon as its processing ends, instead of the transport's
// {"error":"timeout"} a minute later.
//
// "Its processing ends" must include work the chain continues later as new queue messages: the RPC
// request node (device A asks, device B answers, spec/rpc.md §9), checkpoint, delay, deduplication.
// So the request (serviceId/sessionId/requestId from the metadata) keeps a counter in Redis:
//
//   live = 1 + continuations announced − messages ended
//
// The original message counts as 1. A continuation is announced when it is queued
// (noteContinuation, called by whoever queues enqueueForTellNext messages) or, by the RPC request
// node, already when it takes the message (expectContinuation): its outcome is queued only after
// the original has ended. That node's continuation is then remembered so that it is not counted
// twice. When a message ends (answerUnreplied) and live reaches 0, the request is answered unless a
// reply node marked it replied. All marks expire after clientRpcMarkTtlMs.
import { MsgType } from '../msg/msg-types.js';
import type { TbMsg } from '../msg/tb-msg.js';
import { LuaScript } from '../store/lua-script.js';
import type { RedisClient } from '../store/redis-client.js';
import type { RpcKeys } from './rpc-keys.js';

export const NO_REPLY_FROM_RULE_CHAIN = JSON.stringify({ error: 'no reply from rule chain' });

/** Which client-side request a message belongs to: the three metadata values the reply node uses. */
export interface ClientRpcRef {
  readonly serviceId: string;
  readonly sessionId: string;
  readonly requestId: string;
}

export function clientRpcRefOf(msg: TbMsg): ClientRpcRef | null {
  const { serviceId, sessionId, requestId } = msg.metaData;
  if (!serviceId || !sessionId || !requestId) return null;
  return { serviceId, sessionId, requestId };
}

// KEYS: live, counted. ARGV: msgId, ttl.
const NOTE = new LuaScript(`
if redis.call('SREM', KEYS[2], ARGV[1]) == 1 then return 0 end
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`);

// KEYS: live, counted. ARGV: msgId, ttl.
const EXPECT = new LuaScript(`
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1`);

// KEYS: live, replied. ARGV: ttl, original ('1' for a TO_SERVER_RPC_REQUEST message).
// 1: the caller must answer now; 0: someone answered, or work is still to come.
const END = new LuaScript(`
if ARGV[2] ~= '1' and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local live = 1 + redis.call('DECR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
if live > 0 then return 0 end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then return 1 end
return 0`);

export interface ClientRpcGuardOptions {
  readonly redis: RedisClient;
  readonly keys: RpcKeys;
  readonly enabled: boolean;
  readonly ttlMs: number;
  /** Sends a reply to the device's session (without marking it). */
  readonly reply: (ref: ClientRpcRef, requestId: number, payload: string) => Promise<void>;
}

export class ClientRpcGuard {
  constructor(private readonly opts: ClientRpcGuardOptions) {}

  /** A reply node answered the request. */
  async markReplied(ref: ClientRpcRef): Promise<void> {
    if (!this.opts.enabled) return;
    const { keys, ttlMs } = this.opts;
    await this.opts.redis.set(keys.clientReplied(ref.serviceId, ref.sessionId, ref.requestId), '1', 'PX', ttlMs);
  }

  /** The RPC request node took `msg` and will queue its outcome later as message `nextMsgId`. */
  async expectContinuation(msg: TbMsg, nextMsgId: string): Promise<void> {
    const ref = this.opts.enabled ? clientRpcRefOf(msg) : null;
    if (!ref) return;
    await EXPECT.run(this.opts.redis, this.liveKeys(ref), [nextMsgId, this.opts.ttlMs]);
  }

  /** A message of the request is being queued to continue later (enqueueForTellNext). */
  async noteContinuation(msg: TbMsg): Promise<void> {
    const ref = this.opts.enabled ? clientRpcRefOf(msg) : null;
    if (!ref) return;
    await NOTE.run(this.opts.redis, this.liveKeys(ref), [msg.id, this.opts.ttlMs]);
  }

  /**
   * A message's processing ended for good. When it was the last piece of work of a client-side
   * request that no reply node answered, answers the device now; resolves true then.
   */
  async answerUnreplied(msg: TbMsg): Promise<boolean> {
    const ref = this.opts.enabled ? clientRpcRefOf(msg) : null;
    if (!ref) return false;
    const requestId = Number(ref.requestId);
    if (!Number.isInteger(requestId)) return false;
    const { keys, ttlMs } = this.opts;
    const original = msg.type === MsgType.TO_SERVER_RPC_REQUEST ? '1' : '0';
    const r = await END.run(
      this.opts.redis,
      [keys.clientLive(ref.serviceId, ref.sessionId, ref.requestId), keys.clientReplied(ref.serviceId, ref.sessionId, ref.requestId)],
      [ttlMs, original],
    );
    if (r !== 1) return false;
    await this.opts.reply(ref, requestId, NO_REPLY_FROM_RULE_CHAIN);
    return true;
  }

  private liveKeys(ref: ClientRpcRef): string[] {
    const { keys } = this.opts;
    return [keys.clientLive(ref.serviceId, ref.sessionId, ref.requestId), keys.clientCounted(ref.serviceId, ref.sessionId, ref.requestId)];
  }
}
