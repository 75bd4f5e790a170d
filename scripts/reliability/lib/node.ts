// One rpc-chains process (startSystem with some roles) as a child process, so that a scenario can
// kill it like a crash, give it its own environment (RPC settings are read from the environment)
// and read its memory. This file is also the child's entry: run with $RPC_CHAINS_RELIABILITY_NODE
// set (a JSON NodeConfig), it starts the system, prints "ready {ports}" and stops on SIGTERM.
//
// The child reports an unhandled rejection or an uncaught exception on stderr with a marker line
// (the parent counts them) instead of dying silently; an uncaught exception still ends it (exit 70).
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import type { Role, Settings } from '../../../src/config/settings.js';
import { freePort } from '../../../src/redis/free-port.js';
import { rssOf } from './util.js';

const CONFIG_ENV = 'RPC_CHAINS_RELIABILITY_NODE';
const SELF = fileURLToPath(import.meta.url);
export const UNHANDLED_MARK = '!!reliability: unhandled';

export interface NodeOptions {
  readonly redisUrl: string;
  readonly serviceId: string;
  readonly roles: readonly Role[];
  /** Over DEFAULT_SETTINGS; ports default to free ones. */
  readonly settings?: Partial<Omit<Settings, 'roles' | 'serviceId'>>;
  /** Added to the parent's environment (RPC settings: ACTORS_RPC_SUBMIT_STRATEGY_TYPE, ...). */
  readonly env?: Readonly<Record<string, string>>;
  /** Log level of the child (stderr); default 'error', or $RELIABILITY_LOG. */
  readonly logLevel?: pino.LevelWithSilent;
  /** Echo the child's stderr here (default: only with $RELIABILITY_LOG set). */
  readonly echo?: boolean;
}

interface NodeConfig {
  readonly redisUrl: string;
  readonly serviceId: string;
  readonly roles: readonly Role[];
  readonly settings: Partial<Settings>;
  readonly logLevel: pino.LevelWithSilent;
}

interface ReadyLine {
  readonly serviceId: string;
  readonly httpPort: number | null;
  readonly mqttPort: number | null;
  readonly coapPort: number | null;
}

export interface NodeHandle extends ReadyLine {
  readonly pid: number;
  readonly roles: readonly Role[];
  /** Serves /healthz, /readyz and /metrics (also on httpPort when the process has the api role). */
  readonly healthPort: number;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines the child wrote on stderr. */
  stderrTail(): string[];
  /** Marker lines of unhandled rejections / uncaught exceptions so far. */
  readonly unhandled: string[];
  /** SIGKILL (a crash); resolves when it is gone. */
  kill(): Promise<void>;
  /** SIGTERM: graceful stop; resolves with the exit code. */
  stop(): Promise<number | null>;
  readonly alive: boolean;
  /** Resident memory now, bytes. */
  rss(): number;
  /** GET /readyz status (0 when it does not answer). */
  ready(): Promise<number>;
  /** The Prometheus text of /metrics. */
  metrics(): Promise<string>;
}

export async function startNode(opts: NodeOptions): Promise<NodeHandle> {
  const healthPort = opts.settings?.healthPort ?? (await freePort());
  const config: NodeConfig = {
    redisUrl: opts.redisUrl,
    serviceId: opts.serviceId,
    roles: opts.roles,
    settings: { httpPort: 0, mqttPort: 0, coapPort: 0, host: '127.0.0.1', demo: false, ...opts.settings, healthPort },
    logLevel: opts.logLevel ?? (process.env.RELIABILITY_LOG as pino.LevelWithSilent | undefined) ?? 'error',
  };
  const echo = opts.echo ?? process.env.RELIABILITY_LOG !== undefined;
  const child = spawn(process.execPath, ['--import', 'tsx', SELF], {
    env: { ...process.env, ...opts.env, [CONFIG_ENV]: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const tail: string[] = [];
  const unhandled: string[] = [];
  let partial = '';
  child.stderr?.on('data', (b: Buffer) => {
    const text = partial + b.toString();
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.includes(UNHANDLED_MARK)) unhandled.push(line);
      tail.push(line);
      if (tail.length > 200) tail.shift();
      if (echo) process.stderr.write(`[${opts.serviceId}] ${line}\n`);
    }
  });
  const ready = await new Promise<ReadyLine>((resolve, reject) => {
    let out = '';
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /^ready (\{.*\})$/m.exec(out);
      if (m) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve(JSON.parse(m[1] as string) as ReadyLine);
      }
    };
    child.stdout?.on('data', onData);
    child.once('error', reject);
    void exited.then(({ code, signal }) => reject(new Error(`${opts.serviceId} exited (${code ?? signal}) before it was ready:\n${tail.slice(-20).join('\n')}`)));
  });
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  const probePort = ready.httpPort ?? healthPort;
  return {
    ...ready,
    pid: child.pid ?? -1,
    roles: opts.roles,
    healthPort,
    child,
    exited,
    unhandled,
    stderrTail: () => [...tail],
    get alive() {
      return !gone();
    },
    async kill() {
      if (!gone()) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (!gone()) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const { code } = await exited;
      clearTimeout(timer);
      return code;
    },
    rss: () => (child.pid ? rssOf(child.pid) : NaN),
    async ready() {
      try {
        const res = await fetch(`http://127.0.0.1:${probePort}/readyz`, { signal: AbortSignal.timeout(3000) });
        await res.text();
        return res.status;
      } catch {
        return 0;
      }
    },
    async metrics() {
      const res = await fetch(`http://127.0.0.1:${healthPort}/metrics`, { signal: AbortSignal.timeout(5000) });
      return res.text();
    },
  };
}

/** One sample value of a Prometheus text (first series of that name), NaN when absent. */
export function metricValue(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([^\\s]+)`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

/** The child: start, report the ports, stop on SIGTERM. */
async function childMain(config: NodeConfig): Promise<void> {
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(`${UNHANDLED_MARK} rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}\n`.replace(/\n(?!$)/g, ' | '));
  });
  process.on('uncaughtException', (err) => {
    process.stderr.write(`${UNHANDLED_MARK} exception: ${(err.stack ?? err.message).replace(/\n/g, ' | ')}\n`);
    process.exit(70);
  });
  const [{ startSystem }, { DEFAULT_SETTINGS }] = await Promise.all([import('../../../src/app/system.js'), import('../../../src/config/settings.js')]);
  const logger = pino({ level: config.logLevel, base: { service: config.serviceId } }, pino.destination(2));
  const settings: Settings = { ...DEFAULT_SETTINGS, ...config.settings, roles: config.roles, serviceId: config.serviceId };
  const system = await startSystem(settings, config.redisUrl, logger);
  process.once('SIGTERM', () => {
    void system.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  const line: ReadyLine = { serviceId: system.serviceId, httpPort: system.httpPort, mqttPort: system.mqttPort, coapPort: system.coapPort };
  process.stdout.write(`ready ${JSON.stringify(line)}\n`);
}

const childConfig = process.env[CONFIG_ENV];
if (childConfig !== undefined && process.argv[1] === SELF) {
  childMain(JSON.parse(childConfig) as NodeConfig).catch((e: unknown) => {
    process.stderr.write(`reliability node failed to start: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
