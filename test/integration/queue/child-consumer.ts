// Starts fixtures/consumer-process.ts as a child process and waits until it is consuming.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { QueueConfig } from '../../../src/queue/queue-config.js';
import { FAST } from './queue-helpers.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/consumer-process.ts', import.meta.url));

export interface ChildConsumer {
  readonly id: string;
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
  /** SIGTERM (graceful close) or SIGKILL (crash); resolves when the process is gone. */
  stop(signal: 'SIGTERM' | 'SIGKILL'): Promise<void>;
}

export async function spawnConsumer(opts: {
  redisUrl: string;
  id: string;
  queues: readonly QueueConfig[];
  record: string;
  delayMs: number;
}): Promise<ChildConsumer> {
  const config = { ...FAST, redisUrl: opts.redisUrl, consumerId: opts.id, queues: opts.queues, record: opts.record, delayMs: opts.delayMs };
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    env: { ...process.env, CONSUMER_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('ready')) resolve();
    });
    void exited.then((code) => reject(new Error(`consumer ${opts.id} exited (${code}) before it was ready`)));
  });
  return {
    id: opts.id,
    process: child,
    exited,
    async stop(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
