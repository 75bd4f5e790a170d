// `rpc-chains start`: Redis (REDIS_URL or an embedded redis-server), then the system of
// src/app/system.ts, until SIGINT or SIGTERM.
import type { Settings } from './config/settings.js';
import { createLogger } from './logging.js';
import { ensureRedisServer, startEmbeddedRedis, type EmbeddedRedis } from './redis/embedded-redis.js';
import { redactUrl } from './redis/connection.js';
import { startSystem } from './app/system.js';
import { demoInstructions, seedDemo } from './app/demo.js';

export async function startServer(settings: Settings): Promise<void> {
  const logger = createLogger(settings, 'rpc-chains');
  let embedded: EmbeddedRedis | undefined;
  let redisUrl = settings.redisUrl;
  if (redisUrl === undefined) {
    const bin = await ensureRedisServer(logger);
    embedded = await startEmbeddedRedis({ dataDir: settings.dataDir, redisServer: bin, logger });
    redisUrl = embedded.url;
  }
  let system;
  try {
    system = await startSystem(settings, redisUrl, logger);
  } catch (e) {
    await embedded?.stop();
    throw e;
  }
  if (settings.demo && settings.roles.includes('api')) {
    const demo = await seedDemo(system.store, system.chains);
    if (demo) process.stdout.write(`\n${demoInstructions(demo, { http: system.httpPort ?? settings.httpPort, mqtt: system.mqttPort ?? settings.mqttPort })}\n\n`);
  }
  logger.info(`rpc-chains is running as ${system.serviceId} (roles ${settings.roles.join(', ')}; Redis ${redactUrl(redisUrl)}). Press Ctrl+C to stop.`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: stopping`);
    await system.stop();
    await embedded?.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}
