// The system (startSystem, rule-engine role by default) in a child process, so that a test can
// kill it as a crash would. This file is also the child's entry: run with
// $RPC_CHAINS_TEST_SYSTEM set (a JSON SystemProcessConfig), it starts the system, prints
// "ready <serviceId>" and stops gracefully on SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import type { Role, Settings } from '../../src/config/settings.js';

const CONFIG_ENV = 'RPC_CHAINS_TEST_SYSTEM';
const SELF = fileURLToPath(import.meta.url);

export interface SystemProcessOptions {
  readonly redisUrl: string;
  /** Names the process in consumer ids, leases and BullMQ's processedBy; default a random one. */
  readonly serviceId?: string;
  /** Default ['rule-engine']. */
  readonly roles?: readonly Role[];
  /** Settings over DEFAULT_SETTINGS. */
  readonly settings?: Partial<Omit<Settings, 'roles' | 'serviceId'>>;
  /** The child's log level (to stderr, each line prefixed with its service id); default 'warn'. */
  readonly logLevel?: pino.LevelWithSilent;
}

interface SystemProcessConfig {
  readonly redisUrl: string;
  readonly serviceId: string | undefined;
  readonly roles: readonly Role[];
  readonly settings: Partial<Settings>;
  readonly logLevel: pino.LevelWithSilent;
}

export interface SystemProcess {
  readonly serviceId: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Settles when the process has ended, however it ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL, as a crash (no cleanup at all); resolves when the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM: the system stops gracefully; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGSTOP / SIGCONT: freezes the process where it is (to look at its state, or to kill it mid-work). */
  pause(): void;
  resume(): void;
}

/** Starts the system in a child process (node --import tsx) and waits until it is running. */
export async function startSystemProcess(opts: SystemProcessOptions): Promise<SystemProcess> {
  const config: SystemProcessConfig = {
    redisUrl: opts.redisUrl,
    serviceId: opts.serviceId,
    roles: opts.roles ?? ['rule-engine'],
    settings: opts.settings ?? {},
    logLevel: opts.logLevel ?? 'warn',
  };
  const child = spawn(process.execPath, ['--import', 'tsx', SELF], {
    env: { ...process.env, [CONFIG_ENV]: JSON.stringify(config) },
    // The IPC channel only tells the child when this process is gone (see childMain).
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const serviceId = await new Promise<string>((resolve, reject) => {
    let out = '';
    const onData = (b: Buffer) => {
      out += b.toString();
      const ready = /^ready (\S+)$/m.exec(out);
      if (ready) {
        child.stdout?.off('data', onData);
        child.stdout?.resume(); // keep draining: a full pipe would block the child
        resolve(ready[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.once('error', reject);
    void exited.then(({ code, signal }) => reject(new Error(`system process exited (${code ?? signal}) before it was ready`)));
  });
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  return {
    serviceId,
    pid: child.pid ?? -1,
    child,
    exited,
    async kill() {
      if (!gone()) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (!gone()) child.kill('SIGTERM');
      return (await exited).code;
    },
    pause() {
      if (!gone()) child.kill('SIGSTOP');
    },
    resume() {
      if (!gone()) child.kill('SIGCONT');
    },
  };
}

/** The child: start, report, stop on SIGTERM. */
async function childMain(config: SystemProcessConfig): Promise<void> {
  const [{ startSystem }, { DEFAULT_SETTINGS }] = await Promise.all([import('../../src/app/system.js'), import('../../src/config/settings.js')]);
  const serviceId = config.serviceId ?? `test-system-${process.pid}`;
  const logger = pino({ level: config.logLevel, base: { service: serviceId } }, pino.destination(2));
  const settings: Settings = { ...DEFAULT_SETTINGS, ...config.settings, roles: config.roles, serviceId };
  const system = await startSystem(settings, config.redisUrl, logger);
  process.once('SIGTERM', () => {
    void system.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  // A test process that died without killing us (mocha killed, a crash): do not live on.
  process.once('disconnect', () => process.exit(1));
  process.stdout.write(`ready ${system.serviceId}\n`);
}

const childConfig = process.env[CONFIG_ENV];
if (childConfig !== undefined && process.argv[1] === SELF) {
  childMain(JSON.parse(childConfig) as SystemProcessConfig).catch((e: unknown) => {
    process.stderr.write(`system process failed to start: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
