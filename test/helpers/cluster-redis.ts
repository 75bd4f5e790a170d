// Throw-away redis-servers for scale-out runs: a single node, or a Redis Cluster of N masters (default
// 3) and no replicas, each a Debian redis-server with --cluster-enabled yes on a free port, joined with
// `redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes`. The cluster's URL is the
// cluster form of REDIS_URL (redis-cluster://127.0.0.1:p1,127.0.0.1:p2,...).
//
// `detached` puts each redis-server in its own process group, so that Ctrl-C in a terminal reaches
// only the script, which stops its rpc-chains processes first and Redis last (scripts/cluster/start.ts).
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { findOnPath, REDIS_INSTALL_HINT } from '../../src/redis/embedded-redis.js';
import { freePort } from '../../src/redis/free-port.js';

const run = promisify(execFile);

export interface RedisNode {
  readonly port: number;
  /** Its data directory (AOF, nodes.conf). */
  readonly dir: string;
  readonly url: string;
  readonly pid: number;
  readonly exited: Promise<void>;
  /** SIGTERM (Redis writes its AOF and exits), SIGKILL after 5 s. */
  stop(): Promise<void>;
}

export interface RedisNodeOptions {
  /** Where Redis keeps its files (created). */
  readonly dir: string;
  readonly appendOnly?: boolean;
  readonly detached?: boolean;
  readonly extraArgs?: readonly string[];
  /** A fixed port (e.g. to restart a node where it was); default a free one. */
  readonly port?: number;
}

/** One redis-server on a free port (retried when the port is taken meanwhile), ready for commands. */
export async function startRedisNode(opts: RedisNodeOptions): Promise<RedisNode> {
  const bin = findOnPath('redis-server');
  if (bin === undefined) throw new Error(REDIS_INSTALL_HINT);
  const dir = resolve(opts.dir);
  await mkdir(dir, { recursive: true });
  // Two redis-servers on one AOF would corrupt it.
  const pidFile = join(dir, 'redis-server.pid');
  const pid = existsSync(pidFile) ? Number.parseInt(readFileSync(pidFile, 'utf8'), 10) : NaN;
  if (Number.isInteger(pid) && pid > 0 && alive(pid)) throw new Error(`another redis-server (pid ${pid}) is using ${dir}; stop it or use another directory`);
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePort());
    const args = [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--pidfile', pidFile,
      '--daemonize', 'no',
      '--appendonly', opts.appendOnly === true ? 'yes' : 'no',
      '--maxmemory-policy', 'noeviction',
      '--save', '',
      ...(opts.extraArgs ?? []),
    ];
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached === true });
    let out = '';
    const keep = (b: Buffer) => (out = (out + b.toString()).slice(-4000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const gone = () => child.exitCode !== null || child.signalCode !== null;
    const onExit = () => {
      if (!gone()) child.kill('SIGKILL');
    };
    process.on('exit', onExit);
    void exited.then(() => process.removeListener('exit', onExit));
    const node: RedisNode = {
      port,
      dir,
      url: `redis://127.0.0.1:${port}`,
      pid: child.pid ?? -1,
      exited,
      async stop() {
        if (gone()) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      },
    };
    const deadline = Date.now() + 10_000;
    while (!gone()) {
      const ping = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      ping.on('error', () => undefined);
      const ok = await ping
        .connect()
        .then(() => ping.ping())
        .catch(() => undefined)
        .finally(() => ping.disconnect());
      if (ok === 'PONG') return node;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`redis-server on ${port} did not answer PING within 10 s:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    await exited;
    if (!/Address already in use/i.test(out) || attempt >= 3 || opts.port !== undefined) throw new Error(`redis-server exited at start:\n${out}`);
  }
}

/** The options of a cluster node (start one again with these, its dir and its port). */
export const CLUSTER_NODE_ARGS: readonly string[] = ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000', '--cluster-announce-ip', '127.0.0.1'];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface TestRedisCluster {
  /** redis-cluster://127.0.0.1:<port>,... */
  readonly url: string;
  readonly ports: readonly number[];
  readonly nodes: readonly RedisNode[];
  /** Stops every node and deletes their data. */
  stop(): Promise<void>;
}

export interface RedisClusterOptions {
  /** Masters (at least 3, as redis-cli --cluster create requires); default 3. */
  readonly masters?: number;
  /** AOF on every node; default false. */
  readonly appendOnly?: boolean;
  readonly detached?: boolean;
  /** Parent of the nodes' directories; default a new temporary directory (deleted by stop()). */
  readonly dataDir?: string;
}

export async function startRedisCluster(opts: RedisClusterOptions = {}): Promise<TestRedisCluster> {
  const masters = opts.masters ?? 3;
  if (masters < 3) throw new RangeError('a Redis Cluster needs at least 3 masters');
  const cli = findOnPath('redis-cli');
  if (cli === undefined) throw new Error('redis-cli was not found on PATH (Debian: apt-get install redis-server, which brings it)');
  const temporary = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'rpc-chains-cluster-')));
  const nodes: RedisNode[] = [];
  const stop = async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    if (temporary) await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const started = await Promise.all(
      Array.from({ length: masters }, (_, i) =>
        startRedisNode({
          dir: join(dataDir, `node-${i}-${process.pid}-${Date.now()}`),
          appendOnly: opts.appendOnly ?? false,
          detached: opts.detached,
          extraArgs: CLUSTER_NODE_ARGS,
        }),
      ),
    );
    nodes.push(...started);
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
    await run(cli, ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    await waitUntilClusterOk(nodes.map((n) => n.port));
  } catch (e) {
    await stop();
    throw e;
  }
  const ports = nodes.map((n) => n.port);
  return { url: `redis-cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`, ports, nodes, stop };
}

/** Every node says cluster_state:ok and knows every slot (gossip takes a moment after create). */
async function waitUntilClusterOk(ports: readonly number[], timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const port of ports) {
    const admin = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    admin.on('error', () => undefined);
    try {
      for (;;) {
        const info = String(await admin.call('CLUSTER', 'INFO'));
        if (info.includes('cluster_state:ok') && info.includes('cluster_slots_ok:16384')) break;
        if (Date.now() > deadline) throw new Error(`Redis Cluster node ${port} not ready:\n${info}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      admin.disconnect();
    }
  }
}
