// What the scenarios work on: one tenant with a tenant administrator, a default device profile, a
// root rule chain, and devices with access tokens. Made through the system's own Store and chain
// importer (a short-lived in-process system without roles), before the processes under test start,
// so that their rule engines load the chain at start.
import { readFile } from 'node:fs/promises';
import pino from 'pino';
import { SHIPPED_ROOT_CHAIN } from '../../../src/app/demo.js';
import { startSystem, type RunningSystem } from '../../../src/app/system.js';
import { DEFAULT_SETTINGS } from '../../../src/config/settings.js';

export const PASSWORD = 'Reliability-Pa55';

export interface WorldDevice {
  readonly id: string;
  readonly name: string;
  readonly token: string;
}

export interface World {
  readonly tenantId: string;
  readonly adminEmail: string;
  readonly devices: readonly WorldDevice[];
}

export interface WorldOptions {
  readonly devices: number;
  /** The root chain document; default the shipped root chain (telemetry, attributes, both RPC nodes). */
  readonly rootChain?: unknown;
  /** Prefix of device names and tokens. */
  readonly prefix?: string;
}

/** The shipped root chain with its Save Timeseries node given a TTL (seconds): bounded Redis for soaks. */
export async function shippedRootChain(ttlSeconds = 0): Promise<unknown> {
  const doc = JSON.parse(await readFile(SHIPPED_ROOT_CHAIN, 'utf8')) as { metadata: { nodes: { type: string; configuration: Record<string, unknown> }[] } };
  for (const n of doc.metadata.nodes) {
    if (n.type.endsWith('.TbMsgTimeseriesNode')) n.configuration = { ...n.configuration, defaultTTL: ttlSeconds };
  }
  return doc;
}

/** Seeds through a system started in this process (no roles) on `redisUrl`, then stops it. */
export async function seedWorld(redisUrl: string, opts: WorldOptions): Promise<World> {
  const system = await startSystem({ ...DEFAULT_SETTINGS, roles: [], demo: false, serviceId: `seed-${process.pid}-${Date.now() % 100000}` }, redisUrl, pino({ level: 'silent' }));
  try {
    return await seedInto(system, opts);
  } finally {
    await system.stop();
  }
}

/** Seeds into a running system (in-process scenarios). */
export async function seedInto(system: RunningSystem, opts: WorldOptions): Promise<World> {
  const { store } = system;
  const prefix = opts.prefix ?? 'rel';
  const tenant = await store.tenants.create({ title: `${prefix} tenant` });
  const tenantId = tenant.id.id;
  await store.deviceProfiles.create(tenantId, { name: 'default', default: true });
  const adminEmail = `admin-${prefix}-${tenantId.slice(0, 8)}@reliability.example`;
  await store.users.create({ email: adminEmail, authority: 'TENANT_ADMIN', tenantId, password: PASSWORD });
  const devices: WorldDevice[] = [];
  for (let i = 0; i < opts.devices; i++) {
    const name = `${prefix}-device-${i}`;
    const d = await store.devices.create(tenantId, { name, type: 'default' });
    const token = `${prefix.toUpperCase()}_${tenantId.slice(0, 8)}_${i}`;
    await store.credentials.save(tenantId, d.id.id, token);
    devices.push({ id: d.id.id, name, token });
  }
  await system.chains.importChain(tenantId, opts.rootChain ?? (await shippedRootChain()), { source: 'reliability root chain', root: true });
  return { tenantId, adminEmail, devices };
}
