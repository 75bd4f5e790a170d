// A well-behaved device under load: stays connected (reconnecting to the next transport when the
// connection goes), listens for commands and answers them, publishes telemetry with QoS 1 and keeps
// the timestamps the server acknowledged, and makes client-side RPC calls. Everything it did is
// counted, so a scenario can check that nothing acknowledged was lost.
import { percentile, sleep } from './util.js';
import { commandOf, MqttDeviceError, RawMqttDevice, RPC_REQUEST_FILTER, RPC_RESPONSE_PREFIX, type Command } from './mqtt-device.js';
import type { WorldDevice } from './world.js';

export interface AgentOptions {
  readonly device: WorldDevice;
  /** Transport MQTT ports; the agent moves to the next one when a connection fails. */
  readonly ports: readonly number[];
  readonly protocolVersion?: 4 | 5;
  /** The reply to a command; undefined = no reply (one-way). Default: {"echo": params, "method"}. */
  readonly answer?: (cmd: Command) => string | undefined;
  /** Whether to PUBACK a command (default: always). */
  readonly ackCommand?: (cmd: Command) => boolean;
}

export interface TelemetryCounts {
  /** ts of every point the server acknowledged (PUBACK 0). */
  readonly acked: number[];
  /** Publishes refused (reason code, or the connection closed before the PUBACK). */
  refused: number;
}

export class DeviceAgent {
  private current: RawMqttDevice | null = null;
  private portIndex = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private connectedWaiters: (() => void)[] = [];
  private seq = 0;
  private readonly tsBase = Date.now();
  private clientRpcId = 0;
  private readonly clientWaiters = new Map<number, (payload: string) => void>();
  readonly telemetry: TelemetryCounts = { acked: [], refused: 0 };
  readonly commands: Command[] = [];
  /** Replies published and acknowledged. */
  repliesAcked = 0;
  repliesFailed = 0;
  connects = 0;
  connectFailures = 0;
  readonly clientRpc = { sent: 0, answered: 0, errors: 0, noAnswer: 0, refused: 0, latencies: [] as number[] };

  constructor(readonly opts: AgentOptions) {}

  get device(): WorldDevice {
    return this.opts.device;
  }

  get connection(): RawMqttDevice | null {
    return this.current && !this.current.isClosed ? this.current : null;
  }

  /** The MQTT port of the transport it is connected to now (or tries next). */
  get port(): number {
    return this.opts.ports[this.portIndex % this.opts.ports.length] as number;
  }

  /** Starts the connect/reconnect loop; resolves once connected and subscribed the first time. */
  async start(timeoutMs = 15_000): Promise<void> {
    this.loop ??= this.run();
    await this.waitConnected(timeoutMs);
  }

  async waitConnected(timeoutMs: number): Promise<void> {
    if (this.connection) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.device.name}: not connected within ${timeoutMs} ms`)), timeoutMs);
      this.connectedWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async run(): Promise<void> {
    let backoff = 100;
    while (!this.stopped) {
      let dev: RawMqttDevice;
      try {
        dev = await RawMqttDevice.connect({ port: this.port, token: this.device.token, protocolVersion: this.opts.protocolVersion ?? 4, connectTimeoutMs: 3000 });
        dev.ackPolicy = (p) => {
          const cmd = commandOf(p);
          return cmd === null || (this.opts.ackCommand?.(cmd) ?? true);
        };
        dev.onPublish((p) => this.onPublish(dev, p));
        await dev.subscribe(RPC_REQUEST_FILTER, 1);
        await dev.subscribe(`${RPC_RESPONSE_PREFIX}+`, 1);
      } catch {
        this.connectFailures++;
        this.portIndex++;
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 1000);
        continue;
      }
      if (this.stopped) {
        await dev.end();
        return;
      }
      backoff = 100;
      this.connects++;
      this.current = dev;
      for (const w of this.connectedWaiters.splice(0)) w();
      await dev.closed;
      this.current = null;
      if (!this.stopped) await sleep(50);
    }
  }

  private onPublish(dev: RawMqttDevice, p: Parameters<Parameters<RawMqttDevice['onPublish']>[0]>[0]): void {
    if (p.topic.startsWith(RPC_RESPONSE_PREFIX)) {
      const id = Number(p.topic.slice(RPC_RESPONSE_PREFIX.length));
      const w = this.clientWaiters.get(id);
      if (w) {
        this.clientWaiters.delete(id);
        w(p.payload.toString());
      }
      return;
    }
    const cmd = commandOf(p);
    if (!cmd) return;
    this.commands.push(cmd);
    if (!(this.opts.ackCommand?.(cmd) ?? true)) return;
    const reply = this.opts.answer ? this.opts.answer(cmd) : JSON.stringify({ echo: cmd.params ?? null, method: cmd.method });
    if (reply === undefined) return;
    dev.publish(`v1/devices/me/rpc/response/${cmd.requestId}`, reply, 1).then(
      (code) => (code === 0 ? this.repliesAcked++ : this.repliesFailed++),
      () => this.repliesFailed++,
    );
  }

  /** One telemetry point with a ts of its own; true when acknowledged. */
  async publishTelemetry(): Promise<boolean> {
    const dev = this.connection;
    if (!dev) {
      this.telemetry.refused++;
      return false;
    }
    const ts = this.tsBase + this.seq++;
    try {
      const code = await dev.publish('v1/devices/me/telemetry', JSON.stringify({ ts, values: { seq: ts } }), 1, 15_000);
      if (code === 0) {
        this.telemetry.acked.push(ts);
        return true;
      }
    } catch (e) {
      if (!(e instanceof MqttDeviceError)) throw e;
    }
    this.telemetry.refused++;
    return false;
  }

  /** A client-side RPC (getCurrentTime, answered by the shipped root chain); resolves with the reply or null. */
  async clientCall(method = 'getCurrentTime', timeoutMs = 10_000): Promise<string | null> {
    const dev = this.connection;
    if (!dev) {
      this.clientRpc.refused++;
      return null;
    }
    const id = ++this.clientRpcId;
    const started = performance.now();
    this.clientRpc.sent++;
    const answer = new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => {
        this.clientWaiters.delete(id);
        resolve(null);
      }, timeoutMs);
      this.clientWaiters.set(id, (payload) => {
        clearTimeout(timer);
        resolve(payload);
      });
    });
    try {
      const code = await dev.publish(`v1/devices/me/rpc/request/${id}`, JSON.stringify({ method, params: {} }), 1, timeoutMs);
      if (code !== 0) {
        this.clientWaiters.delete(id);
        this.clientRpc.refused++;
        return null;
      }
    } catch {
      this.clientWaiters.delete(id);
      this.clientRpc.refused++;
      return null;
    }
    const payload = await answer;
    if (payload === null) this.clientRpc.noAnswer++;
    else if (payload.includes('"error"')) this.clientRpc.errors++;
    else {
      this.clientRpc.answered++;
      this.clientRpc.latencies.push(performance.now() - started);
    }
    return payload;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.clientWaiters.values()) w('{"error":"stopped"}');
    this.clientWaiters.clear();
    const dev = this.current;
    if (dev) await dev.end();
    await this.loop;
  }
}

/** p50/p95/p99 of a list of latencies, in ms, as text. */
export function latencyText(ms: readonly number[]): string {
  if (ms.length === 0) return 'n/a';
  return `p50 ${percentile(ms, 50).toFixed(0)} / p95 ${percentile(ms, 95).toFixed(0)} / p99 ${percentile(ms, 99).toFixed(0)} ms`;
}
