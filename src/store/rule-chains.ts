// Rule chains: the imported chain document (JSON) with id, name and tenant. Exactly one root per
// tenant: the root is a pointer key, so setRoot moves it with one atomic write and `root` is derived
// when a chain is read.
import { casSet, getDocs } from './docs.js';
import { NotFoundError, StoreValidationError } from './errors.js';
import { idOf, newId, type IdOf } from './ids.js';
import { parseDoc, type JsonValue } from './json.js';
import type { StoreKeys } from './keys.js';
import { LuaScript } from './lua-script.js';
import { execAll, type RedisClient } from './redis-client.js';
import { retryStale, STALE } from './retry.js';

export type RuleChainType = 'CORE' | 'EDGE';

export interface RuleChainRecord {
  readonly id: IdOf<'RULE_CHAIN'>;
  readonly createdTime: number;
  readonly tenantId: IdOf<'TENANT'>;
  readonly name: string;
  readonly type: RuleChainType;
  /** Derived from the tenant's root pointer when read. */
  readonly root: boolean;
  /** The chain as imported ({ruleChain, metadata} or whatever the importer produced). */
  readonly document: JsonValue;
}

export interface RuleChainInput {
  readonly name: string;
  readonly document: JsonValue;
  readonly type?: RuleChainType;
  readonly root?: boolean;
  /** Keep an id (re-import, references from other chains); default: a new UUID. */
  readonly id?: string;
}

type StoredChain = Omit<RuleChainRecord, 'root'>;

// KEYS: doc, index, root pointer. ARGV: id, doc, createdTime, root ('1'/'0').
const CREATE = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
if ARGV[4] == '1' then redis.call('SET', KEYS[3], ARGV[1]) end
return 1`);

// KEYS: root pointer, doc. ARGV: id. Reply: previous root id ('' none) or false when missing.
const SET_ROOT = new LuaScript(`
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
local previous = redis.call('GET', KEYS[1]) or ''
redis.call('SET', KEYS[1], ARGV[1])
return previous`);

// KEYS: doc, index, root pointer. ARGV: id.
const DELETE = new LuaScript(`
if redis.call('GET', KEYS[3]) == ARGV[1] then return 'ROOT' end
if redis.call('DEL', KEYS[1]) == 0 then return 'MISSING' end
redis.call('ZREM', KEYS[2], ARGV[1])
return 'OK'`);

export class RuleChainRepository {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StoreKeys,
  ) {}

  async create(tenantId: string, input: RuleChainInput): Promise<RuleChainRecord> {
    const name = checkName(input.name);
    const stored: StoredChain = {
      id: input.id !== undefined ? idOf('RULE_CHAIN', input.id) : newId('RULE_CHAIN'),
      createdTime: Date.now(),
      tenantId: idOf('TENANT', tenantId),
      name,
      type: input.type ?? 'CORE',
      document: input.document,
    };
    const ok = await CREATE.run(
      this.redis,
      [this.keys.ruleChain(tenantId, stored.id.id), this.keys.ruleChains(tenantId), this.keys.rootRuleChain(tenantId)],
      [stored.id.id, JSON.stringify(stored), stored.createdTime, input.root === true ? '1' : '0'],
    );
    if (ok !== 1) throw new StoreValidationError(`rule chain ${stored.id.id} already exists`);
    return { ...stored, root: input.root === true };
  }

  async get(tenantId: string, chainId: string): Promise<RuleChainRecord | null> {
    const [doc, root] = (await execAll(
      this.redis.multi().get(this.keys.ruleChain(tenantId, chainId)).get(this.keys.rootRuleChain(tenantId)),
    )) as [string | null, string | null];
    return doc === null ? null : withRoot(parseDoc<StoredChain>(doc), root);
  }

  async getRoot(tenantId: string): Promise<RuleChainRecord | null> {
    const id = await this.redis.get(this.keys.rootRuleChain(tenantId));
    return id === null ? null : this.get(tenantId, id);
  }

  /** All chains of the tenant, oldest first. */
  async list(tenantId: string): Promise<RuleChainRecord[]> {
    const [ids, root] = (await execAll(
      this.redis.multi().zrange(this.keys.ruleChains(tenantId), 0, -1).get(this.keys.rootRuleChain(tenantId)),
    )) as [string[], string | null];
    const docs = await getDocs<StoredChain>(this.redis, ids.map((id) => this.keys.ruleChain(tenantId, id)));
    return docs.map((d) => withRoot(d, root));
  }

  /** Makes this chain the tenant's root; the previous root stops being root in the same write. */
  async setRoot(tenantId: string, chainId: string): Promise<RuleChainRecord> {
    const previous = await SET_ROOT.run(this.redis, [this.keys.rootRuleChain(tenantId), this.keys.ruleChain(tenantId, chainId)], [chainId]);
    const chain = previous === null ? null : await this.get(tenantId, chainId);
    if (chain === null) throw new NotFoundError('RULE_CHAIN', chainId);
    return chain;
  }

  async update(tenantId: string, chainId: string, patch: { name?: string; document?: JsonValue }): Promise<RuleChainRecord> {
    const key = this.keys.ruleChain(tenantId, chainId);
    await retryStale('update rule chain', async () => {
      const before = await this.redis.get(key);
      if (before === null) throw new NotFoundError('RULE_CHAIN', chainId);
      const cur = parseDoc<StoredChain>(before);
      const next: StoredChain = {
        ...cur,
        name: patch.name !== undefined ? checkName(patch.name) : cur.name,
        document: patch.document !== undefined ? patch.document : cur.document,
      };
      return (await casSet(this.redis, key, before, JSON.stringify(next))) ? true : STALE;
    });
    const chain = await this.get(tenantId, chainId);
    if (chain === null) throw new NotFoundError('RULE_CHAIN', chainId);
    return chain;
  }

  /** The root chain cannot be deleted (as in ThingsBoard). */
  async delete(tenantId: string, chainId: string): Promise<void> {
    const result = await DELETE.run(
      this.redis,
      [this.keys.ruleChain(tenantId, chainId), this.keys.ruleChains(tenantId), this.keys.rootRuleChain(tenantId)],
      [chainId],
    );
    if (result === 'ROOT') throw new StoreValidationError('Deletion of Root Tenant Rule Chain is prohibited!');
    if (result === 'MISSING') throw new NotFoundError('RULE_CHAIN', chainId);
  }
}

function withRoot(chain: StoredChain, rootId: string | null): RuleChainRecord {
  return { ...chain, root: chain.id.id === rootId };
}

function checkName(name: string): string {
  if (typeof name !== 'string' || name.trim() === '') throw new StoreValidationError('Rule chain name should be specified!');
  return name;
}
