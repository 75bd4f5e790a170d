// Devices: the tenant's (or the customer's) devices with search and paging, live connection
// state, a form to create one, and each one's access token on request.
import type { Device, PageData } from '../api.js';
import type { AppContext } from '../context.js';
import { debounce, fill, formatTime, h, Scope } from '../dom.js';
import { ResultSlot } from '../widgets/result.js';

const PAGE_SIZES = [10, 20, 50];

export function devicesPath(ctx: AppContext): string {
  const user = ctx.session.user;
  return user && ctx.session.isCustomerUser ? `/api/customer/${user.customerId.id}/devices` : '/api/tenant/devices';
}

/** A dot for a device's connection state, kept current from the event stream. */
export function connectionDot(ctx: AppContext, deviceId: string, scope: Scope, withText = false): Element {
  const el = (<span class="conn" data-device={deviceId}></span>);
  const draw = (connected: boolean | undefined) => {
    const state = connected === undefined ? 'unknown' : connected ? 'online' : 'offline';
    el.setAttribute('data-state', state);
    el.setAttribute('title', connected === undefined ? 'connection state not known (yet)' : state);
    el.textContent = withText ? (connected === undefined ? 'unknown' : state) : '';
    if (!withText) el.setAttribute('aria-label', state);
  };
  draw(ctx.live.connected.get(deviceId));
  scope.onDispose(ctx.live.on('connection', (e) => e.deviceId === deviceId && draw(e.connected)));
  return el;
}

/** Shows a device's access token (GET /api/device/{id}/credentials) in `slot`. */
export async function showToken(ctx: AppContext, deviceId: string, slot: Element): Promise<void> {
  fill(slot, <span class="muted">loading…</span>);
  const r = await ctx.api.call<{ credentialsType: string; credentialsId: string }>('GET', `/api/device/${encodeURIComponent(deviceId)}/credentials`);
  if (!r.ok || r.body === null) {
    fill(slot, <span class="bad">{`Could not read the token (${r.status}${r.error ? `: ${r.error}` : ''})`}</span>);
    return;
  }
  const token = r.body.credentialsId;
  fill(
    slot,
    <span class="token-box">
      <span class="muted">{`${r.body.credentialsType}:`}</span> <code class="token">{token}</code>
      <button
        type="button"
        class="small"
        onClick={(e) => {
          const button = e.currentTarget as HTMLButtonElement;
          navigator.clipboard?.writeText(token).then(
            () => (button.textContent = 'Copied'),
            () => (button.textContent = 'Copy failed: select it'),
          );
        }}
      >
        Copy
      </button>
    </span>,
  );
}

export function devicesPage(ctx: AppContext, scope: Scope): Element {
  let page = 0;
  let pageSize = PAGE_SIZES[0] as number;
  let textSearch = '';
  let unwatch: () => void = () => {};
  scope.onDispose(() => unwatch());
  // Rows are rebuilt on every load; their listeners live in a scope of their own.
  let rowScope: Scope | null = null;
  scope.onDispose(() => rowScope?.dispose());

  let list!: HTMLElement;
  let pager!: HTMLElement;
  let search!: HTMLInputElement;
  const status = new ResultSlot();

  const load = async () => {
    const r = await ctx.api.call<PageData<Device>>('GET', devicesPath(ctx), undefined, {
      query: { pageSize, page, textSearch: textSearch || undefined, sortProperty: 'createdTime', sortOrder: 'DESC' },
    });
    if (scope.disposed) return;
    if (!r.ok || r.body === null) {
      status.show(r, { meaning: 'could not load the devices' });
      return;
    }
    status.clear();
    const data = r.body;
    rowScope?.dispose();
    const rows = new Scope();
    rowScope = rows;
    unwatch();
    unwatch = ctx.live.watch(data.data.map((d) => d.id.id));
    fill(
      list,
      data.data.length === 0 ? (
        <p class="muted empty">{textSearch ? `No device matches "${textSearch}".` : 'No devices yet.'}</p>
      ) : (
        data.data.map((d) => {
          const tokenSlot = (<div class="token-slot"></div>);
          return (
            <article class="device-row" data-device-id={d.id.id} data-device-name={d.name}>
              {connectionDot(ctx, d.id.id, rows)}
              <div class="device-main">
                <a class="device-name" href={`#/devices/${d.id.id}`}>
                  {d.name}
                </a>
                <span class="muted">
                  {d.type}
                  {d.label ? ` · ${d.label}` : ''}
                  {` · created ${formatTime(d.createdTime)}`}
                </span>
                {tokenSlot}
              </div>
              <div class="device-actions">
                <button type="button" class="small" onClick={() => void showToken(ctx, d.id.id, tokenSlot)}>
                  Access token
                </button>
                <a class="button small primary" href={`#/devices/${d.id.id}`}>
                  RPC widgets
                </a>
              </div>
            </article>
          );
        })
      ),
    );
    fill(
      pager,
      <button type="button" disabled={page === 0} onClick={() => go(page - 1)}>
        ‹ Previous
      </button>,
      <span class="muted">{`page ${page + 1} of ${Math.max(1, data.totalPages)} · ${data.totalElements} devices`}</span>,
      <button type="button" disabled={!data.hasNext} onClick={() => go(page + 1)}>
        Next ›
      </button>,
      <label class="inline">
        <span class="muted">per page</span>
        <select
          name="pageSize"
          onChange={(e) => {
            pageSize = Number((e.currentTarget as HTMLSelectElement).value);
            go(0);
          }}
        >
          {PAGE_SIZES.map((n) => (
            <option value={String(n)} selected={n === pageSize}>
              {String(n)}
            </option>
          ))}
        </select>
      </label>,
    );
  };
  const go = (p: number) => {
    page = p;
    void load();
  };
  const onSearch = debounce(() => {
    textSearch = search.value.trim();
    go(0);
  }, 250);

  const createForm = ctx.session.isTenantAdmin ? createDeviceForm(ctx, () => go(0)) : null;

  const el = (
    <div class="page devices-page">
      <div class="page-head">
        <h2>Devices</h2>
        <input
          type="search"
          name="search"
          class="search"
          placeholder="Search by name"
          aria-label="Search devices"
          ref={(i) => (search = i as HTMLInputElement)}
          onInput={() => onSearch()}
        />
      </div>
      {createForm}
      {status.el}
      <div class="device-list" ref={(l) => (list = l as HTMLElement)}>
        <p class="muted">Loading…</p>
      </div>
      <div class="pager" ref={(p) => (pager = p as HTMLElement)}></div>
    </div>
  );
  void load();
  return el;
}

function createDeviceForm(ctx: AppContext, onCreated: () => void): Element {
  let name!: HTMLInputElement;
  let type!: HTMLInputElement;
  let label!: HTMLInputElement;
  let error!: HTMLElement;
  const created = (<div class="created" aria-live="polite"></div>);
  const result = new ResultSlot();

  const submit = async () => {
    error.textContent = '';
    if (name.value.trim() === '') {
      error.textContent = 'A name is needed.';
      name.focus();
      return;
    }
    result.pending('creating');
    const body: Record<string, unknown> = { name: name.value.trim() };
    if (type.value.trim() !== '') body.type = type.value.trim();
    if (label.value.trim() !== '') body.label = label.value.trim();
    const r = await ctx.api.call<Device>('POST', '/api/device', body);
    if (!r.ok || r.body === null) {
      result.show(r, { meaning: 'not created' });
      return;
    }
    result.clear();
    const device = r.body;
    const tokenSlot = (<div class="token-slot"></div>);
    fill(
      created,
      <p class="notice">
        {'Created '}
        <a href={`#/devices/${device.id.id}`}>{device.name}</a>
        {'.'}
      </p>,
      tokenSlot,
    );
    void showToken(ctx, device.id.id, tokenSlot);
    name.value = '';
    label.value = '';
    onCreated();
  };

  return (
    <details class="card create-device">
      <summary>Add device</summary>
      <form
        novalidate
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <div class="row">
          <label class="field grow">
            <span class="label">Name</span>
            <input name="name" required autocomplete="off" ref={(i) => (name = i as HTMLInputElement)} />
          </label>
          <label class="field">
            <span class="label">Profile (type)</span>
            <input name="type" placeholder="default" autocomplete="off" ref={(i) => (type = i as HTMLInputElement)} />
          </label>
          <label class="field">
            <span class="label">Label</span>
            <input name="label" autocomplete="off" ref={(i) => (label = i as HTMLInputElement)} />
          </label>
          <button type="submit" class="primary">
            Create
          </button>
        </div>
        <p class="form-error" role="alert" ref={(p) => (error = p as HTMLElement)}></p>
      </form>
      {result.el}
      {created}
    </details>
  );
}
