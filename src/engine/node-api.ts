import type { SchemaObject } from 'ajv';
import type { TbMsg } from '../msg/tb-msg.js';
import type { ScriptEngine } from './script/script-api.js';
import type { Store } from '../store/store.js';
import type { DeviceRpcApi } from '../rpc/device-rpc-api.js';
import type { AttributeUpdate } from '../transport/transport-api.js';
import type { DeviceStateApi } from '../device-state/device-state-service.js';

export type NodeCategory = 'FILTER' | 'ENRICHMENT' | 'TRANSFORMATION' | 'ACTION' | 'EXTERNAL' | 'FLOW';

export const SUCCESS = 'Success';
export const FAILURE = 'Failure';
export const TRUE = 'True';
export const FALSE = 'False';

/** What a node hands back to the runtime: where the message goes next. */
export type NodeOutput =
  /** Follow the connections whose type is one of `relations` (case-insensitive). */
  | { readonly kind: 'tell'; readonly msg: TbMsg; readonly relations: readonly string[]; readonly error?: string }
  /** Continue in another chain and come back through its output nodes (TbRuleChainInputNode). */
  | { readonly kind: 'enterChain'; readonly msg: TbMsg; readonly chainId: string }
  /** Return to the calling chain through the relation named `relation` (TbRuleChainOutputNode). */
  | { readonly kind: 'exitChain'; readonly msg: TbMsg; readonly relation: string };

/** undefined or [] ends the branch (the message is done there). */
export type NodeResult = NodeOutput | readonly NodeOutput[] | undefined;

export function tell(msg: TbMsg, ...relations: string[]): NodeOutput {
  return { kind: 'tell', msg, relations };
}

export function tellSuccess(msg: TbMsg): NodeOutput {
  return { kind: 'tell', msg, relations: [SUCCESS] };
}

export function tellFailure(msg: TbMsg, error: unknown): NodeOutput {
  return { kind: 'tell', msg, relations: [FAILURE], error: errorText(error) };
}

export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : JSON.stringify(error);
}

/** Who a node is, for logs, errors and traces. */
export interface NodeSelf {
  readonly id: string;
  readonly name: string;
  readonly type: string;
  readonly chainId: string;
  readonly chainName: string;
}

export interface NodeLogger {
  info(text: string): void;
  warn(text: string): void;
  error(text: string): void;
}

/**
 * What nodes may use from the outside world; unit tests build a small one by hand (with a
 * real Store on a test Redis where needed).
 */
export interface NodeServices {
  readonly scripts: ScriptEngine;
  readonly logger: NodeLogger;
  /** The Redis store; absent in pure in-memory runs (`rpc-chains run`), where store nodes refuse to start. */
  readonly store?: Store;
  /** Device RPC (the RPC call request / reply nodes); absent in runs without Redis. */
  readonly rpc?: DeviceRpcApi;
  /** This process's service id (metadata of RPC messages, message counts). */
  readonly serviceId?: string;
  /**
   * Puts a new message on the rule-engine queue, to its originator's root chain: ThingsBoard's
   * ctx.enqueue of the entity-action messages store nodes emit (ATTRIBUTES_UPDATED, ALARM_CLEAR,
   * ENTITY_CREATED, ...). Absent in runs without Redis, where nodes skip those messages.
   */
  readonly toRuleEngine?: (msg: TbMsg) => Promise<void>;
  /** Reaches devices' live sessions (shared-attribute changes saved with notifyDevice); absent without transports. */
  readonly devices?: DeviceNotifier;
  /** Device connectivity state (the device state node); absent in runs without Redis. */
  readonly deviceState?: DeviceStateApi;
  now(): number;
}

/** Pushes a shared-attribute change to every live session of a device, on whichever process holds it. */
export interface DeviceNotifier {
  pushAttributeUpdate(deviceId: string, update: AttributeUpdate): Promise<void>;
}

/** Where a message re-enters a chain later: after `nodeId`, on `relations` (ThingsBoard's enqueueForTellNext). */
export interface ResumePoint {
  readonly chainId: string;
  readonly nodeId: string;
  readonly relations: readonly string[];
}

/**
 * Sends a message on from a node later, as a new queue message: the node's outgoing
 * connections of `relations` are followed when it is taken from the queue. Resolves when
 * the message is safely queued. Used by nodes that answer later (delay, generator,
 * deduplication, message count, checkpoint, RPC call request).
 */
export type EnqueueForTellNext = (msg: TbMsg, relations: string | readonly string[]) => Promise<void>;

/** Given to a node when it is created from its configuration. */
export interface NodeInit {
  readonly self: NodeSelf;
  readonly services: NodeServices;
  /** The node's own queue (checkpoint, generator, deduplication), or null. */
  readonly queueName: string | null;
  readonly enqueueForTellNext: EnqueueForTellNext;
}

/** Given to a node with each message. */
export interface NodeContext {
  readonly self: NodeSelf;
  readonly services: NodeServices;
  /** Acknowledge the queue message now; processing goes on (TbAckNode). */
  ack(): void;
  readonly enqueueForTellNext: EnqueueForTellNext;
  /**
   * Whether this node, as loaded now, has a connection of `relation`: a message sent on from it
   * later on that relation would go somewhere. Runs without a runtime may leave it out.
   */
  hasConnection?(relation: string): boolean;
}

/**
 * The store. Where a run has none (`rpc-chains validate` and `run` work without Redis), the node
 * is still created, so that its configuration is checked; using the store then fails the
 * message with a reason instead.
 */
export function requireStore(init: NodeInit): Store {
  if (init.services.store) return init.services.store;
  const reason = `"${init.self.name}" needs the Redis store, which this run does not have (start rpc-chains with Redis to run it)`;
  return new Proxy({} as Store, {
    get() {
      throw new Error(reason);
    },
  });
}

export interface RuleNode {
  onMsg(msg: TbMsg, ctx: NodeContext): NodeResult | Promise<NodeResult>;
  /** Called when the chain is unloaded: stop timers, close clients. */
  destroy?(): void | Promise<void>;
}

/** A plain JSON object as found in a node's configuration. */
export type JsonObject = Record<string, unknown>;

/**
 * Everything the runtime and the importer know of one node type. One file per node
 * exports one of these; src/nodes/index.ts lists them.
 */
export interface RuleNodeDefinition<C = unknown> {
  /** ThingsBoard's fully qualified class name, e.g. org.thingsboard.rule.engine.filter.TbJsFilterNode */
  readonly type: string;
  readonly category: NodeCategory;
  /** ThingsBoard's UI name, e.g. "script". */
  readonly uiName: string;
  /** The current configurationVersion; older configs run through `upgrade`. */
  readonly version: number;
  /** The relations the node can emit (Failure included); empty when the script decides. */
  readonly relations: readonly string[];
  readonly customRelations?: boolean;
  /** ajv schema of the configuration (after upgrade), with defaults. */
  readonly configSchema: SchemaObject;
  /** ThingsBoard's defaultConfiguration(). */
  readonly defaultConfig: C;
  /** One upgrade step at a time: from `fromVersion` to the next. Throws a message on bad input. */
  upgrade?(fromVersion: number, config: JsonObject): JsonObject;
  /** Builds the node; throws (with a reason) when the configuration cannot work. */
  create(config: C, init: NodeInit): RuleNode;
}

/** Keeps the config type of a definition while storing it in a list of mixed ones. */
export function defineNode<C>(def: RuleNodeDefinition<C>): RuleNodeDefinition<C> {
  return def;
}

/** Thrown by create() when a configuration is well-formed but cannot work (e.g. a script that does not compile). */
export class NodeConfigError extends Error {
  constructor(
    message: string,
    /** JSON pointer inside the node's configuration, e.g. /jsScript */
    readonly pointer = '',
  ) {
    super(message);
    this.name = 'NodeConfigError';
  }
}
