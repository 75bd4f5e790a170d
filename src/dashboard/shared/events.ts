// What GET /api/dashboard/events streams (server-sent events: `event: <type>`, `data: <JSON>`).
// Shared by the server plugin and the browser code, so it must stay free of Node and DOM types.

/**
 * The SSE path; `?token=<JWT>&devices=<id,id,...>&trace=<deviceId|*>` (EventSource cannot send
 * headers). Trace steps come only when asked for: every step of a busy tenant is a lot of events.
 */
export const EVENTS_PATH = '/api/dashboard/events';

/** `trace=*`: the steps of every device (and of messages from other originators) of the tenant. */
export const TRACE_ALL = '*';

/** At most this many device ids are watched per stream (connection state). */
export const MAX_WATCHED_DEVICES = 200;

export interface HelloEvent {
  readonly type: 'hello';
  readonly user: { readonly email: string; readonly authority: string; readonly tenantId: string; readonly customerId: string };
  /** Which live streams this server wires: a view without a stream says so instead of waiting. */
  readonly streams: { readonly trace: boolean; readonly rpc: boolean; readonly connections: boolean };
  /** Device ids of the `devices` parameter that are watched (unknown or foreign ones are dropped). */
  readonly watching: readonly string[];
  /** Whose trace steps this stream carries: a device id, '*', or null for none. */
  readonly trace: string | null;
}

/** One node step of one message (src/engine/trace.ts TraceEvent, as JSON). */
export interface TraceStep {
  readonly msgId: string;
  readonly msgType: string;
  readonly originatorId: string;
  readonly chainId: string;
  readonly chainName: string;
  readonly nodeId: string;
  readonly nodeName: string;
  readonly nodeType: string;
  readonly relations: readonly string[];
  readonly durationMs: number;
  readonly error?: string;
  readonly ts: number;
}

export interface TraceStreamEvent {
  readonly type: 'trace';
  readonly step: TraceStep;
}

/** A persistent RPC changed status (the RPC_* events of spec/rpc.md §6.4). */
export interface RpcStatusEvent {
  readonly type: 'rpc';
  readonly rpcId: string;
  readonly deviceId: string;
  readonly status: string;
  /** The stored response (device reply, or {"error": ...}); null while there is none. */
  readonly response: unknown;
  /** The whole stored Rpc entity when the source gave one (a new row for the table). */
  readonly rpc: unknown;
}

export interface ConnectionEvent {
  readonly type: 'connection';
  readonly deviceId: string;
  readonly connected: boolean;
}

export type DashboardEvent = HelloEvent | TraceStreamEvent | RpcStatusEvent | ConnectionEvent;
export type DashboardEventType = DashboardEvent['type'];

/** One SSE frame. JSON never contains a raw newline, so `data:` is a single line. */
export function sseFrame(event: DashboardEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}
