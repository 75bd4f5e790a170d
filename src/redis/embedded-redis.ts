// A private redis-server for `npm start` without REDIS_URL, and for tests that kill and restart Redis.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import { freePort, isPortFree } from './free-port.js';

/** What this module logs through; a pino logger fits. */
export interface TextLogger {
  debug(text: string): void;
  info(text: string): void;
  warn(text: string): void;
}

export interface EmbeddedRedisOptions {
  /** Redis keeps its files (AOF, pid file) in `<dataDir>/redis`, created if missing. */
  readonly dataDir: string;
  /** 0 or undefined: a free port. */
  readonly port?: number;
  /** AOF persistence; default true, so data survives a restart. */
  readonly appendOnly?: boolean;
  readonly logger?: TextLogger;
  /** Path of the binary (e.g. from ensureRedisServer); default: `redis-server` from PATH. */
  readonly redisServer?: string;
  /** How long to wait for the first PONG; default 10 s (loading a large AOF takes a while). */
  readonly startTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL; default 5 s. */
  readonly stopGraceMs?: number;
  /** More redis-server options, e.g. ['--maxmemory', '1gb']. */
  readonly extraArgs?: readonly string[];
}

export interface EmbeddedRedis {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** The directory Redis keeps its files in. */
  readonly dir: string;
  /** Settles when the process ends, however it ends (for a supervisor to notice a crash). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM (Redis flushes the AOF and exits), then SIGKILL after the grace period. Safe to call twice. */
  stop(): Promise<void>;
  /** SIGKILL at once, as a crash would (tests). */
  kill(): Promise<void>;
}

export const REDIS_INSTALL_HINT =
  'redis-server was not found on PATH. Install it (Debian/Ubuntu: `sudo apt-get install redis-server`, ' +
  'or run scripts/ensure-system-deps.sh as root), or set REDIS_URL to an existing Redis ' +
  '(e.g. REDIS_URL=redis://127.0.0.1:6379).';

/** Absolute path of an executable on PATH, or undefined. */
export function findOnPath(command: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * The path of redis-server. When it is missing and we are root on a Debian-like system, install it
 * with apt-get (the embedded default should just work on a fresh machine); otherwise throw how to.
 */
export async function ensureRedisServer(logger: TextLogger, opts: { install?: boolean } = {}): Promise<string> {
  const found = findOnPath('redis-server');
  if (found !== undefined) return found;
  const aptGet = findOnPath('apt-get');
  const isRoot = process.getuid?.() === 0;
  if (opts.install === false || aptGet === undefined || !isRoot) {
    const why = opts.install === false ? '' : aptGet === undefined ? ' (no apt-get here)' : ' (not root, so not installing it)';
    throw new Error(REDIS_INSTALL_HINT + why);
  }
  logger.warn(
    'redis-server is not on PATH and REDIS_URL is not set: installing the Debian package redis-server ' +
      '(apt-get update && apt-get install -y redis-server); set REDIS_URL to use an existing Redis instead',
  );
  try {
    await runQuiet(aptGet, ['update']);
    await runQuiet(aptGet, ['install', '-y', '--no-install-recommends', 'redis-server']);
  } catch (e) {
    throw new Error(`installing redis-server with apt-get failed: ${(e as Error).message}\n${REDIS_INSTALL_HINT}`);
  }
  const installed = findOnPath('redis-server');
  if (installed === undefined) throw new Error(`apt-get installed redis-server but it is not on PATH. ${REDIS_INSTALL_HINT}`);
  logger.info(`installed ${installed}`);
  return installed;
}

function runQuiet(command: string, args: string[]): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    const out = new OutputTail();
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => out.push(b));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code ?? signal}:\n${out.text()}`));
    });
  });
}

export async function startEmbeddedRedis(opts: EmbeddedRedisOptions): Promise<EmbeddedRedis> {
  const bin = opts.redisServer ?? findOnPath('redis-server');
  if (bin === undefined) throw new Error(REDIS_INSTALL_HINT);
  const dir = resolve(opts.dataDir, 'redis');
  await mkdir(dir, { recursive: true });
  const pidFile = join(dir, 'redis-server.pid');
  refuseIfDirInUse(pidFile, dir);

  if (opts.port !== undefined && opts.port !== 0) {
    if (!(await isPortFree(opts.port))) {
      throw new Error(
        `cannot start redis-server: port ${opts.port} on 127.0.0.1 is already in use by another process; ` +
          'choose another port (0 = any free port) or set REDIS_URL to use that Redis',
      );
    }
    return launch(bin, opts.port, dir, pidFile, opts);
  }
  // A free port can be taken between freePort() and redis' bind; try a few.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(bin, await freePort(), dir, pidFile, opts);
    } catch (e) {
      if (!(e instanceof PortInUseError) || attempt >= 3) throw e;
    }
  }
}

class PortInUseError extends Error {}

/** Two redis-servers on one AOF would corrupt it: refuse while the pid file names a live redis. */
function refuseIfDirInUse(pidFile: string, dir: string): void {
  if (!existsSync(pidFile)) return;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return; // stale: a killed redis leaves it behind
  const cmdline = `/proc/${pid}/cmdline`;
  if (existsSync(cmdline) && !readFileSync(cmdline, 'utf8').includes('redis')) return; // pid reused
  throw new Error(
    `cannot start redis-server: another redis-server (pid ${pid}) is already using ${dir}; ` +
      'stop it, use another DATA_DIR, or set REDIS_URL to share it',
  );
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function launch(
  bin: string,
  port: number,
  dir: string,
  pidFile: string,
  opts: EmbeddedRedisOptions,
): Promise<EmbeddedRedis> {
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--pidfile', pidFile,
    '--daemonize', 'no',
    '--appendonly', opts.appendOnly === false ? 'no' : 'yes',
    // BullMQ loses jobs if Redis evicts keys.
    '--maxmemory-policy', 'noeviction',
    // No RDB snapshots: the AOF is the persistence (or none, when appendOnly is false).
    '--save', '',
    ...(opts.extraArgs ?? []),
  ];
  const log = opts.logger;
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = new OutputTail();
  // Keep reading for the whole life of the process: a full pipe would block redis' logging.
  const onData = (b: Buffer) => {
    for (const line of out.push(b)) log?.debug(`redis-server: ${line}`);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.once('exit', (code, signal) => res({ code, signal }));
  });
  let spawnError: Error | undefined;
  child.once('error', (e) => (spawnError = e));

  // Normal exits and process.exit(); signals that kill node outright need the caller's handler.
  const onProcessExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  process.on('exit', onProcessExit);
  let stopping: Promise<void> | undefined;
  void exited.then(({ code, signal }) => {
    process.removeListener('exit', onProcessExit);
    if (stopping === undefined) log?.warn(`redis-server on port ${port} exited unexpectedly (${code ?? signal})\n${out.text()}`);
  });

  try {
    await waitUntilReady(child, port, opts.startTimeoutMs ?? 10_000, () => spawnError, out);
  } catch (e) {
    stopping = Promise.resolve();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.race([exited, sleep(2000)]);
    throw e;
  }
  log?.info(`embedded redis-server listening on 127.0.0.1:${port} (pid ${child.pid}, data in ${dir})`);

  const terminate = async (signal: NodeJS.Signals, graceMs: number) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    if (await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)])) return;
    log?.warn(`redis-server (pid ${child.pid}) did not stop within ${graceMs} ms of ${signal}; killing it`);
    child.kill('SIGKILL');
    await exited;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid ?? -1,
    dir,
    exited,
    stop: () => (stopping ??= terminate('SIGTERM', opts.stopGraceMs ?? 5000)),
    kill: () => (stopping ??= terminate('SIGKILL', 5000)),
  };
}

async function waitUntilReady(
  child: ChildProcess,
  port: number,
  timeoutMs: number,
  spawnError: () => Error | undefined,
  out: OutputTail,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const err = spawnError();
    if (err) throw new Error(`cannot run redis-server: ${err.message}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      await sleep(20); // let the last output arrive
      const text = out.text();
      const message =
        `redis-server exited (${child.exitCode ?? child.signalCode}) before answering PING on 127.0.0.1:${port}` +
        (text ? `; its output:\n${text}` : '');
      throw /Address already in use/i.test(text) ? new PortInUseError(message) : new Error(message);
    }
    const reply = await redisCommand(port, ['PING'], 500).catch(() => undefined);
    if (reply === '+PONG') {
      // Make sure the PONG came from our child, not from someone else who got the port first.
      const info = await redisCommand(port, ['INFO', 'server'], 1000);
      const pid = /process_id:(\d+)/.exec(info)?.[1];
      if (pid === String(child.pid)) return;
      throw new PortInUseError(`port ${port} on 127.0.0.1 is answered by another redis-server (pid ${pid})`);
    }
    // '-LOADING ...' while the AOF is read back, or no listener yet.
    if (Date.now() > deadline) {
      throw new Error(
        `redis-server did not answer PING on 127.0.0.1:${port} within ${timeoutMs} ms` +
          (reply ? ` (last reply: ${reply})` : '') +
          `; its output:\n${out.text()}`,
      );
    }
    await sleep(25);
  }
}

/** One command over a fresh socket; resolves with the raw reply ('+PONG', '-ERR ...', or a bulk string's text). */
function redisCommand(port: number, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let buf = Buffer.alloc(0);
    const done = (err: Error | undefined, value?: string) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolvePromise(value ?? '');
    };
    const timer = setTimeout(() => done(new Error(`no reply within ${timeoutMs} ms`)), timeoutMs);
    socket.once('error', (e) => done(e));
    socket.once('close', () => done(new Error('connection closed before a reply')));
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const eol = buf.indexOf('\r\n');
      if (eol < 0) return;
      const head = buf.subarray(0, eol).toString('utf8');
      if (head[0] !== '$') return done(undefined, head);
      const len = Number(head.slice(1));
      if (len < 0) return done(undefined, '');
      if (buf.length >= eol + 2 + len) done(undefined, buf.subarray(eol + 2, eol + 2 + len).toString('utf8'));
    });
    socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((res) => setTimeout(res, ms).unref());
}

/** The last lines a process wrote, for error messages. */
class OutputTail {
  private lines: string[] = [];
  private partial = '';
  constructor(private readonly max = 40) {}

  /** Adds a chunk; returns the complete lines in it. */
  push(chunk: Buffer): string[] {
    const parts = (this.partial + chunk.toString('utf8')).split('\n');
    this.partial = parts.pop() ?? '';
    const complete = parts.map((l) => l.trimEnd()).filter((l) => l !== '');
    this.lines.push(...complete);
    if (this.lines.length > this.max) this.lines.splice(0, this.lines.length - this.max);
    return complete;
  }

  text(): string {
    return [...this.lines, this.partial.trimEnd()].filter((l) => l !== '').join('\n');
  }
}
