// A simulated ThingsBoard device: connects with an access token over MQTT, HTTP or CoAP,
// answers server-side RPC commands (behaviour.ts), sends client-side requests and telemetry,
// and prints one line per command, reply, request and response.
import { handleCommand, initialState, nextTemperature, type DeviceState } from './behaviour.js';
import { CoapLink } from './coap-link.js';
import { HttpLink } from './http-link.js';
import { errorText, type DeviceLink, type IncomingCommand, type LinkHandlers, type LinkSettings } from './link.js';
import { MqttLink, type MqttTopicVariant } from './mqtt-link.js';

export type SimulatorProtocol = 'mqtt' | 'http' | 'coap';

export const DEFAULT_PORTS: Readonly<Record<SimulatorProtocol, number>> = { mqtt: 1883, http: 8080, coap: 5683 };

export interface SimulatorOptions {
  /** The device's access token. */
  readonly token: string;
  readonly protocol?: SimulatorProtocol;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 1883 (MQTT), 8080 (HTTP), 5683 (CoAP). */
  readonly port?: number;
  /** MQTT 5 instead of 3.1.1. */
  readonly mqtt5?: boolean;
  /** MQTT topic names: `v1/devices/me/rpc/...` (default) or the short `v2/r/...`. */
  readonly mqttTopics?: MqttTopicVariant;
  /**
   * Receive commands but never answer them; over MQTT the PUBACK is withheld too, so the server
   * sees the delivery time out. (CoAP's client library acknowledges notifications by itself.)
   */
  readonly noAck?: boolean;
  /**
   * Methods to treat as one-way: printed, not answered. A device cannot tell a one-way command
   * from a two-way one (ThingsBoard sends both alike), so by default every command is answered
   * and the server drops answers to one-way commands.
   */
  readonly oneway?: readonly string[];
  /** Post `{"temperature": ...}` this often; 0/absent = never. */
  readonly telemetryIntervalMs?: number;
  /** Long-poll timeout of the HTTP device API, ms. Default 60 000. */
  readonly httpPollTimeoutMs?: number;
  /** How long request() waits. Default 65 000: past ThingsBoard's own 60 s, whose `{"error":"timeout"}` then arrives first. */
  readonly requestTimeoutMs?: number;
  readonly initialState?: Partial<DeviceState>;
  /** Where the output lines go. Default: stdout. */
  readonly print?: (line: string) => void;
}

/** One server command as the simulator saw it. */
export interface ReceivedCommand extends IncomingCommand {
  readonly at: number;
  /** The reply sent (any JSON value); undefined when the command was not answered. */
  reply?: unknown;
}

export interface Simulator {
  readonly protocol: SimulatorProtocol;
  /** Where it is connected, e.g. `mqtt://127.0.0.1:1883 (MQTT 3.1.1, v1 topics)`. */
  readonly description: string;
  /** The live device state (setValue/getValue, GPIO pins). */
  readonly state: DeviceState;
  /** Every server command received, in order. */
  readonly received: readonly ReceivedCommand[];
  /** A client-side RPC; resolves with the reply (parsed JSON, or the text when it is not JSON). */
  request(method: string, params?: unknown): Promise<unknown>;
  /** Posts telemetry now (the periodic telemetry uses this). */
  sendTelemetry(values?: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
  /** Settles when the simulator stops: resolves after close(), rejects when the server refused the device. */
  readonly done: Promise<void>;
}

const show = (v: unknown): string => (v === undefined ? 'null' : JSON.stringify(v));

function parseReply(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export async function runSimulator(opts: SimulatorOptions): Promise<Simulator> {
  if (opts.token === '') throw new Error('the access token is empty');
  if (opts.port !== undefined && !(Number.isInteger(opts.port) && opts.port > 0 && opts.port < 65536)) throw new RangeError(`port ${opts.port} is not 1..65535`);
  const protocol = opts.protocol ?? 'mqtt';
  const print = opts.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const state = initialState(opts.initialState);
  const received: ReceivedCommand[] = [];
  const oneway = new Set(opts.oneway ?? []);
  const noAck = opts.noAck ?? false;
  let closed = false;
  let warnedCoapPrimitive = false;
  let telemetryTimer: NodeJS.Timeout | undefined;
  let stopping: Promise<void> | undefined;

  let settleDone: { resolve: () => void; reject: (e: Error) => void } | undefined;
  const done = new Promise<void>((resolve, reject) => (settleDone = { resolve, reject }));
  done.catch(() => undefined); // observed through `done` by whoever cares; never an unhandled rejection

  let link: DeviceLink | undefined;
  const handlers: LinkHandlers = {
    command: (cmd) => onCommand(cmd),
    info: (line) => print(`· ${line}`),
    fatal: (e) => {
      print(`! ${e.message}`);
      void stop().then(() => settleDone?.reject(e));
    },
  };

  function onCommand(cmd: IncomingCommand): void {
    const entry: ReceivedCommand = { ...cmd, at: Date.now() };
    received.push(entry);
    print(`← command ${cmd.id} ${cmd.method} ${show(cmd.params)}`);
    if (noAck) {
      // A device that hangs: nothing is executed, nothing answered.
      print(`  (not answered: --no-ack)`);
      return;
    }
    const reply = handleCommand(state, cmd.method, cmd.params);
    if (oneway.has(cmd.method)) {
      // Still executed: a one-way setValue changes the state all the same.
      print(`  (not answered: ${cmd.method} is one-way here)`);
      return;
    }
    entry.reply = reply;
    const body = show(reply);
    if (protocol === 'coap' && (typeof reply !== 'object' || reply === null || Array.isArray(reply)) && !warnedCoapPrimitive) {
      warnedCoapPrimitive = true;
      print(`· note: ThingsBoard's CoAP transport accepts only a JSON object as a reply; ${body} may be refused`);
    }
    print(`→ reply ${cmd.id} ${body}`);
    link?.reply(cmd.id, body).catch((e: unknown) => {
      if (!closed) print(`! reply ${cmd.id} not delivered: ${errorText(e)}`);
    });
  }

  const base: LinkSettings = {
    token: opts.token,
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? DEFAULT_PORTS[protocol],
    noAck,
    requestTimeoutMs: opts.requestTimeoutMs ?? 65_000,
  };
  switch (protocol) {
    case 'mqtt':
      link = new MqttLink({ ...base, protocolVersion: opts.mqtt5 ? 5 : 4, topics: opts.mqttTopics ?? 'v1' }, handlers);
      break;
    case 'http':
      link = new HttpLink({ ...base, pollTimeoutMs: opts.httpPollTimeoutMs ?? 60_000 }, handlers);
      break;
    case 'coap':
      link = new CoapLink(base, handlers);
      break;
    default:
      throw new Error(`unknown protocol "${String(protocol)}" (mqtt, http or coap)`);
  }
  const theLink: DeviceLink = link;

  try {
    await theLink.start();
  } catch (e) {
    await theLink.close().catch(() => undefined); // e.g. the CoAP socket, which would keep the process alive
    throw e;
  }
  print(`connected to ${theLink.description} with token ${opts.token}`);

  let temperature = 22;
  async function sendTelemetry(values?: Record<string, unknown>): Promise<void> {
    const data = values ?? { temperature: (temperature = nextTemperature(temperature)) };
    const body = JSON.stringify(data);
    print(`→ telemetry ${body}`);
    await theLink.telemetry(body);
  }

  const every = opts.telemetryIntervalMs ?? 0;
  if (every > 0) {
    const tick = () =>
      void sendTelemetry().catch((e: unknown) => {
        if (!closed) print(`! telemetry not sent: ${errorText(e)}`);
      });
    tick();
    telemetryTimer = setInterval(tick, every);
  }

  function stop(): Promise<void> {
    stopping ??= (async () => {
      closed = true;
      clearInterval(telemetryTimer);
      await theLink.close();
    })();
    return stopping;
  }

  let nextLocalId = 1;
  return {
    protocol,
    description: theLink.description,
    state,
    received,
    async request(method: string, params: unknown = {}): Promise<unknown> {
      if (closed) throw new Error('the simulator is closed');
      // HTTP and CoAP requests carry no id (the server uses 0): number them here for the output.
      const n = nextLocalId++;
      print(`→ request ${n} ${method} ${show(params)}`);
      try {
        const reply = parseReply(await theLink.request(method, params));
        print(`← response ${n} ${show(reply)}`);
        return reply;
      } catch (e) {
        print(`! request ${n} ${method}: ${errorText(e)}`);
        throw e;
      }
    },
    sendTelemetry,
    async close(): Promise<void> {
      await stop();
      settleDone?.resolve();
    },
    done,
  };
}
