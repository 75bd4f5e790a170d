// The scale-out scenarios (beyond-thingsboard #5), run by roles-redis.test.ts on one Redis and by
// roles-redis-cluster.test.ts on a 3-master Redis Cluster: API, transport and rule-engine roles as
// separate `rpc-chains start` processes (2 of each), with the REST caller, the chain and the device
// on different processes, then one process of each role SIGKILLed mid-load.
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { SHIPPED_ROOT_CHAIN } from '../../src/app/demo.js';
import { startRoleProcess, type RoleProcess } from '../../scripts/cluster/processes.js';
import type { Role } from '../../src/config/settings.js';
import { isCluster } from '../../src/redis/connection.js';
import { connectDevice, startScaleWorld, waitFor, type ScaleWorld, type TestDevice } from '../helpers/cluster-world.js';

export interface ScaleSuiteOptions {
  /** Starts the Redis (or Redis Cluster) the processes share. */
  readonly startRedis: () => Promise<{ readonly url: string; stop(): Promise<void> }>;
  /** Checks that only make sense on one Redis (CLIENT LIST of the whole deployment). */
  readonly single: boolean;
}

interface RpcRecord {
  readonly status: string;
  readonly response?: unknown;
}

const FINAL = new Set(['SUCCESSFUL', 'FAILED', 'EXPIRED', 'DELETED']);

export function scaleSuite(title: string, opts: ScaleSuiteOptions): void {
  describe(title, function () {
    this.timeout(60_000);
    let redis: { readonly url: string; stop(): Promise<void> };
    let w: ScaleWorld;
    const open: TestDevice[] = [];
    const device = async (transport: RoleProcess, index: number, behaviour?: Parameters<typeof connectDevice>[2]) => {
      const d = await connectDevice(transport, w.tokens[index], behaviour);
      open.push(d);
      await subscribedOn(index, transport);
      return d;
    };
    /** The device's RPC subscription is registered in Redis, on that transport. */
    const subscribedOn = (index: number, transport: RoleProcess) =>
      waitFor(`device ${index} subscribed on ${transport.name}`, async () => {
        const raw = await w.redis.hgetall(`${w.store.keys.prefix}:{sess:${w.deviceIds[index]}}:sessions`);
        return Object.values(raw).some((v) => {
          const loc = JSON.parse(v) as { serviceId: string; rpcSubscribed: boolean };
          return loc.serviceId === transport.serviceId && loc.rpcSubscribed;
        });
      });
    const twoway = (api: RoleProcess, index: number, body: Record<string, unknown>, timeoutMs?: number) =>
      w.rest(api, 'POST', `/api/rpc/twoway/${w.deviceIds[index]}`, body, timeoutMs === undefined ? {} : { timeoutMs });
    const rpcStatus = async (api: RoleProcess, rpcId: string) => (await w.rest(api, 'GET', `/api/rpc/persistent/${rpcId}`)).json as RpcRecord;

    before(async function () {
      this.timeout(90_000);
      const started = Date.now();
      redis = await opts.startRedis();
      w = await startScaleWorld({ redisUrl: redis.url, layout: { api: 2, transport: 2, ruleEngine: 2 } });
      process.stderr.write(`      (Redis and 6 role processes ready in ${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
    });
    after(async function () {
      this.timeout(30_000);
      await Promise.all(open.splice(0).map((d) => d.end()));
      await w?.close();
      await redis?.stop();
    });
    afterEach(async () => {
      await Promise.all(open.splice(0).map((d) => d.end()));
    });

    it('every process runs only its roles; each is registered on the service bus', async () => {
      const alive = await w.redis.zrangebyscore('rc-svc:services', Date.now(), '+inf');
      expect(alive).to.include.members(w.processes.map((p) => p.serviceId));
      for (const p of w.processes) {
        const health = await fetch(`http://${p.host}:${p.healthPort}/readyz`);
        expect(health.status, p.name).to.equal(200);
        const body = (await health.json()) as { checks: { roles: { detail: string } } };
        expect(body.checks.roles.detail, p.name).to.equal(p.roles.join(', '));
      }
      // A transport process without the api role serves the HTTP device API on its own HTTP port,
      // and no REST API there.
      const t2 = w.proc('transport-2');
      const unauth = await fetch(`http://${t2.host}:${t2.httpPort}/api/v1/NO_SUCH_TOKEN/telemetry`, { method: 'POST', body: '{"a":1}' });
      expect(unauth.status).to.equal(401);
      expect((await fetch(`http://${t2.host}:${t2.httpPort}/api/auth/user`)).status).to.equal(404);
      if (isCluster(w.redis)) {
        // The deployment's keys spread over every master: queue partitions ({rc-q-<p>}), service
        // inboxes, devices' RPC state and sessions each hash to their own slot.
        const masters = w.redis.nodes('master');
        expect(masters).to.have.length(3);
        for (const m of masters) {
          const [, queueKeys] = await m.scan('0', 'MATCH', '{rc-q-*', 'COUNT', 10_000);
          expect(await m.dbsize(), `keys on ${m.options.port}`).to.be.greaterThan(0);
          expect(queueKeys.length, `queue keys on ${m.options.port}`).to.be.greaterThan(0);
        }
      }
      if (opts.single) {
        // Only rule-engine processes hold BullMQ consumer connections (CLIENT LIST names them).
        const clients = String(await w.redis.call('CLIENT', 'LIST'));
        for (const p of w.processes) {
          const consumers = clients.split('\n').filter((l) => l.includes(`name=rc-consumer:${p.serviceId} `)).length;
          if (p.roles.includes('rule-engine')) expect(consumers, p.name).to.be.greaterThan(0);
          else expect(consumers, `${p.name} must not consume the rule-engine queues`).to.equal(0);
        }
      }
    });

    it('REST two-way on api-2 to an MQTT device on transport-1, run by a rule-engine process: the device reply', async () => {
      const d = await device(w.proc('transport-1'), 0, { answer: (method, params) => JSON.stringify({ method, echo: params }) });
      const res = await twoway(w.proc('api-2'), 0, { method: 'setGpio', params: { pin: 7, value: 1 } });
      expect([res.status, res.json]).to.deep.equal([200, { method: 'setGpio', echo: { pin: 7, value: 1 } }]);
      expect(d.commands.map((c) => c.method)).to.deep.equal(['setGpio']);
      // Every api × transport pair, several times, so that both rule-engine processes take part.
      const d2 = await device(w.proc('transport-2'), 1);
      const calls = [];
      for (let i = 0; i < 16; i++) calls.push(twoway(w.proc(i % 2 ? 'api-1' : 'api-2'), i % 4 < 2 ? 0 : 1, { method: `m${i}`, params: i }));
      const answers = await Promise.all(calls);
      expect(answers.map((a) => a.status)).to.deep.equal(Array(16).fill(200));
      expect(d.commands.length + d2.commands.length).to.equal(17);
    });

    it('HTTP device API on a transport-only process: a long poll gets the command from api-1, the reply reaches the caller', async () => {
      const t2 = w.proc('transport-2');
      const base = `http://${t2.host}:${t2.httpPort}/api/v1/${w.tokens[2]}`;
      const poll = fetch(`${base}/rpc?timeout=20000`);
      await subscribedOn(2, t2);
      const call = twoway(w.proc('api-1'), 2, { method: 'viaHttp', params: { a: 1 } });
      const polled = await poll;
      expect(polled.status).to.equal(200);
      const cmd = (await polled.json()) as { id: number; method: string };
      expect(cmd.method).to.equal('viaHttp');
      const posted = await fetch(`${base}/rpc/${cmd.id}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"http":true}' });
      expect(posted.status).to.equal(200);
      const res = await call;
      expect([res.status, res.json]).to.deep.equal([200, { http: true }]);
    });

    it('client-side RPC from a device on transport-2 is answered by the chain on a rule-engine process', async () => {
      const d = await device(w.proc('transport-2'), 3);
      const before = Date.now();
      const time = Number(await d.clientRpc('getCurrentTime', {}));
      expect(time).to.be.within(before - 1000, Date.now() + 1000);
      // Nobody in the chain answers this one: the device hears so at once (beyond #6), across processes.
      expect(JSON.parse(await d.clientRpc('noSuchMethod', {}))).to.deep.equal({ error: 'no reply from rule chain' });
    });

    it('persistent RPC: created on api-1 while the device is offline, delivered when it connects to transport-2, SUCCESSFUL as seen on api-2', async () => {
      const made = await twoway(w.proc('api-1'), 4, { method: 'later', params: { x: 1 }, persistent: true, timeout: 30_000 });
      expect(made.status, made.text).to.equal(200);
      const { rpcId } = made.json as { rpcId: string };
      expect((await rpcStatus(w.proc('api-2'), rpcId)).status).to.equal('QUEUED');
      await device(w.proc('transport-2'), 4, { answer: () => '{"done":1}' });
      await waitFor('SUCCESSFUL', async () => (await rpcStatus(w.proc('api-2'), rpcId)).status === 'SUCCESSFUL');
      expect((await rpcStatus(w.proc('api-1'), rpcId)).response).to.deep.equal({ done: 1 });
    });

    it('session takeover: the device connects to transport-2 while connected to transport-1; the old session is closed and commands reach the new one', async () => {
      const old = await device(w.proc('transport-1'), 5);
      const fresh = await connectDevice(w.proc('transport-2'), w.tokens[5]);
      open.push(fresh);
      await Promise.race([old.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('the old session was not closed')), 5000))]);
      await subscribedOn(5, w.proc('transport-2'));
      const res = await twoway(w.proc('api-1'), 5, { method: 'whoAmI', params: {} });
      expect(res.status).to.equal(200);
      expect(fresh.commands.map((c) => c.method)).to.deep.equal(['whoAmI']);
      expect(old.commands).to.have.length(0);
    });

    it('a chain imported on api-2 is run by every rule-engine process (the change is announced on the bus)', async () => {
      const d = await device(w.proc('transport-1'), 6);
      const doc = JSON.parse(await readFile(SHIPPED_ROOT_CHAIN, 'utf8')) as { metadata: { nodes: { name: string; configuration: { jsScript: string; tbelScript: string } }[] } };
      const node = doc.metadata.nodes.find((n) => n.name === 'Current time')!;
      node.configuration.jsScript = node.configuration.tbelScript = "return {msg: 'scale-marker', metadata: metadata, msgType: msgType};";
      const imported = await w.rest(w.proc('api-2'), 'POST', '/api/ruleChain/import?root=true', doc);
      expect(imported.status, imported.text).to.equal(200);
      try {
        // Ten in a row: messages of this device may go to either rule-engine process.
        let streak = 0;
        await waitFor('the new chain answering', async () => {
          streak = (await d.clientRpc('getCurrentTime', {})) === '"scale-marker"' ? streak + 1 : 0;
          return streak >= 10;
        }, 10_000, 0);
      } finally {
        const original = JSON.parse(await readFile(SHIPPED_ROOT_CHAIN, 'utf8')) as unknown;
        expect((await w.rest(w.proc('api-2'), 'POST', '/api/ruleChain/import?root=true', original)).status).to.equal(200);
        await waitFor('the shipped chain back', async () => (await d.clientRpc('getCurrentTime', {})) !== '"scale-marker"');
      }
    });

    it('SIGKILL of one process of each role mid-load: acknowledged telemetry and persistent RPCs survive, in-flight calls end with 504, devices move to the other transport', async function () {
      this.timeout(90_000);
      const [a1, a2, t1, t2] = ['api-1', 'api-2', 'transport-1', 'transport-2'].map((n) => w.proc(n));
      const loadDevices = [0, 1, 2, 3, 4, 5];
      const SLOW_ON_T1 = 6;
      const SLOW_ON_T2 = 7;
      // Load devices: 0..2 on transport-1, 3..5 on transport-2; those of transport-1 reconnect to transport-2 when it dies.
      const current = new Map<number, TestDevice>();
      let stopping = false;
      const reconnecting: Promise<void>[] = [];
      const attach = (index: number, d: TestDevice) => {
        current.set(index, d);
        void d.closed.then(() => {
          if (stopping || current.get(index) !== d) return;
          reconnecting.push(
            (async () => {
              for (let attempt = 0; attempt < 50 && !stopping; attempt++) {
                try {
                  attach(index, await device(t2, index));
                  return;
                } catch {
                  await new Promise((r) => setTimeout(r, 100));
                }
              }
            })(),
          );
        });
      };
      for (const i of loadDevices) attach(i, await device(i < 3 ? t1 : t2, i));
      // Devices that hold their reply for 4 s: their calls are in flight when the processes die.
      await device(t1, SLOW_ON_T1, { delayMs: 4000 });
      await device(t2, SLOW_ON_T2, { delayMs: 4000 });

      // Telemetry: QoS 1, each with its own ts; acknowledged = PUBACK received.
      const base = Date.now() - 3_600_000;
      const acked = new Map<number, number[]>(loadDevices.map((i) => [i, []]));
      let seq = 0;
      const telemetryLoop = async (i: number) => {
        while (!stopping) {
          const ts = base + seq++;
          try {
            await current.get(i)!.telemetry({ seq: ts - base }, ts, 3000);
            acked.get(i)!.push(ts);
          } catch {
            // not acknowledged: the transport died under it
          }
          await new Promise((r) => setTimeout(r, 40));
        }
      };
      // Lightweight two-way calls over both api processes; and persistent ones.
      const light: { api: string; status: number | string; ms: number }[] = [];
      const lightLoop = async (k: number) => {
        for (let n = 0; !stopping; n++) {
          const api = (k + n) % 2 ? a1 : a2;
          const started = Date.now();
          try {
            const res = await twoway(api, loadDevices[(k * 7 + n) % loadDevices.length], { method: 'load', params: n, timeout: 3000 }, 15_000);
            light.push({ api: api.name, status: res.status, ms: Date.now() - started });
          } catch (e) {
            light.push({ api: api.name, status: (e as Error).name === 'TimeoutError' ? 'hung' : 'connection lost', ms: Date.now() - started });
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      };
      const persistent: string[] = [];
      const persistentLoop = async () => {
        for (let n = 0; !stopping; n++) {
          const api = n % 2 ? a1 : a2;
          try {
            const res = await twoway(api, loadDevices[n % loadDevices.length], { method: 'keep', params: n, persistent: true, timeout: 8000 }, 15_000);
            if (res.status === 200) persistent.push((res.json as { rpcId: string }).rpcId);
          } catch {
            // api-1 died under the call: not acknowledged
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      const loops = [...loadDevices.map(telemetryLoop), ...[0, 1, 2, 3].map(lightLoop), persistentLoop()];

      await new Promise((r) => setTimeout(r, 1500));
      // In flight: each slow device got its command and holds the reply.
      const t0 = Date.now();
      const slowCalls = [SLOW_ON_T1, SLOW_ON_T2].map((i) => twoway(a2, i, { method: 'slow', params: {}, timeout: 5000 }, 20_000).then((res) => ({ res, ms: Date.now() - t0 })));
      let owner: string | null = null;
      await waitFor('the slow devices got their commands', async () => {
        owner = await w.rpcOwnerOf(w.deviceIds[SLOW_ON_T2]);
        return owner !== null && open.filter((d) => d.token === w.tokens[SLOW_ON_T1] || d.token === w.tokens[SLOW_ON_T2]).every((d) => d.commands.some((c) => c.method === 'slow'));
      });
      // The rule-engine process that owns the RPC of the slow device on transport-2 dies, with api-1 and transport-1.
      const re = w.processes.find((p) => p.serviceId === owner)!;
      expect(re?.roles, `owner ${owner}`).to.deep.equal(['rule-engine']);
      const survivor = w.processes.find((p) => p.roles.includes('rule-engine') && p !== re)!;
      await Promise.all([a1.kill(), t1.kill(), re.kill()]);
      const killedAt = Date.now();

      const slow = await Promise.all(slowCalls);
      for (const { res, ms } of slow) {
        expect(res.status, 'an in-flight call whose transport or RPC owner died').to.equal(504);
        expect(ms, 'answered at its timeout, not later').to.be.below(5000 + 3000);
      }
      await new Promise((r) => setTimeout(r, Math.max(0, killedAt + 3000 - Date.now())));
      stopping = true;
      await Promise.all(loops);
      await Promise.all(reconnecting);

      // Every lightweight call ended: api-2 answered 200 or 504; calls to the dead api-1 lost their connection. None hung.
      expect(light.filter((c) => c.status === 'hung'), 'hung calls').to.deep.equal([]);
      expect(light.filter((c) => c.api === 'api-2' && c.status !== 200 && c.status !== 504), 'api-2 answers').to.deep.equal([]);
      expect(light.filter((c) => c.status === 'connection lost' && c.api !== 'api-1')).to.deep.equal([]);
      expect(light.filter((c) => c.status === 200).length, 'calls answered').to.be.greaterThan(10);

      // Every acknowledged persistent RPC reaches a final status (recovered by the surviving processes).
      expect(persistent.length).to.be.greaterThan(5);
      const statuses = new Map<string, string>();
      await waitFor(
        'persistent RPCs final',
        async () => {
          for (const id of persistent.filter((x) => !FINAL.has(statuses.get(x) ?? ''))) statuses.set(id, (await rpcStatus(a2, id)).status);
          return persistent.every((id) => FINAL.has(statuses.get(id) ?? ''));
        },
        40_000,
        500,
      ).catch((e: Error) => {
        throw new Error(`${e.message}: ${JSON.stringify(Object.fromEntries(statuses))}`);
      });

      // Every acknowledged telemetry message is stored (packs held by the dead rule engine come back after their lock).
      const total = [...acked.values()].reduce((n, l) => n + l.length, 0);
      expect(total).to.be.greaterThan(50);
      const missing = new Map<number, number>();
      await waitFor(
        'acknowledged telemetry stored',
        async () => {
          for (const i of loadDevices) {
            const got = await w.store.timeseries.getHistory({ entityType: 'DEVICE', id: w.deviceIds[i] }, ['seq'], { startTs: base, endTs: base + seq + 1, limit: 100_000 });
            const stored = new Set((got.seq ?? []).map((e) => e.ts));
            missing.set(i, acked.get(i)!.filter((ts) => !stored.has(ts)).length);
          }
          return [...missing.values()].every((n) => n === 0);
        },
        40_000,
        500,
      ).catch((e: Error) => {
        throw new Error(`${e.message}: missing per device ${JSON.stringify(Object.fromEntries(missing))} of ${total}`);
      });

      // Afterwards the survivors serve everyone: a device that moved from transport-1 answers a call made on api-2
      // (once the dead owner's lease is taken over).
      await waitFor('a call to a moved device', async () => (await twoway(a2, 0, { method: 'after', params: {}, timeout: 2000 })).status === 200, 30_000, 200);
      process.stderr.write(
        `      (${total} telemetry acknowledged, all stored; ${persistent.length} persistent RPCs, all final: ${JSON.stringify(countBy([...statuses.values()]))}; ` +
          `lightweight calls: ${JSON.stringify(countBy(light.map((c) => `${c.api}:${c.status}`)))}; survivor ${survivor.name})\n`,
      );
    });

    it('the other subsets of roles join the deployment and serve: api+transport, transport+rule-engine, api+rule-engine', async function () {
      this.timeout(60_000);
      const start = (roles: Role[]) =>
        startRoleProcess({ redisUrl: w.redisUrl, name: roles.join('.'), roles, logLevel: 'error', env: { RPC_RECOVERY_INTERVAL_MS: '1000' } }).then((p) => {
          w.processes.push(p);
          return p;
        });
      const [apiTransport, transportRe, apiRe] = await Promise.all([start(['api', 'transport']), start(['transport', 'rule-engine']), start(['api', 'rule-engine'])]);
      // transport+rule-engine serves the HTTP device API on its HTTP port, and no REST API; api+transport serves both.
      expect((await fetch(`http://${transportRe.host}:${transportRe.httpPort}/api/auth/user`)).status).to.equal(404);
      expect((await fetch(`http://${apiTransport.host}:${apiTransport.httpPort}/api/auth/user`)).status).to.equal(401);
      for (const p of [apiTransport, transportRe]) {
        const posted = await fetch(`http://${p.host}:${p.httpPort}/api/v1/${w.tokens[1]}/telemetry`, { method: 'POST', body: JSON.stringify({ ts: 1000 + p.httpPort!, values: { via: p.name } }) });
        expect(posted.status, p.name).to.equal(200);
      }
      await waitFor('telemetry over HTTP stored', async () => {
        const got = await w.store.timeseries.getHistory({ entityType: 'DEVICE', id: w.deviceIds[1] }, ['via'], { startTs: 1000, endTs: 1000 + 65536 });
        return (got.via ?? []).length === 2;
      });
      // REST on api+rule-engine, device on transport+rule-engine.
      const d = await device(transportRe, 2);
      await waitFor('a call through the new processes', async () => (await twoway(apiRe, 2, { method: 'subset', params: {}, timeout: 2000 })).status === 200, 20_000, 200);
      expect(d.commands.some((c) => c.method === 'subset')).to.equal(true);
      expect(Number(await d.clientRpc('getCurrentTime', {}))).to.be.greaterThan(0);
    });
  });
}

function countBy(values: readonly (string | number)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[String(v)] = (out[String(v)] ?? 0) + 1;
  return out;
}
