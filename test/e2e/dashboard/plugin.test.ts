// The dashboard plugin without a browser: static files and their headers, the event stream's
// authentication, and which events reach whom.
import { expect } from 'chai';
import { ConnectionWatcher, toRpcStatusEvent } from '../../../src/dashboard/live-events.js';
import type { DashboardEvent } from '../../../src/dashboard/shared/events.js';
import { chainDoc } from '../../helpers/chain-builder.js';
import { PASSWORD, startDashboard, type DashboardFixture } from './harness.js';

interface SseClient {
  readonly events: DashboardEvent[];
  readonly status: number;
  waitFor(what: string, pred: (e: DashboardEvent) => boolean, timeoutMs?: number): Promise<DashboardEvent>;
  close(): void;
}

/** Reads an SSE response with fetch (Node has no EventSource). */
async function openSse(url: string): Promise<SseClient> {
  const abort = new AbortController();
  const res = await fetch(url, { signal: abort.signal });
  const events: DashboardEvent[] = [];
  const waiters: (() => void)[] = [];
  if (res.ok && res.body) {
    void (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let cut: number;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const data = frame
              .split('\n')
              .filter((l) => l.startsWith('data: '))
              .map((l) => l.slice(6))
              .join('\n');
            if (data !== '') events.push(JSON.parse(data) as DashboardEvent);
            for (const w of waiters.splice(0)) w();
          }
        }
      } catch {
        // aborted
      }
    })();
  }
  return {
    events,
    status: res.status,
    async waitFor(what, pred, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = events.find(pred);
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(events.map((e) => e.type))}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
    },
    close: () => abort.abort(),
  };
}

describe('dashboard plugin: static files and the live event stream', function () {
  this.timeout(30_000);
  let fx: DashboardFixture;
  let token: string;
  let otherToken: string;
  let customerToken: string;

  const login = async (email: string) => {
    const res = await fetch(`${fx.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: email, password: PASSWORD }) });
    return ((await res.json()) as { token: string }).token;
  };

  before(async () => {
    fx = await startDashboard();
    token = await login(fx.world.admin.email);
    otherToken = await login(fx.world.otherAdmin.email);
    customerToken = await login(fx.world.customerUser.email);
  });
  after(async () => fx?.close());

  it('serves the page at / with a strict CSP, hashed asset URLs, and 304 for an unchanged file', async () => {
    const res = await fetch(`${fx.url}/`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/text\/html/);
    expect(res.headers.get('content-security-policy')).to.include("script-src 'self'").and.include("default-src 'none'");
    expect(res.headers.get('x-content-type-options')).to.equal('nosniff');
    const html = await res.text();
    const js = /src="(\/dashboard\/app\.js\?v=[0-9a-f]{12})"/.exec(html)?.[1];
    const css = /href="(\/dashboard\/style\.css\?v=[0-9a-f]{12})"/.exec(html)?.[1];
    expect(js, html).to.be.a('string');
    expect(css, html).to.be.a('string');
    const script = await fetch(`${fx.url}${js}`);
    expect(script.status).to.equal(200);
    expect(script.headers.get('content-type')).to.match(/javascript/);
    expect((await script.text()).length).to.be.greaterThan(10_000);
    const etag = script.headers.get('etag') as string;
    const again = await fetch(`${fx.url}${js}`, { headers: { 'if-none-match': etag } });
    expect(again.status).to.equal(304);
    expect((await fetch(`${fx.url}${css}`)).headers.get('content-type')).to.match(/text\/css/);
  });

  it('serves nothing but its own files under /dashboard/', async () => {
    for (const path of ['/dashboard/..%2Fbuild.ts', '/dashboard/tsconfig.json', '/dashboard/main.tsx', '/dashboard/%2e%2e%2f%2e%2e%2fpackage.json']) {
      const res = await fetch(`${fx.url}${path}`);
      expect(res.status, path).to.equal(404);
    }
  });

  it('refuses the event stream without a valid token, with the API\'s 401 envelope', async () => {
    const none = await fetch(`${fx.url}/api/dashboard/events`);
    expect(none.status).to.equal(400);
    const bad = await fetch(`${fx.url}/api/dashboard/events?token=not.a.jwt`);
    expect(bad.status).to.equal(401);
    expect(await bad.json()).to.include({ status: 401, errorCode: 10 });
    const expired = await fx.jwt.accessToken(fx.world.admin, { expiresAt: Math.floor(Date.now() / 1000) - 10 });
    const old = await fetch(`${fx.url}/api/dashboard/events?token=${expired}`);
    expect(old.status).to.equal(401);
    expect(await old.json()).to.include({ errorCode: 11 });
  });

  it('says hello with the user and the streams; watches only the tenant\'s devices', async () => {
    const { boiler, otherDevice } = fx.world;
    const sse = await openSse(`${fx.url}/api/dashboard/events?token=${token}&devices=${boiler.id.id},${otherDevice.id.id},not-a-uuid!`);
    try {
      expect(sse.status).to.equal(200);
      const hello = await sse.waitFor('hello', (e) => e.type === 'hello');
      expect(hello).to.deep.include({ streams: { trace: true, rpc: true, connections: true }, watching: [boiler.id.id] });
      expect(hello.type === 'hello' && hello.user).to.include({ email: 'admin@acme.example', authority: 'TENANT_ADMIN', tenantId: fx.world.tenant.id.id });
      await sse.waitFor('initial state', (e) => e.type === 'connection' && e.deviceId === boiler.id.id && e.connected);
      await fx.disconnect(boiler);
      await sse.waitFor('offline', (e) => e.type === 'connection' && e.deviceId === boiler.id.id && !e.connected);
      await fx.connect(boiler);
      await sse.waitFor('online again', (e) => e.type === 'connection' && e.deviceId === boiler.id.id && e.connected && sse.events.indexOf(e) > 2);
      expect(sse.events.some((e) => e.type === 'connection' && e.deviceId === otherDevice.id.id)).to.equal(false);
    } finally {
      sse.close();
      if (!fx.simulator(boiler)) await fx.connect(boiler);
    }
  });

  it('streams trace steps of the user\'s own tenant only (and a customer user only their devices\')', async () => {
    const { tenant, otherTenant, boiler, sensors, otherDevice } = fx.world;
    const doc = chainDoc('Trace me', [{ type: 'org.thingsboard.rule.engine.filter.TbMsgTypeSwitchNode', name: 'Switch' }], []);
    const mine = await fx.chains.importChain(tenant.id.id, { ...doc, ruleChain: { ...doc.ruleChain, name: 'Mine' } }, { root: true });
    const theirs = await fx.chains.importChain(otherTenant.id.id, { ...doc, ruleChain: { ...doc.ruleChain, name: 'Theirs' } }, { root: true });
    const admin = await openSse(`${fx.url}/api/dashboard/events?token=${token}&trace=*`);
    const other = await openSse(`${fx.url}/api/dashboard/events?token=${otherToken}&trace=*`);
    const customer = await openSse(`${fx.url}/api/dashboard/events?token=${customerToken}&trace=*`);
    const oneDevice = await openSse(`${fx.url}/api/dashboard/events?token=${token}&trace=${sensors[0].id.id}`);
    const noTrace = await openSse(`${fx.url}/api/dashboard/events?token=${token}`);
    const all = [admin, other, customer, oneDevice, noTrace];
    try {
      await Promise.all(all.map((s) => s.waitFor('hello', (e) => e.type === 'hello')));
      await fx.deviceMessage(sensors[0], 'POST_TELEMETRY_REQUEST', { t: 1 });
      await fx.deviceMessage(boiler, 'POST_TELEMETRY_REQUEST', { t: 2 });
      await fx.deviceMessage(otherDevice, 'POST_TELEMETRY_REQUEST', { t: 3 });
      const step = await admin.waitFor('own trace', (e) => e.type === 'trace' && e.step.originatorId === boiler.id.id);
      expect(step.type === 'trace' && step.step).to.include({ chainId: mine.id.id, nodeName: 'Switch', msgType: 'POST_TELEMETRY_REQUEST' });
      await admin.waitFor('sensor trace', (e) => e.type === 'trace' && e.step.originatorId === sensors[0].id.id);
      await other.waitFor('their trace', (e) => e.type === 'trace' && e.step.chainId === theirs.id.id);
      await customer.waitFor('customer trace', (e) => e.type === 'trace' && e.step.originatorId === boiler.id.id);
      await new Promise((r) => setTimeout(r, 200));
      expect(admin.events.filter((e) => e.type === 'trace').map((e) => e.type === 'trace' && e.step.chainId)).to.not.include(theirs.id.id);
      expect(other.events.filter((e) => e.type === 'trace').map((e) => e.type === 'trace' && e.step.chainId)).to.not.include(mine.id.id);
      // The customer's user sees their Boiler, not the tenant's unassigned sensor.
      expect(customer.events.some((e) => e.type === 'trace' && e.step.originatorId === sensors[0].id.id)).to.equal(false);
      // Steps of one device when asked so; none when not asked.
      await oneDevice.waitFor('sensor trace', (e) => e.type === 'trace' && e.step.originatorId === sensors[0].id.id);
      expect(oneDevice.events.filter((e) => e.type === 'trace').every((e) => e.type === 'trace' && e.step.originatorId === sensors[0].id.id)).to.equal(true);
      expect(noTrace.events.some((e) => e.type === 'trace')).to.equal(false);
    } finally {
      for (const s of all) s.close();
      // Back to the shipped root chain, which the RPC test needs.
      const shipped = (await fx.store.ruleChains.list(tenant.id.id)).find((c) => c.name === 'Root Rule Chain');
      if (shipped) await fx.chains.setRoot(tenant.id.id, shipped.id.id);
    }
  });

  it('streams the status changes of a persistent RPC to its tenant only', async () => {
    const { boiler } = fx.world;
    const admin = await openSse(`${fx.url}/api/dashboard/events?token=${token}`);
    const other = await openSse(`${fx.url}/api/dashboard/events?token=${otherToken}`);
    try {
      await Promise.all([admin, other].map((s) => s.waitFor('hello', (e) => e.type === 'hello')));
      const res = await fetch(`${fx.url}/api/rpc/twoway/${boiler.id.id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-authorization': `Bearer ${token}` },
        body: JSON.stringify({ method: 'getValue', params: {}, persistent: true }),
      });
      expect(res.status).to.equal(200);
      const { rpcId } = (await res.json()) as { rpcId: string };
      await admin.waitFor('queued', (e) => e.type === 'rpc' && e.rpcId === rpcId && e.status === 'QUEUED');
      const done = await admin.waitFor('successful', (e) => e.type === 'rpc' && e.rpcId === rpcId && e.status === 'SUCCESSFUL');
      expect(done).to.deep.include({ deviceId: boiler.id.id, response: false });
      expect(done.type === 'rpc' && (done.rpc as { request?: { body?: { method?: string } } }).request?.body?.method).to.equal('getValue');
      const statuses = admin.events.flatMap((e) => (e.type === 'rpc' && e.rpcId === rpcId ? [e.status] : []));
      // A reply may overtake the PUBACK, so DELIVERED may be skipped (spec/rpc.md §6.2).
      expect(statuses.join(' ')).to.match(/^QUEUED SENT (DELIVERED )?SUCCESSFUL$/);
      await new Promise((r) => setTimeout(r, 150));
      expect(other.events.some((e) => e.type === 'rpc')).to.equal(false);
    } finally {
      admin.close();
      other.close();
    }
  });

  it('lets app.close() finish while streams are open', async () => {
    const extra = await startDashboard({ shippedRoot: false });
    const t = await (async () => {
      const res = await fetch(`${extra.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: extra.world.admin.email, password: PASSWORD }) });
      return ((await res.json()) as { token: string }).token;
    })();
    const sse = await openSse(`${extra.url}/api/dashboard/events?token=${t}`);
    await sse.waitFor('hello', (e) => e.type === 'hello');
    const started = Date.now();
    await extra.close();
    expect(Date.now() - started).to.be.lessThan(5000);
    sse.close();
  });
});

describe('dashboard live events: pieces', () => {
  it('reads RPC status events from the entity, an RPC_* message, or {rpc}', () => {
    const rpc = { id: { id: 'r1' }, deviceId: { id: 'd1' }, tenantId: { id: 't1' }, status: 'SENT', response: null, request: { oneway: true } };
    expect(toRpcStatusEvent(rpc)).to.deep.include({ rpcId: 'r1', deviceId: 'd1', status: 'SENT', tenantId: 't1' });
    expect(toRpcStatusEvent({ type: 'RPC_DELIVERED', data: JSON.stringify(rpc) })).to.deep.include({ status: 'SENT' });
    expect(toRpcStatusEvent({ type: 'RPC_DELETED', data: { id: { id: 'r1' }, deviceId: { id: 'd1' } } })).to.deep.include({ status: 'DELETED', rpcId: 'r1' });
    expect(toRpcStatusEvent({ rpc, status: 'FAILED' })).to.deep.include({ status: 'FAILED' });
    expect(toRpcStatusEvent({ type: 'RPC_SENT', data: 'not json' })).to.equal(null);
    expect(toRpcStatusEvent('text')).to.equal(null);
    expect(toRpcStatusEvent({ id: 'x' })).to.equal(null);
  });

  it('polls each watched device once per interval whatever the number of watchers, and stops when nobody watches', async () => {
    let polls = 0;
    let connected = false;
    const w = new ConnectionWatcher({ isConnected: async () => (polls++, connected) }, 20);
    const seen: boolean[] = [];
    const sub = w.changes$.subscribe((e) => seen.push(e.connected));
    const a = w.watch(['d1']);
    const b = w.watch(['d1']);
    await new Promise((r) => setTimeout(r, 70));
    connected = true;
    await new Promise((r) => setTimeout(r, 70));
    a();
    b();
    const after = polls;
    await new Promise((r) => setTimeout(r, 70));
    expect(polls).to.equal(after);
    expect(polls).to.be.within(4, 9);
    expect(seen).to.deep.equal([false, true]);
    sub.unsubscribe();
    w.close();
  });

  it('does not pile up polls behind a slow store', async () => {
    let inFlight = 0;
    let most = 0;
    const w = new ConnectionWatcher(
      {
        isConnected: async () => {
          most = Math.max(most, ++inFlight);
          await new Promise((r) => setTimeout(r, 60));
          inFlight--;
          return true;
        },
      },
      10,
    );
    const stop = w.watch(['d1']);
    await new Promise((r) => setTimeout(r, 150));
    stop();
    w.close();
    expect(most).to.equal(1);
  });
});
