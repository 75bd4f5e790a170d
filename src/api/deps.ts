// What the REST API is built from. Everything it touches comes in here, so a test builds the app
// from a real Store on a throw-away Redis and the composition root wires the same thing for real.
import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify';
import type { TbMsg } from '../msg/tb-msg.js';
import type { KvValue } from '../store/kv.js';
import type { Store } from '../store/store.js';
import type { TenantChains } from '../rule-engine/tenant-chains.js';
import type { ApiSettings } from './api-settings.js';
import type { JwtService } from './auth/jwt.js';

/** A plugin added to the app by another component (RPC routes, HTTP device API). */
export interface ApiPlugin {
  readonly plugin: FastifyPluginAsync;
  /** Shown in start-up errors. */
  readonly name?: string;
}

export interface ApiDeps {
  readonly store: Store;
  /** unloadTenant: a deleted tenant's chains leave the runtime of every process. */
  readonly chains: Pick<TenantChains, 'importChain' | 'setRoot' | 'unloadTenant'>;
  readonly jwt: JwtService;
  /** Durable enqueue onto the rule-engine queues (entity events, attribute updates, alarm actions). */
  readonly toRuleEngine: (msg: TbMsg) => Promise<void>;
  readonly logger: FastifyBaseLogger;
  /** Defaults: DEFAULT_API_SETTINGS. */
  readonly settings?: Partial<ApiSettings>;
  /** Registered after the API's own routes, each in its own encapsulated context. */
  readonly plugins?: readonly ApiPlugin[];
  /** A device's shared attributes were saved through the API (the transports push them to sessions). */
  readonly onSharedAttributesChanged?: (tenantId: string, deviceId: string, values: Readonly<Record<string, KvValue>>) => void | Promise<void>;
  /** A device's shared attributes were deleted through the API. */
  readonly onSharedAttributesDeleted?: (tenantId: string, deviceId: string, keys: readonly string[]) => void | Promise<void>;
  /** A rule-chain document imported as root chain of every tenant created through the API (ThingsBoard's "Root Rule Chain"). */
  readonly defaultRootChain?: unknown;
}
