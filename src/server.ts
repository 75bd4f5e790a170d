// `rpc-chains start`: Redis (REDIS_URL or an embedded redis-server), the script sandbox and the
// rule-engine runtime with the shipped chains that this version can run. Transports, the REST
// API and the queues join here as they are built.
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { Settings } from './config/settings.js';
import { createLogger } from './logging.js';
import { ensureRedisServer, startEmbeddedRedis, type EmbeddedRedis } from './redis/embedded-redis.js';
import { createRedis, redactUrl } from './redis/connection.js';
import { createScriptEngine } from './engine/script/index.js';
import { createNodeServices } from './engine/node-services.js';
import { ChainRuntime } from './engine/runtime.js';
import { importChainFiles } from './engine/chain-files.js';
import { formatIssue } from './engine/importer/chain-model.js';
import { builtinRegistry } from './nodes/index.js';

const SHIPPED_CHAINS = fileURLToPath(new URL('../rule-chains/', import.meta.url));

export async function startServer(settings: Settings): Promise<void> {
  const logger = createLogger(settings, 'rpc-chains');
  let embedded: EmbeddedRedis | undefined;
  let redisUrl = settings.redisUrl;
  if (redisUrl === undefined) {
    const bin = await ensureRedisServer(logger);
    embedded = await startEmbeddedRedis({ dataDir: settings.dataDir, redisServer: bin, logger });
    redisUrl = embedded.url;
    logger.info(`embedded redis-server on ${redisUrl} (data and AOF under ${embedded.dir})`);
  }
  const redis = createRedis(redisUrl, { role: 'client', connectionName: 'rpc-chains', logger });
  await redis.ping();

  const scripts = createScriptEngine({ timeoutMs: settings.scriptTimeoutMs, memoryLimitMb: settings.scriptMemoryMb });
  const runtime = new ChainRuntime({
    services: createNodeServices(logger, scripts),
    maxNodeExecutionsPerMessage: settings.maxRuleNodeExecutionsPerMessage,
  });
  runtime.trace.enabled = settings.trace;
  const files = (await readdir(SHIPPED_CHAINS)).filter((f) => f.endsWith('.json')).map((f) => join(SHIPPED_CHAINS, f));
  const imported = await importChainFiles(files, builtinRegistry());
  for (const r of imported) {
    if (r.chain) logger.info(`rule chain "${r.chain.name}" loaded from ${r.file}`);
    else logger.warn(`rule chain ${r.file} not loaded: ${r.issues.map(formatIssue).join('; ')}`);
  }
  runtime.load(imported.flatMap((r) => (r.chain ? [r.chain] : [])));
  logger.info(`rpc-chains is running (Redis ${redactUrl(redisUrl)}). Press Ctrl+C to stop.`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: stopping`);
    await runtime.close();
    scripts.dispose();
    redis.disconnect();
    await embedded?.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}
