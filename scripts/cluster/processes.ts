// Runs rpc-chains role processes on this machine: each one is `rpc-chains start` (bin/rpc-chains.js)
// with its own ROLES, SERVICE_ID and ports, all on one REDIS_URL (a single Redis or the
// redis-cluster:// form). Used by scripts/cluster/start.ts, scripts/cluster/bench.ts and test/scale.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Role } from '../../src/config/settings.js';
import { freePort } from '../../src/redis/free-port.js';

const BIN = fileURLToPath(new URL('../../bin/rpc-chains.js', import.meta.url));

export interface RoleProcessOptions {
  readonly redisUrl: string;
  /** Short name for output, e.g. "api-1". */
  readonly name: string;
  readonly roles: readonly Role[];
  /** SERVICE_ID; default `rc-<name>`. */
  readonly serviceId?: string;
  /** HOST; default 127.0.0.1. */
  readonly host?: string;
  /** LOG_LEVEL; default warn. */
  readonly logLevel?: string;
  /** DEMO; default false. */
  readonly demo?: boolean;
  /** More environment (RPC_*, ACTORS_RPC_*, ...), over this process' environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Each log line of the child (stdout and stderr, pino JSON), with the process name. */
  readonly onLine?: (name: string, line: string) => void;
  /** How long to wait for /readyz (default 60 s). */
  readonly readyTimeoutMs?: number;
  /** Own process group: a terminal's Ctrl-C reaches only the parent, which stops it in order. */
  readonly detached?: boolean;
  /** A process without the transport role: the MQTT port its demo instructions show. */
  readonly mqttPortShown?: number;
}

export interface RoleProcess {
  readonly name: string;
  readonly serviceId: string;
  readonly roles: readonly Role[];
  readonly pid: number;
  readonly host: string;
  /** REST API (api role), or the HTTP device API alone (transport without api); else null. */
  readonly httpPort: number | null;
  readonly mqttPort: number | null;
  /** UDP. */
  readonly coapPort: number | null;
  /** /healthz, /readyz, /metrics of every process. */
  readonly healthPort: number;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines the process wrote (diagnostics). */
  logTail(): string;
  /** SIGKILL, as a crash; resolves when it is gone. */
  kill(): Promise<void>;
  /** SIGTERM (graceful stop); SIGKILL after graceMs (default 10 s). Resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  /** One line saying where it listens. */
  describe(): string;
}

/** Starts one role process and waits until its /readyz answers 200. Retries on a port taken meanwhile. */
export async function startRoleProcess(opts: RoleProcessOptions): Promise<RoleProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(opts);
    } catch (e) {
      if (!(e instanceof PortTakenError) || attempt >= 3) throw e;
    }
  }
}

class PortTakenError extends Error {}

// Children still running when this process exits (a failed test run, an exception) are killed.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

async function launch(opts: RoleProcessOptions): Promise<RoleProcess> {
  const host = opts.host ?? '127.0.0.1';
  const roles = opts.roles;
  const serves = {
    http: roles.includes('api') || roles.includes('transport'),
    transport: roles.includes('transport'),
  };
  const httpPort = serves.http ? await freePort() : null;
  const mqttPort = serves.transport ? await freePort() : null;
  const coapPort = serves.transport ? await freePort() : null;
  const healthPort = await freePort();
  const serviceId = opts.serviceId ?? `rc-${opts.name}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    REDIS_URL: opts.redisUrl,
    ROLES: roles.join(','),
    SERVICE_ID: serviceId,
    HOST: host,
    LOG_LEVEL: opts.logLevel ?? 'warn',
    DEMO: opts.demo === true ? 'true' : 'false',
    HEALTH_PORT: String(healthPort),
    // Unused ports still have to be valid settings; 0 = any (nothing listens on them without the role).
    HTTP_PORT: String(httpPort ?? 0),
    MQTT_PORT: String(mqttPort ?? opts.mqttPortShown ?? 0),
    COAP_PORT: String(coapPort ?? 0),
    ...opts.env,
  };
  delete env.RPC_CHAINS_CONFIG;
  const child = spawn(process.execPath, [BIN, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached === true });
  const tail: string[] = [];
  const onText = (stream: NodeJS.ReadableStream) => {
    let rest = '';
    stream.on('data', (b: Buffer) => {
      const lines = (rest + b.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (line === '') continue;
        tail.push(line);
        if (tail.length > 200) tail.shift();
        opts.onLine?.(opts.name, line);
      }
    });
  };
  onText(child.stdout);
  onText(child.stderr);
  live.add(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    }),
  );
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  const kill = async () => {
    if (!gone()) child.kill('SIGKILL');
    await exited;
  };
  const proc: RoleProcess = {
    name: opts.name,
    serviceId,
    roles,
    pid: child.pid ?? -1,
    host,
    httpPort,
    mqttPort,
    coapPort,
    healthPort,
    child,
    exited,
    logTail: () => tail.join('\n'),
    kill,
    async stop(graceMs = 10_000) {
      if (!gone()) child.kill('SIGTERM');
      const timer = setTimeout(() => void kill(), graceMs);
      const { code } = await exited;
      clearTimeout(timer);
      return code;
    },
    describe() {
      const parts = [`${opts.name.padEnd(14)} pid ${String(child.pid).padEnd(7)} ${serviceId.padEnd(18)} roles ${roles.join(',').padEnd(27)}`];
      if (roles.includes('api')) parts.push(`REST http://${host}:${httpPort}`);
      else if (httpPort !== null) parts.push(`HTTP devices http://${host}:${httpPort}`);
      if (mqttPort !== null) parts.push(`MQTT ${host}:${mqttPort}`, `CoAP udp ${host}:${coapPort}`);
      parts.push(`health http://${host}:${healthPort}/readyz`);
      return parts.join('  ');
    },
  };
  try {
    await waitReady(proc, opts.readyTimeoutMs ?? 60_000);
  } catch (e) {
    await kill();
    const text = proc.logTail();
    if (/EADDRINUSE/.test(text)) throw new PortTakenError(`${opts.name}: a port was taken: ${text}`);
    throw new Error(`${opts.name} (${roles.join(',')}) did not start: ${(e as Error).message}\n${text}`);
  }
  return proc;
}

async function waitReady(p: RoleProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exit: string | undefined;
  void p.exited.then(({ code, signal }) => (exit = `exited (${code ?? signal})`));
  for (;;) {
    if (exit !== undefined) throw new Error(exit);
    try {
      // Through the HTTP port when there is one (api, or transport's device API): it listens last.
      const res = await fetch(`http://${p.host}:${p.httpPort ?? p.healthPort}/readyz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface ClusterLayout {
  readonly api?: number;
  readonly transport?: number;
  readonly ruleEngine?: number;
  /** Processes with all three roles. */
  readonly all?: number;
}

export interface StartProcessesOptions extends Omit<RoleProcessOptions, 'name' | 'roles' | 'serviceId' | 'demo'> {
  /** Prefix of the service ids (default "rc"): `<prefix>-api-1`, ... */
  readonly idPrefix?: string;
  /** Seed the demo data (through the first api or all-roles process, started before the others). */
  readonly demo?: boolean;
}

/** The processes of a layout, named api-1.., transport-1.., rule-engine-1.., all-1.. */
export function layoutSpecs(layout: ClusterLayout): { name: string; roles: Role[] }[] {
  const specs: { name: string; roles: Role[] }[] = [];
  const add = (n: number | undefined, kind: string, roles: Role[]) => {
    for (let i = 1; i <= (n ?? 0); i++) specs.push({ name: `${kind}-${i}`, roles });
  };
  add(layout.all, 'all', ['api', 'transport', 'rule-engine']);
  add(layout.api, 'api', ['api']);
  add(layout.transport, 'transport', ['transport']);
  add(layout.ruleEngine, 'rule-engine', ['rule-engine']);
  return specs;
}

/**
 * Starts every process of the layout. With `demo`, the first process serving the API starts first
 * and seeds the demo (one seeder, and the rule-engine processes then load its chains at start);
 * a transport process before it, so that its instructions show a real MQTT port.
 * On a failure, the ones started are stopped.
 */
export async function startProcesses(layout: ClusterLayout, opts: StartProcessesOptions): Promise<RoleProcess[]> {
  const specs = layoutSpecs(layout);
  if (specs.length === 0) throw new RangeError('no processes to start');
  const started: RoleProcess[] = [];
  const one = async (spec: { name: string; roles: Role[] }, demo: boolean, mqttPortShown?: number) => {
    const p = await startRoleProcess({
      ...opts,
      name: spec.name,
      roles: spec.roles,
      serviceId: `${opts.idPrefix ?? 'rc'}-${spec.name}`,
      demo,
      ...(mqttPortShown !== undefined ? { mqttPortShown } : {}),
    });
    started.push(p);
    return p;
  };
  try {
    const seeder = opts.demo === true ? specs.find((s) => s.roles.includes('api')) : undefined;
    const transport = seeder && !seeder.roles.includes('transport') ? specs.find((s) => s.roles.includes('transport')) : undefined;
    const mqttPortShown = transport ? ((await one(transport, false)).mqttPort ?? undefined) : undefined;
    if (seeder) await one(seeder, true, mqttPortShown);
    const results = await Promise.allSettled(specs.filter((s) => s !== seeder && s !== transport).map((s) => one(s, false)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (e) {
    await Promise.allSettled(started.map((p) => p.stop(3000)));
    throw e;
  }
  const order = new Map(specs.map((s, i) => [s.name, i]));
  return started.sort((a, b) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0));
}

/** Stops them all gracefully (in parallel). */
export async function stopProcesses(processes: readonly RoleProcess[], graceMs = 10_000): Promise<void> {
  await Promise.allSettled(processes.map((p) => p.stop(graceMs)));
}
