// The protocol side of the simulator: one device connection (MQTT, HTTP or CoAP) that hands
// server commands up and carries replies, client-side requests and telemetry down.

/** A server-side command as the device received it (spec/rpc.md §7). */
export interface IncomingCommand {
  readonly id: number;
  readonly method: string;
  readonly params: unknown;
}

export interface LinkHandlers {
  /** A server command arrived. */
  command(cmd: IncomingCommand): void;
  /** Something worth a line of output (connection changes, malformed input). */
  info(line: string): void;
  /** The link cannot go on (the token was refused after start): the simulator stops. */
  fatal(error: Error): void;
}

export interface LinkSettings {
  readonly token: string;
  readonly host: string;
  readonly port: number;
  /** Withhold the protocol-level acknowledgement of commands where the client library allows it (MQTT PUBACK). */
  readonly noAck: boolean;
  /** How long a client-side request waits for its reply. */
  readonly requestTimeoutMs: number;
}

export interface DeviceLink {
  /** e.g. `mqtt://127.0.0.1:1883 (MQTT 3.1.1, v1 topics)`. */
  readonly description: string;
  /** Connects and starts listening for commands; rejects when that fails. */
  start(): Promise<void>;
  /** Answers command `id` with `body` (JSON text). */
  reply(id: number, body: string): Promise<void>;
  /** A client-side request; resolves with the reply's text. */
  request(method: string, params: unknown): Promise<string>;
  telemetry(body: string): Promise<void>;
  close(): Promise<void>;
}

/** A command body (`{"id"?, "method", "params"}`) as text → the command, or why it is not one. */
export function parseCommand(text: string, idFromTopic?: number): IncomingCommand | string {
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    return `not JSON: ${text}`;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return `not a JSON object: ${text}`;
  const o = body as Record<string, unknown>;
  const id = idFromTopic ?? o.id;
  if (typeof id !== 'number' || !Number.isInteger(id)) return `no integer id: ${text}`;
  if (typeof o.method !== 'string') return `no method: ${text}`;
  return { id, method: o.method, params: o.params ?? null };
}

export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
