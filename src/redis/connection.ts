// ioredis connections, configured for what they are used for, to one Redis or to a Redis Cluster.
//
// REDIS_URL forms:
//   redis://[user:password@]host:port[/db]          one Redis (rediss:// with TLS)
//   redis-cluster://[user:password@]host:port,host:port,...   a Redis Cluster (rediss-cluster:// with TLS)
// The cluster form lists seed nodes (any masters or replicas; one is enough, more survive one being
// down); ioredis learns the rest with CLUSTER SLOTS. Credentials apply to every node; there is no db
// number on a cluster. Every multi-key command, MULTI and Lua script of rpc-chains touches keys of
// one hash tag, and every BullMQ prefix is hash-tagged (`{rc-q-<partition>}`), so the components run
// unchanged on a cluster.
import { Cluster, Redis, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisClient } from '../store/redis-client.js';

export type { RedisClient };

export type RedisRole = 'worker' | 'client';

export interface CreateRedisOptions {
  /**
   * worker: BullMQ workers and other blocking readers. BullMQ requires `maxRetriesPerRequest: null`
   * so that blocking commands wait through a Redis restart instead of failing.
   * client: producers, the store, the API. Fail fast: a command fails after one failed reconnect
   * attempt (about connectTimeout) instead of hanging a device or REST caller.
   */
  readonly role: RedisRole;
  /** Shows in CLIENT LIST, which helps when several processes share one Redis. */
  readonly connectionName?: string;
  /** Where connection errors go (default: stderr); an error repeated while reconnecting is logged once. */
  readonly logger?: { warn(text: string): void };
  /** Anything else, applied last (on a cluster: to every node's connection). */
  readonly overrides?: RedisOptions;
}

/** Where REDIS_URL points: one Redis (its URL as ioredis takes it), or the seed nodes of a cluster. */
export type RedisTarget =
  | { readonly kind: 'single'; readonly url: string }
  | {
      readonly kind: 'cluster';
      readonly nodes: readonly { readonly host: string; readonly port: number }[];
      readonly username?: string;
      readonly password?: string;
      readonly tls: boolean;
    };

const CLUSTER_URL = /^(rediss?)-cluster:\/\/(?:([^@/\s]*)@)?([^@/?#\s]+)\/?$/;

export function isClusterUrl(url: string): boolean {
  return /^rediss?-cluster:\/\//.test(url);
}

/** Reads REDIS_URL; throws TypeError naming what is wrong with a cluster form. */
export function parseRedisUrl(url: string): RedisTarget {
  if (!isClusterUrl(url)) return { kind: 'single', url };
  const m = CLUSTER_URL.exec(url);
  if (!m) throw new TypeError(`${redactUrl(url)}: a cluster URL is redis-cluster://[user:password@]host:port,host:port,... (no path or query)`);
  const [, scheme, auth, hostList] = m;
  const nodes = hostList.split(',').map((part) => {
    const node = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(part.trim());
    const port = node?.[3] === undefined ? 6379 : Number(node[3]);
    if (!node || port < 1 || port > 65535) throw new TypeError(`${redactUrl(url)}: "${part}" is not host:port`);
    return { host: node[1] ?? node[2], port };
  });
  let username: string | undefined;
  let password: string | undefined;
  if (auth !== undefined && auth !== '') {
    const colon = auth.indexOf(':');
    const user = decodeURIComponent(colon < 0 ? auth : auth.slice(0, colon));
    if (colon >= 0) password = decodeURIComponent(auth.slice(colon + 1));
    if (user !== '') username = user;
  }
  return {
    kind: 'cluster',
    nodes,
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    tls: scheme === 'rediss',
  };
}

function roleOptions(role: RedisRole): RedisOptions {
  return role === 'worker'
    ? { maxRetriesPerRequest: null }
    : {
        maxRetriesPerRequest: 1,
        // The offline queue stays on: commands issued while the first connection is being made
        // wait for it (a fresh process need not await 'ready'); during an outage
        // maxRetriesPerRequest flushes them with an error after one reconnect attempt.
        enableOfflineQueue: true,
        connectTimeout: 5000,
      };
}

// Keep reconnecting for ever, at most every 2 s: Redis coming back must heal every process.
const reconnectDelay = (times: number) => Math.min(times * 100, 2000);

/**
 * A connection for `url`: a `Redis`, or a `Cluster` for the cluster form. Both have the same
 * commands; code that needs the difference (SCAN per node, CLUSTER commands) asks {@link isCluster}.
 */
export function createRedisClient(url: string, opts: CreateRedisOptions): RedisClient {
  const target = parseRedisUrl(url);
  const byRole = roleOptions(opts.role);
  const named = opts.connectionName !== undefined ? { connectionName: opts.connectionName } : {};
  let client: RedisClient;
  if (target.kind === 'single') {
    client = new Redis(url, { ...byRole, retryStrategy: reconnectDelay, ...named, ...opts.overrides });
  } else {
    // The node connections take the role's options (BullMQ reads maxRetriesPerRequest there); the
    // cluster reconnects as a whole, so its retry strategy and offline queue are the cluster's.
    const { enableOfflineQueue, retryStrategy: _nodeRetry, ...nodeOptions } = { ...byRole, ...named, ...opts.overrides };
    const clusterOptions: ClusterOptions = {
      clusterRetryStrategy: reconnectDelay,
      enableOfflineQueue: enableOfflineQueue ?? true,
      redisOptions: {
        ...nodeOptions,
        ...(target.username !== undefined ? { username: target.username } : {}),
        ...(target.password !== undefined ? { password: target.password } : {}),
        ...(target.tls ? { tls: {} } : {}),
      },
    };
    const cluster = new Cluster(
      target.nodes.map((n): ClusterNode => ({ host: n.host, port: n.port })),
      clusterOptions,
    );
    // A cluster keeps commands in its own offline queue while it reconnects, for ever: a client
    // connection would then hang during an outage instead of failing fast. Once connected, the
    // client role turns that queue off, so commands fail at once while the cluster is down (as
    // maxRetriesPerRequest does on one Redis); the first connection is still waited for.
    if (opts.role === 'client' && enableOfflineQueue !== false && opts.overrides?.enableOfflineQueue === undefined) {
      cluster.once('ready', () => (cluster.options.enableOfflineQueue = false));
    }
    client = cluster;
  }
  // Without an 'error' listener ioredis prints "Unhandled error event" on every reconnect attempt.
  const log = opts.logger ?? { warn: (text: string) => console.error(text) };
  let last: string | undefined;
  client.on('error', (err: Error) => {
    if (err.message === last) return;
    last = err.message;
    log.warn(`redis ${redactUrl(url)} (${opts.role}): ${err.message}`);
  });
  client.on('ready', () => (last = undefined));
  return client;
}

/**
 * The same as {@link createRedisClient}, typed `Redis` for the components that declare `Redis`
 * (queue/, transport/session-registry). For a cluster URL the object is a `Cluster`: every command
 * those components send exists on both with the same signature (checked by
 * test/scale/*-cluster.test.ts running them on a 3-master cluster); what differs (`options`,
 * `status` values, `nodes()`) they do not use. New code should take `RedisClient`.
 */
export function createRedis(url: string, opts: CreateRedisOptions): Redis {
  return createRedisClient(url, opts) as Redis;
}

export function isCluster(client: RedisClient): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true;
}

/** The URL without its password, for logs. */
export function redactUrl(url: string): string {
  if (isClusterUrl(url)) return url.replace(/^([a-z-]+:\/\/[^:@/]*:)[^@/]*@/, '$1***@');
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '<redis url>';
  }
}
