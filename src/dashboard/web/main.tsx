// The dashboard's entry: sign-in state, the header, and a hash router (#/devices, #/devices/{id},
// #/chains, #/chains/{id}, #/trace) so the server serves one page and knows no client routes.
import type { User } from './api.js';
import { createApi, NULL_UUID, Session, type AppContext } from './context.js';
import { fill, h, Scope } from './dom.js';
import { LiveEvents, type LiveState } from './live.js';
import { chainPage, chainsPage } from './pages/chains.js';
import { devicePage } from './pages/device.js';
import { devicesPage } from './pages/devices.js';
import { loginPage } from './pages/login.js';
import { tracePage } from './pages/trace.js';

const root = document.getElementById('app') as HTMLElement;
const session = new Session();
const live = new LiveEvents();
let expiredNotice: string | undefined;

const api = createApi(session, (message) => {
  // The token expired or the server forgot it: back to the sign-in page, saying why.
  if (session.token === null) return;
  session.signOut();
  live.stop();
  expiredNotice = `Signed out: ${message}`;
  navigate('#/login');
});

const toasts = (<div class="toasts" aria-live="polite"></div>);
const ctx: AppContext = {
  api,
  live,
  session,
  navigate,
  toast(text, kind = 'info') {
    const t = (
      <div class={`toast ${kind}`} role="status" title="click to close" onClick={() => t.remove()}>
        {text}
      </div>
    );
    toasts.append(t);
    // A few at a time: older ones make room rather than cover the page.
    while (toasts.childElementCount > 2) toasts.firstElementChild?.remove();
    window.setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
  },
};

function navigate(hash: string): void {
  if (location.hash === hash) void route();
  else location.hash = hash;
}

let pageScope = new Scope();

async function loadUser(): Promise<boolean> {
  const r = await api.call<User>('GET', '/api/auth/user');
  if (!r.ok || r.body === null) {
    session.signOut();
    return false;
  }
  session.user = r.body;
  const u = r.body;
  // The tenant's (or customer's) title for the header; the id when the API does not say.
  const named =
    u.authority === 'TENANT_ADMIN'
      ? await api.call<{ title: string }>('GET', `/api/tenant/${u.tenantId.id}`)
      : u.authority === 'CUSTOMER_USER' && u.customerId.id !== NULL_UUID
        ? await api.call<{ title: string }>('GET', `/api/customer/${u.customerId.id}`)
        : null;
  session.tenantName = named?.ok && named.body ? named.body.title : null;
  return true;
}

function header(): Element {
  const u = session.user;
  const liveDot = (<span class="live-dot" title="live events"></span>);
  const off = live.onState((s: LiveState) => {
    liveDot.setAttribute('data-state', s);
    liveDot.setAttribute('title', `live events: ${s}`);
  });
  pageScope.onDispose(off);
  const current = location.hash.split('?')[0] ?? '';
  const link = (href: string, text: string) => (
    <a href={href} class={current.startsWith(href) ? 'active' : ''} aria-current={current.startsWith(href) ? 'page' : undefined}>
      {text}
    </a>
  );
  return (
    <header class="top">
      <a class="brand" href="#/devices">
        rpc-chains
      </a>
      <nav>
        {link('#/devices', 'Devices')}
        {session.isTenantAdmin ? link('#/chains', 'Rule chains') : null}
        {session.isTenantAdmin ? link('#/trace', 'Trace') : null}
      </nav>
      <div class="who" data-authority={u?.authority ?? ''}>
        {liveDot}
        <span class="user-email">{u?.email ?? ''}</span>
        <span class="badge role">{u?.authority ?? ''}</span>
        <span class="tenant" title={u ? `tenant ${u.tenantId.id}` : ''}>
          {session.tenantName ?? (u ? `tenant ${u.tenantId.id.slice(0, 8)}…` : '')}
        </span>
        <button
          type="button"
          class="link"
          onClick={() => {
            session.signOut();
            live.stop();
            navigate('#/login');
          }}
        >
          Sign out
        </button>
      </div>
    </header>
  );
}

async function route(): Promise<void> {
  pageScope.dispose();
  pageScope = new Scope();
  const scope = pageScope;
  const [path = '', queryText = ''] = location.hash.replace(/^#/, '').split('?');
  const query = new URLSearchParams(queryText);
  const parts = path.split('/').filter(Boolean);

  if (session.token === null || parts[0] === 'login') {
    if (session.token !== null) {
      session.signOut();
      live.stop();
    }
    fill(
      root,
      loginPage(
        ctx,
        async () => {
          expiredNotice = undefined;
          await start();
          navigate('#/devices');
        },
        expiredNotice,
      ),
      toasts,
    );
    return;
  }
  if (session.user === null) {
    if (!(await loadUser())) {
      navigate('#/login');
      return;
    }
    live.start(session.token);
    if (scope.disposed) return;
  }
  let page: Element;
  if (session.user?.authority === 'SYS_ADMIN') {
    page = (
      <div class="page">
        <p class="notice">A system administrator has no devices or rule chains. Sign in as a tenant administrator or a customer user.</p>
      </div>
    );
  } else if (parts[0] === 'devices' && parts[1]) page = devicePage(ctx, scope, parts[1]);
  else if (parts[0] === 'chains' && parts[1]) page = chainPage(ctx, scope, parts[1]);
  else if (parts[0] === 'chains') page = chainsPage(ctx, scope);
  else if (parts[0] === 'trace') page = tracePage(ctx, scope, query);
  else {
    if (parts[0] !== 'devices') history.replaceState(null, '', '#/devices');
    page = devicesPage(ctx, scope);
  }
  fill(root, header(), <main class="content">{page}</main>, toasts);
  document.title = `${document.querySelector('main h2')?.textContent ?? 'Dashboard'} · rpc-chains`;
}

async function start(): Promise<void> {
  if (await loadUser()) live.start(session.token as string);
}

window.addEventListener('hashchange', () => void route());
void route();
