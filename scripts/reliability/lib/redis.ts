// A throw-away redis-server with AOF on, that a scenario can restart (graceful: SHUTDOWN writes the
// AOF) or kill (SIGKILL, a crash: with appendfsync always nothing acknowledged is lost, with the
// default everysec up to a second may be), always back on the same port with the same data.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startEmbeddedRedis, type EmbeddedRedis } from '../../../src/redis/embedded-redis.js';
import { freePort } from '../../../src/redis/free-port.js';

export interface FaultRedis {
  readonly url: string;
  readonly port: number;
  /** The redis-server process now (changes on restart). */
  pid(): number;
  /** Graceful stop, then start again after `downMs`; resolves when it answers again. */
  restart(downMs?: number): Promise<Bounce>;
  /** SIGKILL, then start again after `downMs` from what the AOF had. */
  crash(downMs?: number): Promise<Bounce>;
  /** Takes Redis away (graceful stop or SIGKILL) until up() is called. */
  down(how: 'stop' | 'kill'): Promise<void>;
  /** Starts it again (same port, same AOF); resolves when it answers. */
  up(): Promise<void>;
  /** INFO <section> as a map. */
  info(section: string): Promise<Record<string, string>>;
  /** A connection for the scenario's own reads (not the system's). */
  readonly client: Redis;
  /** Stops Redis and deletes its data. */
  stop(): Promise<void>;
}

/** How long Redis took to go (SIGTERM: it writes the AOF) and to come back (it loads the AOF). */
export interface Bounce {
  readonly stopMs: number;
  readonly startMs: number;
}

export interface FaultRedisOptions {
  /** 'always' makes a crash lose nothing acknowledged; default 'everysec' (Redis' default). */
  readonly appendfsync?: 'always' | 'everysec' | 'no';
}

export async function startFaultRedis(opts: FaultRedisOptions = {}): Promise<FaultRedis> {
  const dataDir = await mkdtemp(join(tmpdir(), 'rpc-chains-reliability-'));
  const port = await freePort();
  const start = () =>
    startEmbeddedRedis({ dataDir, port, appendOnly: true, stopGraceMs: 5000, extraArgs: ['--appendfsync', opts.appendfsync ?? 'everysec'] });
  let current: EmbeddedRedis | undefined;
  try {
    current = await start();
  } catch (e) {
    await rm(dataDir, { recursive: true, force: true });
    throw e;
  }
  // The scenario's reader: waits through restarts (its reads are probes, they may be slow).
  const client = new Redis(current.url, { maxRetriesPerRequest: 3, retryStrategy: (n) => Math.min(n * 100, 1000), lazyConnect: false });
  client.on('error', () => undefined);
  const bounce = async (how: 'stop' | 'kill', downMs: number): Promise<Bounce> => {
    const t0 = performance.now();
    await (how === 'stop' ? current?.stop() : current?.kill());
    current = undefined;
    const t1 = performance.now();
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    const t2 = performance.now();
    current = await start();
    return { stopMs: t1 - t0, startMs: performance.now() - t2 };
  };
  return {
    url: current.url,
    port,
    pid: () => current?.pid ?? -1,
    restart: (downMs = 0) => bounce('stop', downMs),
    async down(how) {
      await (how === 'stop' ? current?.stop() : current?.kill());
      current = undefined;
    },
    async up() {
      current ??= await start();
    },
    crash: (downMs = 0) => bounce('kill', downMs),
    async info(section) {
      const text = await client.info(section);
      const out: Record<string, string> = {};
      for (const line of text.split(/\r?\n/)) {
        const i = line.indexOf(':');
        if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
      }
      return out;
    },
    client,
    async stop() {
      client.disconnect();
      await current?.stop();
      current = undefined;
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
