// Messages between the processes of one deployment, addressed by service id (RPC replies, session
// hand-offs). Each process registers its service id in Redis with a heartbeat and reads its own
// inbox: a Redis stream. A stream rather than pub/sub because a reply sent while the receiver is
// reconnecting (or Redis restarts, with AOF) waits in the stream instead of being lost; reading it
// costs one blocking XREAD per process, and a send is one EVALSHA. The local process is reached in
// memory, without Redis.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createRedis } from '../redis/connection.js';
import { RedisScript } from './redis-script.js';

export interface ServiceBusOptions {
  readonly redisUrl: string;
  /** This process' id (settings.serviceId); default a random UUID. */
  readonly serviceId?: string;
  /** Base of the Redis keys (default 'rc-svc'). */
  readonly keyBase?: string;
  /**
   * A service not heard of for this long is dead (default 10 000 ms); renewed every third of it, and
   * at once when Redis comes back.
   */
  readonly heartbeatTtlMs?: number;
  /** Unread messages kept per inbox, about (default 10 000); older ones are dropped. */
  readonly inboxMaxLength?: number;
  /** Shown as the registration's value (e.g. roles, host), for operators. */
  readonly info?: string;
  readonly logger?: { warn(text: string): void };
}

export interface BusEnvelope {
  readonly from: string;
  readonly topic: string;
}

/** Payloads are JSON values. Local delivery does not copy them: handlers must not change them. */
export type BusHandler<T = unknown> = (payload: T, envelope: BusEnvelope) => void | Promise<void>;

// Deliver only to a live service, in one round trip; the inbox dies with its service.
const SEND = new RedisScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', 't', ARGV[2], 'f', ARGV[3], 'd', ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 1`);

export class ServiceBus {
  readonly serviceId: string;
  private readonly keyBase: string;
  private readonly ttlMs: number;
  private readonly inboxMax: number;
  private readonly info: string;
  private readonly log: { warn(text: string): void };
  /** Commands: sends, heartbeats, lookups. Fails fast. */
  private readonly redis: Redis;
  /** Only for the blocking XREAD on our inbox. */
  private readonly reader: Redis;
  private readonly handlers = new Map<string, Set<BusHandler>>();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readLoop: Promise<void> | undefined;
  private started: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private lastId = '0-0';
  private readonly warned = new Set<string>();
  /** When the command connection last came back after losing Redis (0: never lost). */
  private reconnectedAt = 0;
  private connectedOnce = false;
  private lastBeatAt = 0;
  private lapses = 0;

  constructor(opts: ServiceBusOptions) {
    this.serviceId = opts.serviceId ?? randomUUID();
    if (/[{}]/.test(this.serviceId)) throw new TypeError('serviceId must not contain { or }');
    this.keyBase = opts.keyBase ?? 'rc-svc';
    this.ttlMs = opts.heartbeatTtlMs ?? 10_000;
    this.inboxMax = opts.inboxMaxLength ?? 10_000;
    this.info = opts.info ?? JSON.stringify({ pid: process.pid, since: new Date().toISOString() });
    this.log = opts.logger ?? { warn: (t) => console.error(t) };
    const logger = { warn: (t: string) => this.warnOnce(t) };
    this.redis = createRedis(opts.redisUrl, { role: 'client', connectionName: `rc-bus:${this.serviceId}`, logger });
    this.reader = createRedis(opts.redisUrl, { role: 'worker', connectionName: `rc-bus-inbox:${this.serviceId}`, logger });
    this.redis.on('ready', () => this.onConnected());
    this.redis.on('close', () => this.lapses++);
  }

  /**
   * Changes whenever this process may have looked dead to the others: its connection to Redis was
   * lost, or a heartbeat failed or came too late, so its registration may have expired. What is
   * held only while the registration lives (device RPC leases) needs checking again only then.
   */
  get continuity(): number {
    return this.lapses;
  }

  /**
   * Redis came back (a restart, a crash): every registration may have expired while it was away,
   * since no process could renew its own. Ours is renewed at once, and for one TTL from now a
   * missing registration is not taken as proof of death (see isAlive).
   */
  private onConnected(): void {
    if (!this.connectedOnce) {
      this.connectedOnce = true;
      return;
    }
    this.reconnectedAt = Date.now();
    if (this.heartbeatTimer && !this.closing) this.heartbeat().catch((e: unknown) => this.warnOnce(`service bus heartbeat: ${(e as Error).message}`));
  }

  /** Less than a heartbeat TTL since Redis came back: a live service may not have renewed its registration yet. */
  private inGrace(): boolean {
    return this.reconnectedAt > 0 && Date.now() - this.reconnectedAt < this.ttlMs;
  }

  /** Registers this service and starts reading its inbox; messages sent after this resolves are received. */
  start(): Promise<void> {
    if (this.closing) return Promise.reject(new Error('the service bus is closed'));
    this.started ??= (async () => {
      // Begin after what is already in the inbox: it was for an earlier process with this id.
      const last = await this.redis.xrevrange(this.inboxKey(this.serviceId), '+', '-', 'COUNT', 1);
      this.lastId = last[0]?.[0] ?? '0-0';
      await this.heartbeat();
      this.heartbeatTimer = setInterval(() => {
        this.heartbeat().catch((e: unknown) => this.warnOnce(`service bus heartbeat: ${(e as Error).message}`));
      }, Math.max(50, Math.floor(this.ttlMs / 3)));
      this.readLoop = this.read();
    })();
    return this.started;
  }

  /** Handles messages on `topic`; returns a function that removes the handler. */
  on<T = unknown>(topic: string, handler: BusHandler<T>): () => void {
    let set = this.handlers.get(topic);
    if (!set) {
      set = new Set();
      this.handlers.set(topic, set);
    }
    const h = handler as BusHandler;
    set.add(h);
    return () => set.delete(h);
  }

  /**
   * Sends `payload` (a JSON value) to the service `serviceId`. Resolves true when it is in that
   * service's inbox (or delivered in memory, for this process), false when that service is not alive.
   */
  async send(serviceId: string, topic: string, payload: unknown): Promise<boolean> {
    if (this.closing) throw new Error('the service bus is closed');
    if (serviceId === this.serviceId) {
      queueMicrotask(() => this.dispatch(topic, this.serviceId, payload));
      return true;
    }
    const data = JSON.stringify(payload);
    const inboxTtl = Math.max(this.ttlMs * 6, 60_000);
    const sendOnce = async () => (await SEND.run(this.redis, [this.aliveKey(serviceId), this.inboxKey(serviceId)], [this.inboxMax, topic, this.serviceId, data, inboxTtl])) === 1;
    if (await sendOnce()) return true;
    // Just after a Redis outage "not registered" may only mean "not renewed yet" (see isAlive).
    return this.inGrace() && (await this.isAlive(serviceId)) && sendOnce();
  }

  /**
   * Whether the service is registered. Within a heartbeat TTL of Redis coming back, an unregistered
   * service is waited for (until it renews or the TTL has passed) instead of being reported dead: its
   * registration expired while Redis was away, when it could not renew it, and calling it dead would
   * let others take over what a live process holds (its devices' RPC leases, its sessions).
   */
  async isAlive(serviceId: string): Promise<boolean> {
    if (serviceId === this.serviceId) return this.started !== undefined && !this.closing;
    for (;;) {
      if ((await this.redis.exists(this.aliveKey(serviceId))) === 1) return true;
      if (!this.inGrace() || this.closing) return false;
      await new Promise((resolve) => setTimeout(resolve, Math.min(250, Math.max(20, Math.floor(this.ttlMs / 20)))));
    }
  }

  /** Ids of the services alive now. */
  async aliveServices(): Promise<string[]> {
    const now = Date.now();
    return this.redis.zrangebyscore(this.registryKey(), now, '+inf');
  }

  /** Unregisters (others see this service dead at once) and stops reading. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.heartbeatTimer);
      if (this.started) {
        await this.started.catch(() => undefined);
        clearInterval(this.heartbeatTimer);
        await Promise.allSettled([
          this.redis.del(this.aliveKey(this.serviceId)),
          this.redis.zrem(this.registryKey(), this.serviceId),
        ]);
      }
      this.reader.disconnect();
      await this.readLoop?.catch(() => undefined);
      this.redis.disconnect();
    })();
    return this.closing;
  }

  private async heartbeat(): Promise<void> {
    const now = Date.now();
    // A stalled process (event loop blocked) may have let its registration expire meanwhile: beats
    // are a third of the TTL apart, so two thirds leave the last third for this one to land.
    if (this.lastBeatAt > 0 && now - this.lastBeatAt > (this.ttlMs * 2) / 3) this.lapses++;
    const inbox = this.inboxKey(this.serviceId);
    // Separate commands, not MULTI: on a Redis Cluster the registry and the inbox live in different slots.
    const beat = Promise.all([
      this.redis.set(this.aliveKey(this.serviceId), this.info, 'PX', this.ttlMs),
      this.redis.zadd(this.registryKey(), now + this.ttlMs, this.serviceId),
      this.redis.zremrangebyscore(this.registryKey(), '-inf', now),
      this.redis.pexpire(inbox, Math.max(this.ttlMs * 6, 60_000)),
      // Entries already read are not needed any more.
      this.redis.xtrim(inbox, 'MINID', '~', this.lastId),
    ]);
    try {
      await beat;
      this.lastBeatAt = now;
    } catch (e) {
      this.lapses++;
      throw e;
    }
  }

  private async read(): Promise<void> {
    const inbox = this.inboxKey(this.serviceId);
    while (!this.closing) {
      let res: [string, [string, string[]][]][] | null;
      try {
        res = (await this.reader.xread('COUNT', 1000, 'BLOCK', 5000, 'STREAMS', inbox, this.lastId)) as [string, [string, string[]][]][] | null;
      } catch (e) {
        if (this.closing) return;
        this.warnOnce(`service bus inbox: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      if (!res) continue;
      for (const [, entries] of res) {
        for (const [id, fields] of entries) {
          this.lastId = id;
          this.deliver(fields);
        }
      }
    }
  }

  private deliver(fields: readonly string[]): void {
    let topic = '';
    let from = '';
    let data = 'null';
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const v = fields[i + 1];
      if (fields[i] === 't') topic = v;
      else if (fields[i] === 'f') from = v;
      else if (fields[i] === 'd') data = v;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(data) as unknown;
    } catch {
      this.warnOnce(`service bus: a message on "${topic}" from ${from} is not JSON; dropped`);
      return;
    }
    this.dispatch(topic, from, payload);
  }

  private dispatch(topic: string, from: string, payload: unknown): void {
    const set = this.handlers.get(topic);
    if (!set || set.size === 0) {
      this.warnOnce(`service bus: no handler for topic "${topic}"; message from ${from} dropped`);
      return;
    }
    const envelope: BusEnvelope = { from, topic };
    for (const h of set) {
      try {
        const r: unknown = h(payload, envelope);
        if (r instanceof Promise) r.catch((e: unknown) => this.log.warn(`service bus handler for "${topic}" failed: ${String(e)}`));
      } catch (e) {
        this.log.warn(`service bus handler for "${topic}" failed: ${String(e)}`);
      }
    }
  }

  private warnOnce(text: string): void {
    if (this.warned.has(text)) return;
    if (this.warned.size > 100) this.warned.clear();
    this.warned.add(text);
    this.log.warn(text);
  }

  private aliveKey(id: string): string {
    return `${this.keyBase}:{${id}}:alive`;
  }

  private inboxKey(id: string): string {
    return `${this.keyBase}:{${id}}:inbox`;
  }

  private registryKey(): string {
    return `${this.keyBase}:services`;
  }
}
