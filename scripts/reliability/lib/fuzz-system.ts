// The system the fuzzers hit: every role in this process (so that its heap can be measured after a
// full GC and an unhandled rejection or uncaught exception is seen here), on a throw-away Redis,
// with a tenant, its administrator, devices, and the log lines of level warn and above recorded.
import { Writable } from 'node:stream';
import pino from 'pino';
import { startSystem, type RunningSystem } from '../../../src/app/system.js';
import { DEFAULT_SETTINGS } from '../../../src/config/settings.js';
import { startFaultRedis, type FaultRedis } from './redis.js';
import { RestClient } from './rest.js';
import { seedInto, type World } from './world.js';

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly err?: { message?: string; stack?: string };
}

export interface FuzzSystem {
  readonly system: RunningSystem;
  readonly redis: FaultRedis;
  readonly world: World;
  readonly api: RestClient;
  readonly sysadmin: RestClient;
  readonly mqttPort: number;
  readonly coapPort: number;
  readonly httpPort: number;
  /** Lines of level >= 50 (error); a 500 for a bug is logged "unhandled error" by the API. */
  readonly errors: LogLine[];
  /** Count of warn lines by their first words (what the server refused and why). */
  readonly warnings: Map<string, number>;
  close(): Promise<void>;
}

export const SYSADMIN_EMAIL = 'sysadmin@reliability.example';

export async function startFuzzSystem(devices = 20): Promise<FuzzSystem> {
  const redis = await startFaultRedis();
  const errors: LogLine[] = [];
  const warnings = new Map<string, number>();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const text of chunk.toString().split('\n')) {
        if (text === '') continue;
        try {
          const line = JSON.parse(text) as LogLine;
          if (line.level >= 50) errors.push(line);
          else if (line.level >= 40) {
            const key = String(line.msg).replace(/"[^"]*"/g, '"…"').replace(/\([0-9a-f-]{36}\)/g, '(…)').replace(/client [\d.:?]+/g, 'client …').slice(0, 90);
            warnings.set(key, (warnings.get(key) ?? 0) + 1);
          }
        } catch {
          // not a log line
        }
      }
      done();
    },
  });
  const logger = pino({ level: 'warn' }, sink);
  let system: RunningSystem | undefined;
  try {
    system = await startSystem(
      { ...DEFAULT_SETTINGS, httpPort: 0, mqttPort: 0, coapPort: 0, host: '127.0.0.1', demo: false, logLevel: 'warn', serviceId: `fuzz-${process.pid}` },
      redis.url,
      logger,
    );
    const world = await seedInto(system, { devices, prefix: 'fz' });
    await system.store.users.create({ email: SYSADMIN_EMAIL, authority: 'SYS_ADMIN', password: 'Reliability-Pa55' }).catch(() => undefined);
    const base = `http://127.0.0.1:${system.httpPort}`;
    const api = new RestClient(base);
    await api.login(world.adminEmail);
    const sysadmin = new RestClient(base);
    await sysadmin.login(SYSADMIN_EMAIL);
    const s = system;
    return {
      system: s,
      redis,
      world,
      api,
      sysadmin,
      mqttPort: s.mqttPort as number,
      coapPort: s.coapPort as number,
      httpPort: s.httpPort as number,
      errors,
      warnings,
      async close() {
        await s.stop();
        await redis.stop();
      },
    };
  } catch (e) {
    await system?.stop();
    await redis.stop();
    throw e;
  }
}
