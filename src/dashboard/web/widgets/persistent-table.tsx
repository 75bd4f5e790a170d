// The persistent RPCs of a device (GET /api/rpc/persistent/device/{id}): status filter, paging,
// statuses and responses updated live from the event stream, delete (tenant administrators).
import type { PageData, Rpc } from '../api.js';
import type { AppContext } from '../context.js';
import { fill, formatTime, h, shortJson, type Scope } from '../dom.js';
import { card } from './common.js';
import { ResultSlot } from './result.js';

// spec/rpc.md §6.1: the seven statuses the API filters on (DELETED is an event only).
export const RPC_STATUSES = ['QUEUED', 'SENT', 'DELIVERED', 'SUCCESSFUL', 'TIMEOUT', 'EXPIRED', 'FAILED'] as const;

const PAGE_SIZE = 10;

interface Row {
  rpc: Rpc;
  readonly tr: HTMLTableRowElement;
}

interface StatusChange {
  readonly rpcId: string;
  readonly status: string;
  readonly response: unknown;
  /** The whole entity, when the event has it: a new row needs no reload. */
  readonly rpc: Rpc | null;
}

export interface PersistentTable {
  readonly el: Element;
  refresh(): void;
}

export function persistentTable(ctx: AppContext, deviceId: string, scope: Scope): PersistentTable {
  const rows = new Map<string, Row>();
  const result = new ResultSlot();
  let page = 0;
  let status = '';
  let tbody!: HTMLTableSectionElement;
  let pager!: HTMLElement;
  let filter!: HTMLSelectElement;
  let loading = false;
  // Changes that arrive while a page loads are newer than what the load returns: applied after it.
  let buffered: StatusChange[] = [];
  // Statuses each RPC went through while shown (the badge's tooltip); survives reloads.
  const seen = new Map<string, string[]>();
  const see = (rpcId: string, st: string) => {
    const list = seen.get(rpcId) ?? [];
    if (list[list.length - 1] !== st && !list.includes(st)) list.push(st);
    seen.set(rpcId, list);
    return list;
  };
  let tbodyEmpty = true;
  const canDelete = ctx.session.isTenantAdmin;

  const load = async () => {
    loading = true;
    const r = await ctx.api.call<PageData<Rpc>>('GET', `/api/rpc/persistent/device/${encodeURIComponent(deviceId)}`, undefined, {
      query: { pageSize: PAGE_SIZE, page, rpcStatus: status || undefined, sortProperty: 'createdTime', sortOrder: 'DESC' },
    });
    loading = false;
    if (scope.disposed) return;
    const late = buffered;
    buffered = [];
    if (!r.ok || r.body === null) {
      result.show(r, { meaning: 'could not load the persistent RPCs' });
      return;
    }
    result.clear();
    const data = r.body;
    rows.clear();
    tbodyEmpty = data.data.length === 0;
    fill(
      tbody,
      data.data.length === 0 ? (
        <tr class="empty">
          <td colspan="8">{status ? `No ${status} RPCs.` : 'No persistent RPCs yet: send one from the console with "persistent".'}</td>
        </tr>
      ) : (
        data.data.map((rpc) => {
          const row = renderRow(rpc);
          rows.set(rpc.id.id, row);
          return row.tr;
        })
      ),
    );
    fill(
      pager,
      <button type="button" disabled={page === 0} onClick={() => go(page - 1)}>
        ‹ Newer
      </button>,
      <span class="muted">{`page ${page + 1} of ${Math.max(1, data.totalPages)} · ${data.totalElements} in all`}</span>,
      <button type="button" disabled={!data.hasNext} onClick={() => go(page + 1)}>
        Older ›
      </button>,
    );
    for (const change of late) apply(change);
  };
  // Soon, but not later and later: a burst of events must not keep postponing the load.
  let refreshTimer: number | undefined;
  const refresh = () => {
    if (refreshTimer !== undefined) return;
    refreshTimer = window.setTimeout(() => {
      refreshTimer = undefined;
      void load();
    }, 150);
  };
  scope.onDispose(() => window.clearTimeout(refreshTimer));
  const go = (p: number) => {
    page = p;
    void load();
  };

  const remove = async (rpcId: string) => {
    const r = await ctx.api.call('DELETE', `/api/rpc/persistent/${encodeURIComponent(rpcId)}`);
    result.show(r, { meaning: r.ok ? `deleted ${rpcId.slice(0, 8)}…` : 'delete failed' });
    if (r.ok) {
      rows.get(rpcId)?.tr.remove();
      rows.delete(rpcId);
      refresh();
    }
  };

  const renderRow = (rpc: Rpc): Row => {
    const tr = (<tr data-rpc-id={rpc.id.id}></tr>) as HTMLTableRowElement;
    const row: Row = { rpc, tr };
    see(rpc.id.id, rpc.status);
    drawRow(row);
    return row;
  };

  const drawRow = (row: Row) => {
    const { rpc } = row;
    const params = rpc.request.body.params;
    const response = rpc.response === null || rpc.response === undefined ? '' : JSON.stringify(rpc.response);
    fill(
      row.tr,
      <td data-label="Created">{formatTime(rpc.createdTime)}</td>,
      <td data-label="Method">
        <strong>{rpc.request.body.method}</strong>
      </td>,
      <td data-label="Params" title={params ?? ''}>
        <code>{shortJson(params ?? 'null', 40)}</code>
      </td>,
      <td data-label="Type">{rpc.request.oneway ? 'one-way' : 'two-way'}</td>,
      <td data-label="Status">
        <span class={`status-badge s-${rpc.status.toLowerCase()}`} data-status={rpc.status} data-seen={(seen.get(rpc.id.id) ?? []).join(' ')} title={(seen.get(rpc.id.id) ?? []).join(' → ')}>
          {rpc.status}
        </span>
      </td>,
      <td data-label="Response" class="response" title={response}>
        <code>{shortJson(response, 60)}</code>
      </td>,
      <td data-label="Expires">{formatTime(rpc.expirationTime)}</td>,
      <td data-label="" class="actions">
        {canDelete ? (
          <button type="button" class="danger small" aria-label={`Delete RPC ${rpc.id.id}`} onClick={() => void remove(rpc.id.id)}>
            Delete
          </button>
        ) : null}
      </td>,
    );
  };

  const apply = (ev: StatusChange) => {
    const row = rows.get(ev.rpcId);
    if (ev.status === 'DELETED') {
      row?.tr.remove();
      rows.delete(ev.rpcId);
      return;
    }
    if (row) {
      if (row.rpc.status === ev.status) return;
      row.rpc = { ...row.rpc, status: ev.status, response: ev.response ?? row.rpc.response };
      see(ev.rpcId, ev.status);
      drawRow(row);
      row.tr.classList.remove('flash');
      void row.tr.getBoundingClientRect(); // restart the animation
      row.tr.classList.add('flash');
    } else if (page === 0 && (status === '' || status === ev.status)) {
      if (ev.rpc && ev.rpc.id.id === ev.rpcId) {
        // New, newest first: on top at once; the reload after it fixes the counts.
        const fresh = renderRow({ ...ev.rpc, status: ev.status, response: ev.response ?? ev.rpc.response });
        rows.set(ev.rpcId, fresh);
        if (tbodyEmpty) tbody.replaceChildren();
        tbodyEmpty = false;
        tbody.prepend(fresh.tr);
      }
      refresh();
    }
  };

  scope.onDispose(
    ctx.live.on('rpc', (ev) => {
      if (ev.deviceId !== deviceId) return;
      const change: StatusChange = { rpcId: ev.rpcId, status: ev.status, response: ev.response, rpc: isRpc(ev.rpc) ? ev.rpc : null };
      if (loading) buffered.push(change);
      else apply(change);
    }),
  );

  const el = card(
    { widget: 'persistent', title: 'Persistent RPCs', subtitle: 'live status', wide: true },
    <div class="row">
      <label class="field small">
        <span class="label">Status</span>
        <select
          name="rpcStatus"
          ref={(s) => (filter = s as HTMLSelectElement)}
          onChange={() => {
            status = filter.value;
            page = 0;
            void load();
          }}
        >
          <option value="">all</option>
          {RPC_STATUSES.map((s) => (
            <option value={s}>{s}</option>
          ))}
        </select>
      </label>
      <button type="button" onClick={() => void load()}>
        Refresh
      </button>
    </div>,
    <div class="table-wrap">
      <table class="data rpc-table">
        <thead>
          <tr>
            <th>Created</th>
            <th>Method</th>
            <th>Params</th>
            <th>Type</th>
            <th>Status</th>
            <th>Response</th>
            <th>Expires</th>
            <th>
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody ref={(t) => (tbody = t as HTMLTableSectionElement)}></tbody>
      </table>
    </div>,
    <div class="pager" ref={(p) => (pager = p as HTMLElement)}></div>,
    result.el,
  );
  void load();
  return { el, refresh };
}

function isRpc(v: unknown): v is Rpc {
  const o = v as Partial<Rpc> | null;
  return typeof o === 'object' && o !== null && typeof o.id?.id === 'string' && typeof o.request?.body?.method === 'string' && typeof o.createdTime === 'number';
}
