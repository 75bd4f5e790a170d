// One two-way RPC traced in Redis: starts the system (as the RPC benchmark does) on a private
// redis-server with one MQTT device that answers, warms up, then prints every Redis command of a few
// RPCs (MONITOR, including those inside scripts), tagged with the connection's name, and the count
// per RPC. Shows where each Redis round trip of an RPC comes from.
//   node --import tsx scripts/bench/rpc-monitor.ts [--rpcs=3] [--quiet]
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { connectNoDelay, deviceToken, REPLY } from './rpc-devices.js';

const { values: opts } = parseArgs({ options: { rpcs: { type: 'string', default: '3' }, quiet: { type: 'boolean', default: false } } });
const RPCS = Number(opts.rpcs);

const pino = (await import('pino')).default;
const { startEmbeddedRedis } = await import('../../src/redis/embedded-redis.js');
const { startSystem } = await import('../../src/app/system.js');
const { DEFAULT_SETTINGS } = await import('../../src/config/settings.js');
const { SHIPPED_ROOT_CHAIN } = await import('../../src/app/demo.js');

const dir = await mkdtemp(join(tmpdir(), 'rpc-monitor-'));
const redis = await startEmbeddedRedis({ dataDir: dir, appendOnly: true });
const system = await startSystem(
  { ...DEFAULT_SETTINGS, httpPort: 0, mqttPort: 0, coapPort: 0, host: '127.0.0.1', logLevel: 'warn', demo: false },
  redis.url,
  pino({ level: 'warn' }, pino.destination(2)),
);
const { store, chains } = system;
const tenantId = (await store.tenants.create({ title: 'RPC monitor' })).id.id;
await store.deviceProfiles.create(tenantId, { name: 'default', default: true, defaultRuleChainId: null, defaultQueueName: null });
await chains.importChain(tenantId, JSON.parse(await readFile(SHIPPED_ROOT_CHAIN, 'utf8')) as unknown, { source: SHIPPED_ROOT_CHAIN, root: true });
await store.users.create({ email: 'm@rpc.example', authority: 'TENANT_ADMIN', tenantId, password: 'monitor-Pa55word' });
const device = await store.devices.create(tenantId, { name: 'mon-0', type: 'default' });
await store.credentials.save(tenantId, device.id.id, deviceToken(0));
const base = `http://127.0.0.1:${system.httpPort}`;
const login = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'm@rpc.example', password: 'monitor-Pa55word' }) });
const jwt = ((await login.json()) as { token: string }).token;
const client = await connectNoDelay(`mqtt://127.0.0.1:${system.mqttPort}`, { username: deviceToken(0), clientId: 'mon-dev-0' });
client.on('message', (topic) => void client.publish(topic.replace('/request/', '/response/'), REPLY, { qos: 1 }));
await client.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });

const call = async () => {
  const res = await fetch(`${base}/api/rpc/twoway/${device.id.id}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-authorization': `Bearer ${jwt}` }, body: JSON.stringify({ method: 'setValue', params: { pin: 7 }, timeout: 5000 }) });
  const text = await res.text();
  if (res.status !== 200 || text !== REPLY) throw new Error(`RPC: ${res.status} ${text}`);
};
for (let i = 0; i < 20; i++) await call();
await new Promise((r) => setTimeout(r, 300));

const admin = new Redis(redis.url);
const names = new Map<string, string>();
for (const line of String(await admin.client('LIST')).split('\n')) {
  const addr = /addr=(\S+)/.exec(line)?.[1];
  const name = /name=(\S*)/.exec(line)?.[1];
  if (addr) names.set(addr, name || '?');
}
const monitor = await admin.monitor();
const lines: string[] = [];
monitor.on('monitor', (_time: string, args: string[], source: string) => {
  const who = source.startsWith('lua') ? '  (lua)' : (names.get(source) ?? source);
  lines.push(`${who.padEnd(34).slice(0, 34)} ${args.map((a) => (a.length > 60 ? `${a.slice(0, 57)}...` : a)).join(' ')}`);
});
await new Promise((r) => setTimeout(r, 200));
const idle = lines.splice(0).length;
for (let i = 0; i < RPCS; i++) await call();
await new Promise((r) => setTimeout(r, 300));
const all = lines.splice(0);
const top = all.filter((l) => !l.startsWith('  (lua)')).length;
if (!opts.quiet) console.log(all.join('\n'));
const byWho = new Map<string, number>();
for (const l of all) if (!l.startsWith('  (lua)')) byWho.set(l.slice(0, 34).trim(), (byWho.get(l.slice(0, 34).trim()) ?? 0) + 1);
console.log(`\n${RPCS} RPCs: ${top} top-level commands (${(top / RPCS).toFixed(1)}/RPC), ${all.length} with those inside scripts (${(all.length / RPCS).toFixed(1)}/RPC); ${idle} in 200 ms idle before`);
for (const [who, n] of [...byWho].sort((a, b) => b[1] - a[1])) console.log(`  ${(n / RPCS).toFixed(1).padStart(6)}  ${who}`);
monitor.disconnect();
admin.disconnect();
client.end(true);
await system.stop();
await redis.stop();
await rm(dir, { recursive: true, force: true });
process.exit(0);
