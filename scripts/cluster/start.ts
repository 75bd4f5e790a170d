// Scale-out on one machine: N processes of each role on one Redis, each with its own ports and
// SERVICE_ID, until Ctrl-C.
//
//   npx tsx scripts/cluster/start.ts --api 2 --transport 2 --rule-engine 2
//   npx tsx scripts/cluster/start.ts --all 2                      # two all-roles processes
//   REDIS_URL=redis://10.0.0.5:6379 npx tsx scripts/cluster/start.ts --api 1 --rule-engine 3
//   npx tsx scripts/cluster/start.ts --redis-cluster 3 --api 1 --transport 1 --rule-engine 2
//
// Redis: $REDIS_URL (or --redis-url; redis:// or redis-cluster://host:port,...), else an embedded
// redis-server with its AOF under --data-dir (default ./data/cluster), or with --redis-cluster N a
// throw-away N-master Redis Cluster. A process with transport but not api serves the HTTP device API
// on its own HTTP port. With --demo (default) the first api process seeds the demo data.
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { ensureRedisServer } from '../../src/redis/embedded-redis.js';
import { redactUrl } from '../../src/redis/connection.js';
import { startRedisCluster, startRedisNode, type RedisNode, type TestRedisCluster } from '../../test/helpers/cluster-redis.js';
import { startProcesses, stopProcesses, type RoleProcess } from './processes.js';

const USAGE = `usage: npx tsx scripts/cluster/start.ts [--api N] [--transport N] [--rule-engine N] [--all N]
       [--redis-url URL | --redis-cluster MASTERS] [--data-dir DIR] [--no-demo] [--log-level warn|info|debug]
`;

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** A child's pino line as "name LEVEL message"; other lines (the demo's instructions) as they are. */
function printLine(name: string, line: string): void {
  let text = line;
  try {
    const rec = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
    if (typeof rec.level === 'number') text = `${LEVELS[rec.level] ?? rec.level} ${rec.msg ?? ''}${rec.err?.message ? `: ${rec.err.message}` : ''}`;
  } catch {
    // not JSON
  }
  process.stdout.write(`[${name}] ${text}\n`);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      api: { type: 'string' },
      transport: { type: 'string' },
      'rule-engine': { type: 'string' },
      all: { type: 'string' },
      'redis-url': { type: 'string' },
      'redis-cluster': { type: 'string' },
      'data-dir': { type: 'string', default: './data/cluster' },
      'no-demo': { type: 'boolean', default: false },
      'log-level': { type: 'string', default: 'warn' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const count = (name: string, v: string | undefined) => {
    const n = v === undefined ? 0 : Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 32) throw new RangeError(`--${name} must be an integer from 0 to 32`);
    return n;
  };
  const layout = {
    api: count('api', values.api),
    transport: count('transport', values.transport),
    ruleEngine: count('rule-engine', values['rule-engine']),
    all: count('all', values.all),
  };
  if (layout.api + layout.transport + layout.ruleEngine + layout.all === 0) {
    layout.api = layout.transport = layout.ruleEngine = 1;
  }
  if (layout.all === 0 && (layout.api === 0 || layout.transport === 0 || layout.ruleEngine === 0)) {
    process.stderr.write('note: some role has no process; devices, REST callers or chains will wait for it\n');
  }

  let redisUrl = values['redis-url'] ?? process.env.REDIS_URL;
  // Redis started here runs in its own process group (detached), like the role processes: Ctrl-C
  // reaches only this script, which stops the processes first and Redis last.
  let embedded: RedisNode | undefined;
  let cluster: TestRedisCluster | undefined;
  const dataDir = values['data-dir'];
  if (values['redis-cluster'] !== undefined) {
    cluster = await startRedisCluster({ masters: count('redis-cluster', values['redis-cluster']), detached: true });
    redisUrl = cluster.url;
  } else if (redisUrl === undefined || redisUrl === '') {
    const logger = { debug: () => undefined, info: () => undefined, warn: (t: string) => process.stderr.write(`${t}\n`) };
    await ensureRedisServer(logger);
    embedded = await startRedisNode({ dir: join(dataDir, 'redis'), appendOnly: true, detached: true });
    redisUrl = embedded.url;
  }
  const stopRedis = async () => {
    await embedded?.stop();
    await cluster?.stop();
  };
  process.stdout.write(`Redis: ${redactUrl(redisUrl)}${embedded ? ` (embedded, data in ${join(dataDir, 'redis')})` : cluster ? ` (a ${cluster.ports.length}-master Redis Cluster)` : ''}\n`);

  let processes: RoleProcess[];
  const t0 = Date.now();
  try {
    processes = await startProcesses(layout, { redisUrl, demo: !values['no-demo'], logLevel: values['log-level'], onLine: printLine, detached: true });
  } catch (e) {
    await stopRedis();
    throw e;
  }
  process.stdout.write(`\n${processes.length} processes ready in ${((Date.now() - t0) / 1000).toFixed(1)} s:\n`);
  for (const p of processes) process.stdout.write(`  ${p.describe()}\n`);
  process.stdout.write('\nAny api process answers REST calls; devices may connect to any transport process. Ctrl-C stops all.\n');

  let stopping = false;
  for (const p of processes) {
    void p.exited.then(({ code, signal }) => {
      if (!stopping) process.stdout.write(`[${p.name}] exited (${code ?? signal}); the others go on\n`);
    });
  }
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping ${processes.length} processes\n`);
    await stopProcesses(processes);
    await stopRedis();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGHUP', () => void stop('SIGHUP'));
  return -1;
}

main().then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    process.exit(1);
  },
);
