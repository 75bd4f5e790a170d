import { performance } from 'node:perf_hooks';
import { copyMsg, transformMsg, type TbMsg } from '../msg/tb-msg.js';
import {
  errorText,
  FAILURE,
  NodeConfigError,
  tellFailure,
  type NodeContext,
  type NodeOutput,
  type NodeResult,
  type NodeSelf,
  type NodeServices,
  type ResumePoint,
  type RuleNode,
} from './node-api.js';
import { ChainImportError, type ImportedChain, type ImportedNode, type ImportIssue } from './importer/chain-model.js';
import { TraceHub } from './trace.js';

export interface RuntimeOptions {
  readonly services: NodeServices;
  /** Node executions allowed for one message, all branches together; 0 = unlimited (ThingsBoard's maxRuleNodeExecutionsPerMessage). */
  readonly maxNodeExecutionsPerMessage: number;
  /**
   * Puts a message that a node sends on later into the queues; the message says where it
   * resumes (ruleChainId, ruleNodeId, resume). Without it, such a message is processed in
   * memory at once, as a new message.
   */
  readonly enqueue?: (msg: TbMsg) => Promise<void>;
}

/** A resume point with the chain stack at that moment, so that a resumed message can still return from a nested chain. */
export interface QueuedResumePoint extends ResumePoint {
  readonly stack?: readonly { readonly chainId: string; readonly nodeId: string }[];
}

export type MsgOutcome =
  | { readonly status: 'success'; readonly nodeExecutions: number }
  | { readonly status: 'failure'; readonly error: string; readonly failures: number; readonly nodeExecutions: number };

export interface ProcessOptions {
  /** The chain to start in; default: the message's ruleChainId, then the root chain. */
  readonly chainId?: string;
  /** Called once when a node acknowledges the message before its processing ends (TbAckNode). */
  readonly onAck?: () => void;
  /** Called where a branch ends: the message as it left the last node, and the relations it left on. */
  readonly onBranchEnd?: (end: BranchEnd) => void;
}

export interface BranchEnd {
  readonly msg: TbMsg;
  readonly chainName: string;
  readonly nodeName: string;
  /** [] when the node sent the message nowhere (a filter's drop, an acknowledged end). */
  readonly relations: readonly string[];
}

interface LoadedChain {
  readonly id: string;
  readonly name: string;
  readonly imported: ImportedChain;
  readonly nodes: LoadedNode[];
  readonly byId: Map<string, LoadedNode>;
  first: LoadedNode | null;
}

const EMPTY: readonly LoadedNode[] = [];
const RELATION_CACHE_LIMIT = 256;

/** ThingsBoard 2.0 called "RPC Request from Device" just "RPC Request"; relations match case-insensitively. */
export function normalizeRelation(type: string): string {
  const lower = type.toLowerCase();
  return lower === 'rpc request' ? 'rpc request from device' : lower;
}

class LoadedNode {
  /** Connections by normalized relation type. */
  readonly outgoing = new Map<string, LoadedNode[]>();
  /** The same, by the exact string a node emitted: saves a toLowerCase per step. */
  private readonly byEmitted = new Map<string, readonly LoadedNode[]>();

  constructor(
    readonly chain: LoadedChain,
    readonly imported: ImportedNode,
    readonly self: NodeSelf,
    readonly instance: RuleNode,
  ) {}

  targetsFor(relation: string): readonly LoadedNode[] {
    let targets = this.byEmitted.get(relation);
    if (targets === undefined) {
      targets = this.outgoing.get(normalizeRelation(relation)) ?? EMPTY;
      if (this.byEmitted.size < RELATION_CACHE_LIMIT) this.byEmitted.set(relation, targets);
    }
    return targets;
  }
}

/** The return stack of nested chains, as an immutable list so that branches can share it. */
interface Frame {
  readonly inputNode: LoadedNode;
  readonly prev: Frame | null;
}

interface WorkItem {
  readonly node: LoadedNode;
  readonly msg: TbMsg;
  readonly stack: Frame | null;
}

const RECENT = 8;

/** The state of one message while it walks the chains: its branches, its node count, its errors. */
class MsgRun {
  readonly queue: WorkItem[] = [];
  head = 0;
  pending = 0;
  executions = 0;
  readonly recent: LoadedNode[] = [];
  failures = 0;
  firstError: string | null = null;
  acked = false;
  readonly ack: () => void;

  constructor(
    readonly resolve: (outcome: MsgOutcome) => void,
    onAck: (() => void) | undefined,
    readonly onBranchEnd: ((end: BranchEnd) => void) | undefined,
  ) {
    this.ack = () => {
      if (this.acked) return;
      this.acked = true;
      onAck?.();
    };
  }

  fail(error: string): void {
    this.failures++;
    this.firstError ??= error;
  }

  finish(): void {
    this.resolve(
      this.failures === 0
        ? { status: 'success', nodeExecutions: this.executions }
        : { status: 'failure', error: this.firstError ?? 'failed', failures: this.failures, nodeExecutions: this.executions },
    );
  }
}

/**
 * Runs messages through loaded rule chains, in memory. A node returns where the message
 * goes; the runtime follows the connections, copies the message on fan-out, and calls a
 * message done when every branch has ended, async ones included.
 */
export class ChainRuntime {
  readonly trace = new TraceHub();
  private readonly chains = new Map<string, LoadedChain>();
  /** Root chain per tenant id ('' for messages without a tenant, e.g. the CLI). */
  private readonly roots = new Map<string, string>();

  constructor(private readonly options: RuntimeOptions) {}

  get services(): NodeServices {
    return this.options.services;
  }

  /** Creates the nodes of these chains (all or none) and makes them runnable; a chain with a known id is replaced. */
  load(chains: readonly ImportedChain[]): void {
    const issues: ImportIssue[] = [];
    const loaded: LoadedChain[] = [];
    for (const chain of chains) {
      const lc: LoadedChain = { id: chain.id, name: chain.name, imported: chain, nodes: [], byId: new Map(), first: null };
      for (const node of chain.nodes) {
        const self: NodeSelf = { id: node.id, name: node.name, type: node.type, chainId: chain.id, chainName: chain.name };
        const enqueueForTellNext = (msg: TbMsg, relations: string | readonly string[]) =>
          this.enqueueForTellNext(msg, { chainId: chain.id, nodeId: node.id, relations: typeof relations === 'string' ? [relations] : relations });
        try {
          const instance = node.definition.create(node.configuration, { self, services: this.options.services, queueName: node.queueName, enqueueForTellNext });
          lc.nodes[node.index] = new LoadedNode(lc, node, self, instance);
          lc.byId.set(node.id, lc.nodes[node.index]);
        } catch (e) {
          const pointer = e instanceof NodeConfigError ? e.pointer : '';
          issues.push({
            source: chain.source,
            pointer: `/metadata/nodes/${node.index}/configuration${pointer}`,
            nodeIndex: node.index,
            nodeName: node.name,
            message: errorText(e),
          });
        }
      }
      loaded.push(lc);
    }
    const ids = new Set([...this.chains.keys(), ...chains.map((c) => c.id)]);
    for (const lc of loaded) {
      for (const node of lc.nodes) {
        if (node?.imported.type === 'org.thingsboard.rule.engine.flow.TbRuleChainInputNode') {
          const target = String(node.imported.configuration.ruleChainId);
          if (!ids.has(target)) {
            issues.push({
              source: lc.imported.source,
              pointer: `/metadata/nodes/${node.imported.index}/configuration/ruleChainId`,
              nodeIndex: node.imported.index,
              nodeName: node.self.name,
              message: `rule chain ${target} is not loaded`,
            });
          }
        }
      }
    }
    if (issues.length > 0) {
      for (const lc of loaded) void this.destroyNodes(lc);
      throw new ChainImportError(issues);
    }
    for (const lc of loaded) {
      for (const c of lc.imported.connections) {
        const from = lc.nodes[c.fromIndex];
        const key = normalizeRelation(c.type);
        const list = from.outgoing.get(key) ?? [];
        list.push(lc.nodes[c.toIndex]);
        from.outgoing.set(key, list);
      }
      lc.first = lc.imported.firstNodeIndex === null ? null : lc.nodes[lc.imported.firstNodeIndex];
      const old = this.chains.get(lc.id);
      this.chains.set(lc.id, lc);
      if (lc.imported.root && !this.roots.has('')) this.roots.set('', lc.id);
      if (old) void this.destroyNodes(old);
    }
  }

  /** Makes a loaded chain the root chain of a tenant ('' = of messages that name no tenant). */
  setRootChain(chainId: string, tenantId = ''): void {
    if (!this.chains.has(chainId)) throw new Error(`rule chain ${chainId} is not loaded`);
    this.roots.set(tenantId, chainId);
  }

  rootChainOf(tenantId = ''): string | null {
    return this.roots.get(tenantId) ?? null;
  }

  hasChain(chainId: string): boolean {
    return this.chains.has(chainId);
  }

  async unload(chainId: string): Promise<void> {
    const lc = this.chains.get(chainId);
    if (!lc) return;
    this.chains.delete(chainId);
    for (const [tenant, root] of this.roots) if (root === chainId) this.roots.delete(tenant);
    await this.destroyNodes(lc);
  }

  async close(): Promise<void> {
    for (const id of [...this.chains.keys()]) await this.unload(id);
    this.trace.complete();
  }

  /** Runs one message to the end of all its branches. Never rejects: failures are in the outcome. */
  process(msg: TbMsg, opts: ProcessOptions = {}): Promise<MsgOutcome> {
    return new Promise<MsgOutcome>((resolve) => {
      const run = new MsgRun(resolve, opts.onAck, opts.onBranchEnd);
      if (msg.resume && msg.ruleChainId !== null && msg.ruleNodeId !== null) {
        const stack = msg.resume.stack.map((f) => ({ chainId: f.ruleChainId, nodeId: f.ruleNodeId }));
        this.startResumed(run, msg, { chainId: msg.ruleChainId, nodeId: msg.ruleNodeId, relations: msg.resume.relations, stack });
        this.drain(run);
        return;
      }
      const chainId = opts.chainId ?? msg.ruleChainId ?? this.roots.get(msg.tenantId ?? '') ?? null;
      const chain = chainId === null ? undefined : this.chains.get(chainId);
      if (!chain) {
        run.fail(chainId === null ? `no root rule chain is set for tenant ${msg.tenantId ?? '(none)'}` : `rule chain ${chainId} is not loaded`);
      } else if (chain.first) {
        run.queue.push({ node: chain.first, msg, stack: null });
      }
      this.drain(run);
    });
  }

  /** Sends a message on from a node later: through the queues when there are any, else in memory. */
  enqueueForTellNext(msg: TbMsg, resume: QueuedResumePoint): Promise<void> {
    const queued: TbMsg = {
      ...msg,
      ruleChainId: resume.chainId,
      ruleNodeId: resume.nodeId,
      resume: { relations: resume.relations, stack: (resume.stack ?? []).map((f) => ({ ruleChainId: f.chainId, ruleNodeId: f.nodeId })) },
    };
    if (this.options.enqueue) return this.options.enqueue(queued);
    void this.process(queued).then((outcome) => {
      if (outcome.status === 'failure') this.options.services.logger.warn(`message ${msg.id} failed: ${outcome.error}`);
    });
    return Promise.resolve();
  }

  /** Whether the node as loaded now sends a message on `relation` anywhere (true when the node is gone: the queue reports that). */
  hasConnection(chainId: string, nodeId: string, relation: string): boolean {
    const node = this.chains.get(chainId)?.byId.get(nodeId);
    return node === undefined || node.targetsFor(relation).length > 0;
  }

  private startResumed(run: MsgRun, msg: TbMsg, resume: QueuedResumePoint): void {
    const node = this.chains.get(resume.chainId)?.byId.get(resume.nodeId);
    if (!node) {
      run.fail(`cannot resume message ${msg.id}: node ${resume.nodeId} of rule chain ${resume.chainId} is no longer loaded`);
      return;
    }
    let stack: Frame | null = null;
    for (const frame of resume.stack ?? []) {
      const input = this.chains.get(frame.chainId)?.byId.get(frame.nodeId);
      if (input) stack = { inputNode: input, prev: stack };
    }
    // The message goes on as an ordinary one: it no longer carries where it resumed.
    const plain: TbMsg = { ...msg, ruleNodeId: null, resume: undefined };
    this.routeOne(run, { node, msg: plain, stack }, { kind: 'tell', msg: plain, relations: resume.relations });
  }

  private drain(run: MsgRun): void {
    while (run.head < run.queue.length) this.step(run, run.queue[run.head++]);
    run.queue.length = 0;
    run.head = 0;
    if (run.pending === 0) run.finish();
  }

  private step(run: MsgRun, item: WorkItem): void {
    const { node, msg } = item;
    const limit = this.options.maxNodeExecutionsPerMessage;
    run.executions++;
    if (limit > 0 && run.executions > limit) {
      run.fail(`Message is processed by more than ${limit} rule nodes! The last ones: ${this.describeRecent(run)} → "${node.self.name}"`);
      return;
    }
    run.recent[run.executions % RECENT] = node;
    const started = this.trace.enabled ? performance.now() : 0;
    const ctx = new StepContext(this, node, item.stack, run.ack);
    let result: NodeResult | Promise<NodeResult>;
    try {
      result = node.instance.onMsg(msg, ctx);
    } catch (e) {
      result = tellFailure(msg, e);
    }
    if (isPromise(result)) {
      run.pending++;
      result.then(
        (r) => this.afterAsync(run, item, r, started),
        (e: unknown) => this.afterAsync(run, item, tellFailure(msg, e), started),
      );
    } else {
      this.route(run, item, result, started);
    }
  }

  private afterAsync(run: MsgRun, item: WorkItem, result: NodeResult, started: number): void {
    run.pending--;
    this.route(run, item, result, started);
    this.drain(run);
  }

  private route(run: MsgRun, item: WorkItem, result: NodeResult, started: number): void {
    if (this.trace.enabled) this.emitTrace(item, result, started);
    if (result === undefined || (isOutputList(result) && result.length === 0)) {
      run.onBranchEnd?.({ msg: item.msg, chainName: item.node.chain.name, nodeName: item.node.self.name, relations: [] });
      return;
    }
    if (isOutputList(result)) {
      for (const output of result) this.routeOne(run, item, output);
    } else {
      this.routeOne(run, item, result);
    }
  }

  private routeOne(run: MsgRun, item: WorkItem, output: NodeOutput): void {
    const { node, stack } = item;
    switch (output.kind) {
      case 'tell': {
        const rels = output.relations;
        const targets = rels.length === 1 ? node.targetsFor(rels[0]) : rels.flatMap((r) => node.targetsFor(r));
        if (targets.length === 0) {
          run.onBranchEnd?.({ msg: output.msg, chainName: node.chain.name, nodeName: node.self.name, relations: rels });
          // An unconnected Failure fails the message; any other unconnected relation just ends the branch.
          if (output.error !== undefined || rels.some(isFailure)) {
            run.fail(`chain "${node.chain.name}" node "${node.self.name}": ${output.error ?? FAILURE}`);
          }
          return;
        }
        // Like ThingsBoard, a message sent down Failure carries the reason in metadata "error".
        const msg = output.error === undefined ? output.msg : transformMsg(output.msg, { metaData: { ...output.msg.metaData, error: output.error } });
        this.enqueueTargets(run, targets, msg, stack);
        return;
      }
      case 'enterChain': {
        const target = this.chains.get(output.chainId);
        let problem: string | null = null;
        if (!target) problem = `rule chain ${output.chainId} is not loaded`;
        else if (target === node.chain) problem = `a rule chain node cannot forward to its own chain "${target.name}"`;
        else if (onStack(stack, node)) problem = `rule chain loop: ${describeStack(stack)} → "${node.chain.name}"`;
        if (problem !== null || !target) {
          this.routeOne(run, item, tellFailure(output.msg, problem ?? 'unknown chain'));
          return;
        }
        if (target.first) run.queue.push({ node: target.first, msg: output.msg, stack: { inputNode: node, prev: stack } });
        return;
      }
      case 'exitChain': {
        if (!stack) {
          // An output node at the top level: the message is done.
          run.onBranchEnd?.({ msg: output.msg, chainName: node.chain.name, nodeName: node.self.name, relations: [output.relation] });
          return;
        }
        this.enqueueTargets(run, stack.inputNode.targetsFor(output.relation), output.msg, stack.prev);
        return;
      }
    }
  }

  private enqueueTargets(run: MsgRun, targets: readonly LoadedNode[], msg: TbMsg, stack: Frame | null): void {
    if (targets.length === 1) {
      run.queue.push({ node: targets[0], msg, stack });
      return;
    }
    // Fan-out: each branch gets its own copy with a new id, as in ThingsBoard.
    for (const target of targets) run.queue.push({ node: target, msg: copyMsg(msg), stack });
  }

  private emitTrace(item: WorkItem, result: NodeResult, started: number): void {
    const outputs = result === undefined ? [] : isOutputList(result) ? result : [result];
    const relations = outputs.flatMap((o) => (o.kind === 'tell' ? o.relations : o.kind === 'exitChain' ? [o.relation] : ['(enter chain)']));
    const error = outputs.find((o) => o.kind === 'tell' && o.error !== undefined);
    const { node, msg } = item;
    this.trace.emit({
      msgId: msg.id,
      msgType: msg.type,
      originatorId: msg.originator.id,
      chainId: node.chain.id,
      chainName: node.chain.name,
      nodeId: node.self.id,
      nodeName: node.self.name,
      nodeType: node.self.type,
      relations,
      durationMs: performance.now() - started,
      ...(error && error.kind === 'tell' ? { error: error.error } : {}),
      ts: Date.now(),
    });
  }

  private describeRecent(run: MsgRun): string {
    const names: string[] = [];
    for (let i = Math.max(1, run.executions - RECENT + 1); i < run.executions; i++) {
      const n = run.recent[i % RECENT];
      if (n) names.push(`"${n.chain.name}"/"${n.self.name}"`);
    }
    return names.join(' → ');
  }

  private async destroyNodes(lc: LoadedChain): Promise<void> {
    for (const node of lc.nodes) {
      try {
        await node?.instance.destroy?.();
      } catch (e) {
        this.options.services.logger.warn(`destroying node "${node.self.name}" failed: ${errorText(e)}`);
      }
    }
  }
}

/** What a node sees of the runtime while it handles one message. */
class StepContext implements NodeContext {
  constructor(
    private readonly runtime: ChainRuntime,
    private readonly node: LoadedNode,
    private readonly stack: Frame | null,
    readonly ack: () => void,
  ) {}

  get self(): NodeSelf {
    return this.node.self;
  }

  get services(): NodeServices {
    return this.runtime.services;
  }

  readonly enqueueForTellNext = (msg: TbMsg, relations: string | readonly string[]): Promise<void> => {
    const frames: { chainId: string; nodeId: string }[] = [];
    for (let f = this.stack; f; f = f.prev) frames.unshift({ chainId: f.inputNode.chain.id, nodeId: f.inputNode.self.id });
    return this.runtime.enqueueForTellNext(msg, {
      chainId: this.node.chain.id,
      nodeId: this.node.self.id,
      relations: typeof relations === 'string' ? [relations] : relations,
      stack: frames,
    });
  };

  hasConnection(relation: string): boolean {
    return this.runtime.hasConnection(this.node.chain.id, this.node.self.id, relation);
  }
}

function isFailure(relation: string): boolean {
  return relation === FAILURE || relation.toLowerCase() === 'failure';
}

function isPromise(value: unknown): value is Promise<NodeResult> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function isOutputList(result: NodeOutput | readonly NodeOutput[]): result is readonly NodeOutput[] {
  return Array.isArray(result);
}

function onStack(stack: Frame | null, node: LoadedNode): boolean {
  for (let f = stack; f; f = f.prev) if (f.inputNode === node) return true;
  return false;
}

function describeStack(stack: Frame | null): string {
  const parts: string[] = [];
  for (let f = stack; f; f = f.prev) parts.unshift(`"${f.inputNode.chain.name}"/"${f.inputNode.self.name}"`);
  return parts.join(' → ');
}
