// `rpc-chains simulate`: the device simulator from the command line.
import { parseArgs } from 'node:util';
import { DEFAULT_PORTS, runSimulator, type SimulatorOptions, type SimulatorProtocol } from './simulator.js';
import { errorText } from './link.js';

export const SIMULATE_USAGE = `Usage:
  rpc-chains simulate --token TOKEN [options]

A simulated device: connects with its access token, answers server-side RPC commands and
prints one line per command (←), reply (→), client-side request and response. Ctrl-C stops it.

Options:
  --token TOKEN                   the device's access token (required)
  --protocol mqtt|http|coap       device API (default mqtt)
  --host HOST                     server (default 127.0.0.1)
  --port N                        default ${DEFAULT_PORTS.mqtt} (mqtt), ${DEFAULT_PORTS.http} (http), ${DEFAULT_PORTS.coap} (coap)
  --mqtt5                         MQTT 5 instead of MQTT 3.1.1
  --topics v1|v2                  MQTT topics v1/devices/me/rpc/... (default) or v2/r/...
  --request METHOD[:PARAMS_JSON]  once connected, send a client-side RPC and print the reply
                                  (params default {}; repeatable, sent in order)
  --telemetry-every SECONDS       post {"temperature": ...} every SECONDS
  --oneway METHOD                 take METHOD as one-way: run it, send no reply (repeatable);
                                  devices cannot tell one-way commands apart by themselves
  --no-ack                        print commands, answer none; over MQTT withhold the PUBACK too,
                                  so the server sees the delivery time out
  -h, --help                      this text

Commands the device answers:
  setValue V / getValue           a switch (boolean) or knob (number) value; replies with it
  setGpioStatus {"pin":N,"enabled":B} / getGpioStatus
                                  GPIO pins; replies with every pin, e.g. {"7":true,"11":false}
  checkStatus                     replies {"status":true}
  anything else                   echoed: {"method":...,"params":...}
`;

export class UsageError extends Error {}

/** A `--request` value: METHOD or METHOD:PARAMS_JSON. */
export function parseRequestArg(text: string): { method: string; params: unknown } {
  const colon = text.indexOf(':');
  const method = (colon < 0 ? text : text.slice(0, colon)).trim();
  if (method === '') throw new UsageError(`--request "${text}": no method`);
  if (colon < 0) return { method, params: {} };
  try {
    return { method, params: JSON.parse(text.slice(colon + 1)) as unknown };
  } catch (e) {
    throw new UsageError(`--request "${text}": the params are not JSON (${errorText(e)})`);
  }
}

export interface SimulateArgs {
  readonly options: Omit<SimulatorOptions, 'print'>;
  readonly requests: readonly { method: string; params: unknown }[];
}

/** argv (after `simulate`) → simulator options; UsageError on anything wrong; null for --help. */
export function parseSimulateArgs(argv: readonly string[]): SimulateArgs | null {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        token: { type: 'string' },
        protocol: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        mqtt5: { type: 'boolean' },
        topics: { type: 'string' },
        request: { type: 'string', multiple: true },
        'telemetry-every': { type: 'string' },
        oneway: { type: 'string', multiple: true },
        // Node 20's parseArgs has no negated booleans: the flag is named as users type it.
        'no-ack': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new UsageError(errorText(e));
  }
  if (values.help) return null;
  if (values.token === undefined || values.token === '') throw new UsageError('--token is required');
  const protocol = values.protocol ?? 'mqtt';
  if (protocol !== 'mqtt' && protocol !== 'http' && protocol !== 'coap') throw new UsageError(`--protocol ${protocol}: mqtt, http or coap`);
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port < 1 || port > 65535) throw new UsageError(`--port ${values.port}: not a port number`);
  }
  const topics = values.topics ?? 'v1';
  if (topics !== 'v1' && topics !== 'v2') throw new UsageError(`--topics ${topics}: v1 or v2`);
  if (protocol !== 'mqtt' && (values.mqtt5 || values.topics !== undefined)) throw new UsageError('--mqtt5 and --topics are for --protocol mqtt');
  let telemetryIntervalMs: number | undefined;
  if (values['telemetry-every'] !== undefined) {
    const s = Number(values['telemetry-every']);
    if (!(Number.isFinite(s) && s > 0)) throw new UsageError(`--telemetry-every ${values['telemetry-every']}: a number of seconds > 0`);
    telemetryIntervalMs = Math.round(s * 1000);
  }
  return {
    options: {
      token: values.token,
      protocol: protocol satisfies SimulatorProtocol,
      host: values.host,
      port,
      mqtt5: values.mqtt5 ?? false,
      mqttTopics: topics,
      noAck: values['no-ack'] ?? false,
      oneway: values.oneway ?? [],
      telemetryIntervalMs,
    },
    requests: (values.request ?? []).map(parseRequestArg),
  };
}

export interface SimulatorCliIo {
  readonly out: (line: string) => void;
  readonly err: (text: string) => void;
  /** Resolves on the first stop request (SIGINT/SIGTERM by default). */
  readonly stopSignal?: Promise<string>;
}

function signalOnce(): { promise: Promise<string>; dispose: () => void } {
  let dispose = () => {};
  const promise = new Promise<string>((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      dispose();
      resolve(sig);
    };
    process.once('SIGINT', on);
    process.once('SIGTERM', on);
    dispose = () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    };
  });
  return { promise, dispose };
}

/**
 * Runs `simulate` until SIGINT/SIGTERM (exit code 0) or until the server refuses the device
 * (1); 2 for a usage error. Requests that fail are reported and do not stop the device.
 */
export async function simulatorCli(argv: string[], io?: Partial<SimulatorCliIo>): Promise<number> {
  const out = io?.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = io?.err ?? ((text: string) => process.stderr.write(text));
  let parsed: SimulateArgs | null;
  try {
    parsed = parseSimulateArgs(argv);
  } catch (e) {
    err(`simulate: ${errorText(e)}\n\n${SIMULATE_USAGE}`);
    return 2;
  }
  if (parsed === null) {
    out(SIMULATE_USAGE.trimEnd());
    return 0;
  }
  // Listen before connecting: Ctrl-C during a slow connect must still end cleanly.
  const signal = io?.stopSignal ? { promise: io.stopSignal, dispose: () => {} } : signalOnce();
  try {
    const connecting = runSimulator({ ...parsed.options, print: out });
    const first = await Promise.race([connecting.then((sim) => ({ sim })), signal.promise.then((sig) => ({ sig }))]);
    if ('sig' in first) {
      void connecting.then((sim) => sim.close(), () => undefined);
      return 0;
    }
    const sim = first.sim;
    void (async () => {
      for (const r of parsed.requests) {
        await sim.request(r.method, r.params).catch(() => undefined); // printed by the simulator
      }
    })();
    const end = await Promise.race([
      signal.promise.then((sig) => ({ sig })),
      sim.done.then(
        () => ({ sig: 'closed' }),
        (e: unknown) => ({ error: e }),
      ),
    ]);
    if ('error' in end) return 1;
    out('· stopping');
    await sim.close();
    return 0;
  } catch (e) {
    err(`simulate: ${errorText(e)}\n`);
    return 1;
  } finally {
    signal.dispose();
  }
}
