// A throw-away redis-server per test suite, on a free port, that tests may kill and restart.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedRedis, type EmbeddedRedis } from '../../src/redis/embedded-redis.js';
import { freePort } from '../../src/redis/free-port.js';

export interface TestRedis {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** Stops Redis and deletes its data. */
  stop(): Promise<void>;
  /** Graceful stop, then start again on the same port with the same data (AOF). */
  restart(): Promise<void>;
  /** SIGKILL, as a crash; restart() brings it back with what the AOF had. */
  kill(): Promise<void>;
}

export async function startTestRedis(): Promise<TestRedis> {
  const dataDir = await mkdtemp(join(tmpdir(), 'rpc-chains-redis-'));
  const port = await freePort();
  // Short grace: a test that stops Redis should not wait 5 s for a stuck one.
  const start = () => startEmbeddedRedis({ dataDir, port, appendOnly: true, stopGraceMs: 2000 });
  let current: EmbeddedRedis | undefined;
  try {
    current = await start();
  } catch (e) {
    await rm(dataDir, { recursive: true, force: true });
    throw e;
  }
  return {
    url: current.url,
    port,
    dataDir,
    async stop() {
      await current?.stop();
      current = undefined;
      await rm(dataDir, { recursive: true, force: true });
    },
    async restart() {
      await current?.stop();
      current = undefined;
      current = await start();
    },
    async kill() {
      await current?.kill();
    },
  };
}
