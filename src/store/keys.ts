/**
 * Every Redis key of the store is built here.
 *
 * Shape: `<prefix>:{<tag>}:<rest>`. Redis Cluster hashes only the text between the first `{` and
 * the next `}`, so keys with the same tag live in the same slot. Each multi-key command, MULTI and
 * Lua script of the store touches keys of ONE tag only:
 *
 *   {g}              global catalogue: tenants (few, rarely written)
 *   {t:<tenantId>}   a tenant's catalogue: customers, users, devices (with their name indexes and
 *                    credentials record), device profiles, rule chains, relations, alarms. Uniqueness
 *                    per tenant and catalogue cascades are then single-slot transactions.
 *   {<TYPE>:<id>}    one entity's data: attributes, time series, debug/trace events. The write-heavy
 *                    data spreads over the cluster entity by entity; one save is one slot.
 *   {tok:<token>}    access-token index (global uniqueness + device snapshot for the hot path)
 *   {email:<email>}  user e-mail index (global uniqueness, lower-cased)
 *
 * Per-value tags keep the global indexes from piling onto one slot; each of those keys is only
 * written by single-key commands. Operations spanning two tags (credentials, users, device delete)
 * are ordered so that a crash between the steps leaves garbage, never a broken uniqueness.
 *
 * Dynamic parts are escaped (`%`, `{`, `}`, `:`), so no id, token, e-mail or key name can move a key
 * to another tag or forge another key.
 */
import type { EntityId } from '../msg/entity.js';

export const DEFAULT_KEY_PREFIX = 'rc';

const UNSAFE = /[%{}:]/g;
const ESCAPES: Record<string, string> = { '%': '%25', '{': '%7B', '}': '%7D', ':': '%3A' };

/** Escapes a dynamic key part. */
export function keyPart(value: string): string {
  return value.replace(UNSAFE, (c) => ESCAPES[c] ?? c);
}

/** The hash tag of a key as Redis Cluster sees it, or undefined when the key has none. */
export function hashTagOf(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open < 0) return undefined;
  const close = key.indexOf('}', open + 1);
  if (close <= open + 1) return undefined;
  return key.slice(open + 1, close);
}

export class StoreKeys {
  readonly prefix: string;

  constructor(prefix: string = DEFAULT_KEY_PREFIX) {
    // The prefix comes before the tag: braces or colons in it would change the tag.
    if (!/^[A-Za-z0-9_.-]+$/.test(prefix)) throw new Error(`invalid store key prefix "${prefix}"`);
    this.prefix = prefix;
  }

  // ---- {g}: global catalogue
  tenant(tenantId: string): string {
    return `${this.prefix}:{g}:tenant:${keyPart(tenantId)}`;
  }
  /** ZSET createdTime -> tenant id */
  tenants(): string {
    return `${this.prefix}:{g}:tenants`;
  }

  // ---- per-value global indexes
  /** HASH dev, ten, v (device version), doc (device JSON) */
  token(token: string): string {
    return `${this.prefix}:{tok:${keyPart(token)}}`;
  }
  /** HASH ten, user */
  email(email: string): string {
    return `${this.prefix}:{email:${keyPart(email.toLowerCase())}}`;
  }

  // ---- {t:<tenantId>}: tenant catalogue
  private t(tenantId: string): string {
    return `${this.prefix}:{t:${keyPart(tenantId)}}`;
  }
  private ent(entity: EntityId): string {
    return `${entity.entityType}:${keyPart(entity.id)}`;
  }

  customer(tenantId: string, id: string): string {
    return `${this.t(tenantId)}:customer:${keyPart(id)}`;
  }
  /** ZSET createdTime -> customer id */
  customers(tenantId: string): string {
    return `${this.t(tenantId)}:customers`;
  }
  /** HASH title -> customer id */
  customerTitles(tenantId: string): string {
    return `${this.t(tenantId)}:customers:title`;
  }
  /** ZSET device createdTime -> device id */
  customerDevices(tenantId: string, customerId: string): string {
    return `${this.t(tenantId)}:customer:${keyPart(customerId)}:devices`;
  }
  /** ZSET user createdTime -> user id */
  customerUsers(tenantId: string, customerId: string): string {
    return `${this.t(tenantId)}:customer:${keyPart(customerId)}:users`;
  }

  user(tenantId: string, id: string): string {
    return `${this.t(tenantId)}:user:${keyPart(id)}`;
  }
  /** STRING scrypt$N$r$p$salt$hash */
  userPassword(tenantId: string, id: string): string {
    return `${this.t(tenantId)}:user:${keyPart(id)}:password`;
  }
  /** ZSET createdTime -> user id */
  users(tenantId: string): string {
    return `${this.t(tenantId)}:users`;
  }

  device(tenantId: string, id: string): string {
    return `${this.t(tenantId)}:device:${keyPart(id)}`;
  }
  /** STRING DeviceCredentials JSON (the source of truth; the token index follows it) */
  deviceCredentials(tenantId: string, id: string): string {
    return `${this.t(tenantId)}:device:${keyPart(id)}:credentials`;
  }
  /** ZSET createdTime -> device id */
  devices(tenantId: string): string {
    return `${this.t(tenantId)}:devices`;
  }
  /** HASH exact name -> device id (uniqueness, find by name) */
  deviceNames(tenantId: string): string {
    return `${this.t(tenantId)}:devices:name`;
  }
  /** ZSET score 0, member `lower(name)\0id` (name order, text search) */
  devicesByName(tenantId: string): string {
    return `${this.t(tenantId)}:devices:lex`;
  }

  deviceProfile(tenantId: string, id: string): string {
    return `${this.t(tenantId)}:profile:${keyPart(id)}`;
  }
  /** ZSET createdTime -> profile id */
  deviceProfiles(tenantId: string): string {
    return `${this.t(tenantId)}:profiles`;
  }
  /** HASH name -> profile id */
  deviceProfileNames(tenantId: string): string {
    return `${this.t(tenantId)}:profiles:name`;
  }
  /** STRING id of the default profile */
  defaultDeviceProfile(tenantId: string): string {
    return `${this.t(tenantId)}:profiles:default`;
  }

  ruleChain(tenantId: string, id: string): string {
    return `${this.t(tenantId)}:chain:${keyPart(id)}`;
  }
  /** ZSET createdTime -> chain id */
  ruleChains(tenantId: string): string {
    return `${this.t(tenantId)}:chains`;
  }
  /** STRING id of the root chain */
  rootRuleChain(tenantId: string): string {
    return `${this.t(tenantId)}:chains:root`;
  }

  /** ZSET creation seq -> JSON [type, toType, toId] (relations going out of `from`) */
  relationsFrom(tenantId: string, typeGroup: string, from: EntityId): string {
    return `${this.t(tenantId)}:rel:${keyPart(typeGroup)}:from:${this.ent(from)}`;
  }
  /** ZSET creation seq -> JSON [type, fromType, fromId] (relations coming into `to`) */
  relationsTo(tenantId: string, typeGroup: string, to: EntityId): string {
    return `${this.t(tenantId)}:rel:${keyPart(typeGroup)}:to:${this.ent(to)}`;
  }
  /** HASH from-index member -> additionalInfo JSON */
  relationInfoFrom(tenantId: string, typeGroup: string, from: EntityId): string {
    return `${this.t(tenantId)}:rel:${keyPart(typeGroup)}:info:from:${this.ent(from)}`;
  }
  /** HASH to-index member -> additionalInfo JSON */
  relationInfoTo(tenantId: string, typeGroup: string, to: EntityId): string {
    return `${this.t(tenantId)}:rel:${keyPart(typeGroup)}:info:to:${this.ent(to)}`;
  }
  /** Counter giving relations their creation order */
  relationSeq(tenantId: string): string {
    return `${this.t(tenantId)}:rel:seq`;
  }

  alarm(tenantId: string, id: string): string {
    return `${this.t(tenantId)}:alarm:${keyPart(id)}`;
  }
  /** ZSET createdTime -> alarm id, per originator */
  originatorAlarms(tenantId: string, originator: EntityId): string {
    return `${this.t(tenantId)}:alarms:${this.ent(originator)}`;
  }
  /** HASH alarm type -> alarm JSON of the originator's uncleared alarm of that type */
  activeAlarms(tenantId: string, originator: EntityId): string {
    return `${this.t(tenantId)}:alarms:active:${this.ent(originator)}`;
  }

  // ---- {<TYPE>:<id>}: one entity's data
  private e(entity: EntityId): string {
    return `${this.prefix}:{${this.ent(entity)}}`;
  }
  /** HASH key -> `lastUpdateTs:json` */
  attributes(entity: EntityId, scope: string): string {
    return `${this.e(entity)}:attr:${keyPart(scope)}`;
  }
  /** HASH key -> `ts:json` */
  latest(entity: EntityId): string {
    return `${this.e(entity)}:ts:latest`;
  }
  /** SET of time-series keys that have history */
  timeseriesKeys(entity: EntityId): string {
    return `${this.e(entity)}:ts:keys`;
  }
  /** ZSET ts -> `ts:json` */
  timeseries(entity: EntityId, key: string): string {
    return `${this.e(entity)}:ts:h:${keyPart(key)}`;
  }
  /** ZSET expiry (ms) -> ts, for points saved with a TTL */
  timeseriesExpiry(entity: EntityId, key: string): string {
    return `${this.e(entity)}:ts:x:${keyPart(key)}`;
  }
  /** STREAM of events of one type */
  events(entity: EntityId, type: string): string {
    return `${this.e(entity)}:events:${keyPart(type)}`;
  }
}
