// A fresh redis-server and a Store on it, per test file; and a one-node Redis Cluster, where any
// multi-key command spanning two slots fails with CROSSSLOT (what the key scheme must avoid).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { startEmbeddedRedis } from '../../../src/redis/embedded-redis.js';
import { Store, type StoreOptions } from '../../../src/store/store.js';
import { startTestRedis } from '../../helpers/redis-server.js';

export interface StoreFixture {
  readonly store: Store;
  readonly redis: Redis;
  readonly url: string;
  close(): Promise<void>;
}

export async function startStore(opts: StoreOptions = {}): Promise<StoreFixture> {
  const server = await startTestRedis();
  const redis = new Redis(server.url, { lazyConnect: false });
  return {
    store: new Store(redis, opts),
    redis,
    url: server.url,
    async close() {
      redis.disconnect();
      await server.stop();
    },
  };
}

export interface ClusterFixture {
  readonly store: Store;
  readonly cluster: Cluster;
  close(): Promise<void>;
}

/** One redis-server in cluster mode owning all 16384 slots. */
export async function startClusterStore(opts: StoreOptions = {}): Promise<ClusterFixture> {
  const dataDir = await mkdtemp(join(tmpdir(), 'rpc-chains-cluster-'));
  const server = await startEmbeddedRedis({
    dataDir,
    appendOnly: false,
    stopGraceMs: 2000,
    extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-announce-ip', '127.0.0.1'],
  });
  const admin = new Redis(server.url);
  try {
    await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    for (let i = 0; ; i++) {
      const info = String(await admin.call('CLUSTER', 'INFO'));
      if (info.includes('cluster_state:ok')) break;
      if (i > 200) throw new Error(`cluster did not become ready:\n${info}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  } finally {
    admin.disconnect();
  }
  const cluster = new Cluster([{ host: '127.0.0.1', port: server.port }]);
  return {
    store: new Store(cluster, opts),
    cluster,
    async close() {
      cluster.disconnect();
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The error a promise rejects with (fails when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

/** The commands the server receives while `fn` runs (MONITOR on a second connection). */
export async function commandsDuring(url: string, fn: () => Promise<unknown>): Promise<string[][]> {
  const probe = new Redis(url);
  const monitor = await probe.monitor();
  const seen: string[][] = [];
  // Commands a script runs show up with source "lua": only the client's own commands count.
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source !== 'lua') seen.push(args);
  });
  // MONITOR starts asynchronously: a marker command tells when it is live.
  const marker = new Redis(url);
  await waitFor(async () => {
    await marker.echo('monitor-ready');
    return seen.some((a) => a[0]?.toLowerCase() === 'echo');
  });
  seen.length = 0;
  await fn();
  await marker.echo('monitor-done');
  await waitFor(async () => seen.some((a) => a[0]?.toLowerCase() === 'echo' && a[1] === 'monitor-done'));
  monitor.disconnect();
  probe.disconnect();
  marker.disconnect();
  return seen.filter((a) => a[0]?.toLowerCase() !== 'echo');
}

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('timed out');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
