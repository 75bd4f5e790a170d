// The store facade: every repository over one connection and one key builder.
import { AlarmRepository } from './alarms.js';
import { AttributeRepository } from './attributes.js';
import { CustomerRepository } from './customers.js';
import { DeviceCredentialsRepository } from './device-credentials.js';
import { DeviceProfileRepository } from './device-profiles.js';
import { DeviceRepository } from './devices.js';
import { DEFAULT_MAX_EVENTS_PER_ENTITY, EventRepository } from './events.js';
import { DEFAULT_KEY_PREFIX, StoreKeys } from './keys.js';
import type { RedisClient } from './redis-client.js';
import { uncachedDocs, type DocReader } from './tracked-doc-cache.js';
import { RelationRepository } from './relations.js';
import { RuleChainRepository } from './rule-chains.js';
import { TenantRepository } from './tenants.js';
import { TimeseriesRepository } from './timeseries.js';
import { UserRepository } from './users.js';

export interface StoreOptions {
  /** Key prefix, default `rc` (several deployments can share one Redis). */
  readonly prefix?: string;
  /** Debug/trace events kept per entity and type, default 1000. */
  readonly maxEventsPerEntity?: number;
  /** Reads users and devices by id (every REST call does); default: straight from `redis`. */
  readonly docReader?: DocReader;
}

export class Store {
  readonly keys: StoreKeys;
  readonly tenants: TenantRepository;
  readonly customers: CustomerRepository;
  readonly users: UserRepository;
  readonly devices: DeviceRepository;
  readonly credentials: DeviceCredentialsRepository;
  readonly deviceProfiles: DeviceProfileRepository;
  readonly relations: RelationRepository;
  readonly attributes: AttributeRepository;
  readonly timeseries: TimeseriesRepository;
  readonly alarms: AlarmRepository;
  readonly ruleChains: RuleChainRepository;
  readonly events: EventRepository;

  constructor(
    readonly redis: RedisClient,
    opts: StoreOptions = {},
  ) {
    const keys = (this.keys = new StoreKeys(opts.prefix ?? DEFAULT_KEY_PREFIX));
    const docs = opts.docReader ?? uncachedDocs(redis);
    this.tenants = new TenantRepository(redis, keys);
    this.customers = new CustomerRepository(redis, keys);
    this.users = new UserRepository(redis, keys, docs);
    this.credentials = new DeviceCredentialsRepository(redis, keys);
    this.deviceProfiles = new DeviceProfileRepository(redis, keys);
    this.relations = new RelationRepository(redis, keys);
    this.attributes = new AttributeRepository(redis, keys);
    this.timeseries = new TimeseriesRepository(redis, keys);
    this.alarms = new AlarmRepository(redis, keys);
    this.ruleChains = new RuleChainRepository(redis, keys);
    this.events = new EventRepository(redis, keys, opts.maxEventsPerEntity ?? DEFAULT_MAX_EVENTS_PER_ENTITY);
    this.devices = new DeviceRepository(
      redis,
      keys,
      {
        relations: this.relations,
        attributes: this.attributes,
        timeseries: this.timeseries,
        events: this.events,
        alarms: this.alarms,
      },
      docs,
    );
  }
}
