// A small in-memory context for unit tests of one node: no Redis, no queues.
import type {
  JsonObject,
  NodeContext,
  NodeOutput,
  NodeServices,
  NodeSelf,
  RuleNode,
  RuleNodeDefinition,
} from '../../src/engine/node-api.js';
import { prepareNodeConfig } from '../../src/engine/importer/node-config.js';
import type { ScriptEngine } from '../../src/engine/script/script-api.js';
import { newMsg, type NewMsg, type TbMsg } from '../../src/msg/tb-msg.js';

export interface TestServices extends NodeServices {
  readonly logs: string[];
}

const noScripts: ScriptEngine = {
  compile() {
    throw new Error('this test gave the node no script engine');
  },
  dispose() {},
};

export function testServices(overrides: Partial<NodeServices> = {}): TestServices {
  const logs: string[] = [];
  return {
    scripts: noScripts,
    logger: {
      info: (t) => logs.push(`INFO ${t}`),
      warn: (t) => logs.push(`WARN ${t}`),
      error: (t) => logs.push(`ERROR ${t}`),
    },
    now: () => Date.now(),
    ...overrides,
    logs,
  };
}

export function testSelf(def: RuleNodeDefinition<unknown>, name = 'node under test'): NodeSelf {
  return { id: 'node-1', name, type: def.type, chainId: 'chain-1', chainName: 'Test chain' };
}

/** Prepares the config exactly as the importer does (upgrade, defaults, validation), then creates the node. */
/** A message a node sent on later (enqueueForTellNext), as the queue would receive it. */
export interface Enqueued {
  readonly msg: TbMsg;
  readonly relations: readonly string[];
}

export function createNode<C>(
  def: RuleNodeDefinition<C>,
  rawConfig: JsonObject | null = {},
  opts: { configurationVersion?: number; services?: NodeServices; name?: string; queueName?: string | null } = {},
): { node: RuleNode; config: C; services: NodeServices; enqueued: Enqueued[] } {
  const prepared = prepareNodeConfig(def, rawConfig, opts.configurationVersion ?? def.version);
  if (!prepared.ok) throw new Error(`invalid config: ${JSON.stringify(prepared.problems)}`);
  const services = opts.services ?? testServices();
  const self = testSelf(def as RuleNodeDefinition<unknown>, opts.name);
  const enqueued: Enqueued[] = [];
  const enqueueForTellNext = (msg: TbMsg, relations: string | readonly string[]) => {
    enqueued.push({ msg, relations: typeof relations === 'string' ? [relations] : relations });
    return Promise.resolve();
  };
  const node = def.create(prepared.config, { self, services, queueName: opts.queueName ?? null, enqueueForTellNext });
  return { node, config: prepared.config, services, enqueued };
}

export interface RunResult {
  readonly outputs: NodeOutput[];
  readonly acked: boolean;
  /** What the node sent on later through ctx.enqueueForTellNext. */
  readonly enqueued?: Enqueued[];
}

/**
 * Runs one message through a node; an exception becomes a Failure output, as in the runtime.
 * `connected` answers ctx.hasConnection (left out: the context has none, as in a run without a runtime).
 */
export async function runNode(node: RuleNode, msg: TbMsg, services: NodeServices = testServices(), connected?: (relation: string) => boolean): Promise<RunResult> {
  let acked = false;
  const enqueued: Enqueued[] = [];
  const ctx: NodeContext = {
    self: { id: 'node-1', name: 'node under test', type: 'test', chainId: 'chain-1', chainName: 'Test chain' },
    services,
    ack: () => {
      acked = true;
    },
    enqueueForTellNext: (m, relations) => {
      enqueued.push({ msg: m, relations: typeof relations === 'string' ? [relations] : relations });
      return Promise.resolve();
    },
    ...(connected ? { hasConnection: connected } : {}),
  };
  try {
    const result = await node.onMsg(msg, ctx);
    const outputs = result === undefined ? [] : Array.isArray(result) ? [...(result as NodeOutput[])] : [result as NodeOutput];
    return { outputs, acked, enqueued };
  } catch (e) {
    return { outputs: [{ kind: 'tell', msg, relations: ['Failure'], error: e instanceof Error ? e.message : String(e) }], acked, enqueued };
  }
}

/** The relations of the single 'tell' output, e.g. ['True']. */
export function relationsOf(result: RunResult): string[] {
  return result.outputs.flatMap((o) => (o.kind === 'tell' ? [...o.relations] : []));
}

export function testMsg(init: Omit<Partial<NewMsg>, 'data'> & { data?: string | object } = {}): TbMsg {
  const { data, ...rest } = init;
  return newMsg({
    type: 'POST_TELEMETRY_REQUEST',
    originator: { entityType: 'DEVICE', id: '5f0b6b4e-0000-4000-8000-000000000001' },
    metaData: { deviceName: 'Thermostat', deviceType: 'default', ts: '1700000000000' },
    ...rest,
    data: data === undefined ? '{"temperature":25}' : typeof data === 'string' ? data : JSON.stringify(data),
  });
}

/**
 * A store node in a run without Redis (rpc-chains validate/run): it is created (so its
 * configuration is checked) and each message fails with the reason.
 */
export async function expectStoreNeeded<C>(
  def: RuleNodeDefinition<C>,
  rawConfig: JsonObject | null,
  opts: { services?: NodeServices; msg?: TbMsg } = {},
): Promise<void> {
  const { node, services } = createNode(def, rawConfig, opts);
  const result = await runNode(node, opts.msg ?? testMsg({ tenantId: 'tenant-1' }), services);
  const out = result.outputs[0];
  if (!out || out.kind !== 'tell' || !out.relations.includes('Failure') || !/needs the Redis store/.test(out.error ?? '')) {
    throw new Error(`expected a Failure naming the missing store, got ${JSON.stringify(result.outputs.map((o) => (o.kind === 'tell' ? [o.relations, o.error] : o.kind)))}`);
  }
}
