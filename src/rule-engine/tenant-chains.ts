import type { Logger } from 'pino';
import { ChainImportError, formatIssue, type ImportedChain, type ImportIssue } from '../engine/importer/chain-model.js';
import { importChain } from '../engine/importer/import-chain.js';
import { linkChains } from '../engine/importer/link-chains.js';
import type { NodeRegistry } from '../engine/registry.js';
import type { ChainRuntime } from '../engine/runtime.js';
import { isPlainObject } from '../msg/tb-msg.js';
import type { JsonValue } from '../store/json.js';
import type { RuleChainRecord } from '../store/rule-chains.js';
import type { Store } from '../store/store.js';

/**
 * The rule chains of each tenant: stored in Redis as imported documents, loaded into the
 * runtime with their stored ids (so node ids, and messages queued to resume after a node,
 * stay valid across restarts), the tenant's root chain set as its entry point.
 */
export class TenantChains {
  /** The chains this process loaded per tenant: a reload unloads those no longer stored. */
  private readonly loaded = new Map<string, Set<string>>();
  /** The last (re)load or unload of each tenant: they run one at a time, or a stale list could unload a newer chain. */
  private readonly busy = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: Store,
    private readonly runtime: ChainRuntime,
    private readonly registry: NodeRegistry,
    private readonly logger: Pick<Logger, 'info' | 'warn'>,
  ) {}

  /**
   * Checks a rule-chain document as the runtime would run it (import, links, node creation),
   * stores it and loads it. Throws ChainImportError with every problem; stores nothing then.
   */
  async importChain(tenantId: string, doc: unknown, opts: { source?: string; root?: boolean } = {}): Promise<RuleChainRecord> {
    const source = opts.source ?? 'request body';
    const imported = importChain(doc, { source, registry: this.registry });
    if (!imported.ok) throw new ChainImportError(imported.issues);
    const known = await this.loadedOf(tenantId);
    const linked = linkChains([imported.chain], { known });
    if (linked.issues.length > 0) throw new ChainImportError(linked.issues);
    // Try the nodes before storing anything: a script that does not compile is an import error.
    this.runtime.load(linked.chains);
    await this.runtime.unload(imported.chain.id);
    const record = await this.store.ruleChains.create(tenantId, {
      id: imported.chain.id,
      name: imported.chain.name,
      type: imported.chain.type,
      root: opts.root ?? false,
      document: linkedDocument(doc, linked.chains[0]),
    });
    await this.loadTenant(tenantId);
    return record;
  }

  async setRoot(tenantId: string, chainId: string): Promise<RuleChainRecord> {
    const record = await this.store.ruleChains.setRoot(tenantId, chainId);
    this.runtime.setRootChain(chainId, tenantId);
    return record;
  }

  /**
   * (Re)loads every stored chain of a tenant, and unloads the ones no longer stored (a deleted
   * tenant's: all of them). A chain that no longer imports is skipped with its errors logged.
   */
  loadTenant(tenantId: string): Promise<ImportIssue[]> {
    return this.oneAtATime(tenantId, () => this.reload(tenantId));
  }

  /**
   * Unloads every chain of a tenant from this process's runtime (the tenant was deleted), with
   * their nodes (timers, script sandboxes, connections). Other processes do it when told that the
   * tenant's chains changed: their reload finds none stored.
   */
  unloadTenant(tenantId: string): Promise<void> {
    return this.oneAtATime(tenantId, async () => {
      await this.unloadAllBut(tenantId, new Set());
      this.loaded.delete(tenantId);
    });
  }

  isLoaded(tenantId: string): boolean {
    return this.loaded.has(tenantId);
  }

  /** Tenants with chains loaded here, and how many. */
  loadedTenants(): ReadonlyMap<string, number> {
    return new Map([...this.loaded].map(([tenantId, ids]) => [tenantId, ids.size]));
  }

  private async reload(tenantId: string): Promise<ImportIssue[]> {
    const records = await this.store.ruleChains.list(tenantId);
    const issues: ImportIssue[] = [];
    const chains: ImportedChain[] = [];
    for (const record of records) {
      const r = importChain(record.document, { source: `rule chain "${record.name}" (${record.id.id})`, registry: this.registry, chainId: record.id.id });
      if (r.ok) chains.push(r.chain);
      else issues.push(...r.issues);
    }
    const linked = linkChains(chains);
    issues.push(...linked.issues);
    const bad = new Set(linked.issues.map((i) => i.source));
    for (const chain of linked.chains.filter((c) => !bad.has(c.source))) {
      try {
        this.runtime.load([chain]);
      } catch (e) {
        if (!(e instanceof ChainImportError)) throw e;
        issues.push(...e.issues);
      }
    }
    const root = records.find((r) => r.root);
    if (root && this.runtime.hasChain(root.id.id)) this.runtime.setRootChain(root.id.id, tenantId);
    const stored = new Set(records.map((r) => r.id.id).filter((id) => this.runtime.hasChain(id)));
    await this.unloadAllBut(tenantId, stored);
    if (stored.size > 0) this.loaded.set(tenantId, stored);
    else this.loaded.delete(tenantId);
    for (const issue of issues) this.logger.warn(`tenant ${tenantId}: not loaded: ${formatIssue(issue)}`);
    this.logger.info(`tenant ${tenantId}: ${records.length - new Set(issues.map((i) => i.source)).size} rule chain(s) loaded`);
    return issues;
  }

  /** Loads the chains of every tenant. */
  async loadAll(): Promise<void> {
    for (let page = 0; ; page++) {
      const tenants = await this.store.tenants.list({ pageSize: 100, page });
      for (const t of tenants.data) await this.loadTenant(t.id.id);
      if (!tenants.hasNext) break;
    }
  }

  private async unloadAllBut(tenantId: string, keep: ReadonlySet<string>): Promise<void> {
    for (const id of this.loaded.get(tenantId) ?? []) if (!keep.has(id)) await this.runtime.unload(id);
  }

  private oneAtATime<T>(tenantId: string, work: () => Promise<T>): Promise<T> {
    const run = (this.busy.get(tenantId) ?? Promise.resolve()).then(work, work);
    const settled = run.catch(() => undefined);
    this.busy.set(tenantId, settled);
    // Forget the tenant once idle: deleted tenants must not stay in this map either.
    void settled.then(() => {
      if (this.busy.get(tenantId) === settled) this.busy.delete(tenantId);
    });
    return run;
  }

  private async loadedOf(tenantId: string): Promise<ImportedChain[]> {
    const records = await this.store.ruleChains.list(tenantId);
    return records.flatMap((record) => {
      const r = importChain(record.document, { source: record.name, registry: this.registry, chainId: record.id.id });
      return r.ok ? [r.chain] : [];
    });
  }
}

/** The document to store: as given, with rule chain nodes pointing at the ids they were linked to here. */
function linkedDocument(doc: unknown, chain: ImportedChain): JsonValue {
  const copy = structuredClone(doc) as JsonValue;
  const metadata = isPlainObject(copy) ? ((copy.metadata ?? copy.metaData ?? copy) as JsonValue) : null;
  if (!isPlainObject(metadata)) return copy;
  const nodes = Array.isArray(metadata.nodes) ? metadata.nodes : [];
  const legacy = Array.isArray(metadata.ruleChainConnections) ? metadata.ruleChainConnections : [];
  for (const node of chain.nodes) {
    if (node.type !== 'org.thingsboard.rule.engine.flow.TbRuleChainInputNode') continue;
    const target = node.configuration.ruleChainId;
    if (node.index < nodes.length) {
      const raw = nodes[node.index];
      if (isPlainObject(raw)) raw.configuration = { ...(isPlainObject(raw.configuration) ? raw.configuration : {}), ruleChainId: target as JsonValue };
    } else {
      const rcc = legacy[node.index - nodes.length];
      if (isPlainObject(rcc) && isPlainObject(rcc.targetRuleChainId)) rcc.targetRuleChainId = { ...rcc.targetRuleChainId, id: target as JsonValue };
    }
  }
  return copy;
}
