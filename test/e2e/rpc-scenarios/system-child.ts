// The whole system (startSystem: api + transport + rule-engine) in a child process, so that a test
// can SIGKILL it as a crash would and start it again. This file is also the child's entry: run
// with $RPC_SCENARIO_CHILD set (JSON ChildConfig) it starts the system and prints "ready".
// RPC settings reach the child as environment variables (rpcSettingsFromEnv).
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pino from 'pino';

const CONFIG_ENV = 'RPC_SCENARIO_CHILD';
const SELF = fileURLToPath(import.meta.url);

export interface ChildConfig {
  readonly redisUrl: string;
  readonly serviceId: string;
  readonly httpPort: number;
  readonly mqttPort: number;
  readonly coapPort: number;
}

export interface ChildSystem {
  readonly pid: number;
  /** SIGKILL: no cleanup at all; resolves when the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM: graceful stop. */
  stop(): Promise<void>;
}

export async function startChildSystem(config: ChildConfig, env: Readonly<Record<string, string>> = {}): Promise<ChildSystem> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', SELF], {
    env: { ...process.env, ...env, [CONFIG_ENV]: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const onData = (b: Buffer) => {
      out += b.toString();
      if (/^ready$/m.test(out)) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.once('error', reject);
    void exited.then(() => reject(new Error(`the system process exited (${child.exitCode ?? child.signalCode}) before it was ready`)));
  });
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  return {
    pid: child.pid ?? -1,
    async kill() {
      if (!gone()) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (!gone()) child.kill('SIGTERM');
      await exited;
    },
  };
}

async function childMain(config: ChildConfig): Promise<void> {
  const [{ startSystem }, { testSettings }] = await Promise.all([import('../../../src/app/system.js'), import('../../helpers/test-settings.js')]);
  const settings = testSettings({ serviceId: config.serviceId, httpPort: config.httpPort, mqttPort: config.mqttPort, coapPort: config.coapPort });
  const system = await startSystem(settings, config.redisUrl, pino({ level: 'silent' }));
  process.once('SIGTERM', () => {
    void system.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  process.stdout.write('ready\n');
}

const childConfig = process.env[CONFIG_ENV];
if (childConfig !== undefined && process.argv[1] === SELF) {
  childMain(JSON.parse(childConfig) as ChildConfig).catch((e: unknown) => {
    process.stderr.write(`system process failed to start: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
