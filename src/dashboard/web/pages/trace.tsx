// Live trace: the recent messages of a device walking through the rule chains. Each walk is drawn
// over the chain picture (nodes passed, connections taken, time per node, errors in red) and
// listed step by step.
import type { Device, PageData, RuleChain } from '../api.js';
import type { AppContext } from '../context.js';
import { fill, formatClock, h, type Scope } from '../dom.js';
import type { TraceStep } from '../../shared/events.js';
import { modelOf, type ChainModel } from '../chain/model.js';
import { chainPicture, legend, zoomable, type NodeMark } from '../chain/picture.js';
import { devicesPath } from './devices.js';

/** Steps closer than this to a walk's last step belong to it (fan-out copies get new message ids). */
const WALK_GAP_MS = 300;
const MAX_WALKS = 30;
const MAX_STEPS = 500;

interface Walk {
  readonly id: number;
  readonly msgIds: Set<string>;
  readonly steps: TraceStep[];
  readonly originatorId: string;
  last: number;
}

interface LoadedChain {
  readonly name: string;
  readonly model: ChainModel;
  indexOf(step: TraceStep): number | undefined;
}

export function tracePage(ctx: AppContext, scope: Scope, query: URLSearchParams): Element {
  let deviceId = query.get('device') ?? '';
  let chainId = query.get('chain') ?? '';
  const walks: Walk[] = [];
  let selected: Walk | null = null;
  let follow = true;
  let nextId = 1;
  const chains = new Map<string, Promise<LoadedChain | null>>();
  // Each chain's first node: a message seen there under a new id is a new message, not a fan-out copy.
  const firstNodes = new Set<string>();
  const knownChains = new Set<string>();
  let chainList: Promise<void> | null = null;
  const loadChainList = () =>
    (chainList ??= (async () => {
      const r = await ctx.api.call<PageData<RuleChain & { firstRuleNodeId?: { id: string } | null }>>('GET', '/api/ruleChains', undefined, { query: { pageSize: 1000, page: 0 } });
      for (const c of r.body?.data ?? []) {
        knownChains.add(c.id.id);
        if (c.firstRuleNodeId) firstNodes.add(c.firstRuleNodeId.id);
      }
    })().finally(() => (chainList = null)));
  const deviceNames = new Map<string, string>();

  let deviceSelect!: HTMLSelectElement;
  let followBox!: HTMLInputElement;
  const hint = (<p class="hint" aria-live="polite"></p>);
  const walkList = (<ol class="walks" aria-label="Recent messages"></ol>);
  const pictures = (<div class="trace-pictures"></div>);
  const steps = (<div class="trace-steps"></div>);

  const loadChain = (id: string): Promise<LoadedChain | null> => {
    let p = chains.get(id);
    if (!p) {
      p = (async () => {
        const [c, m] = await Promise.all([ctx.api.call<RuleChain>('GET', `/api/ruleChain/${id}`), ctx.api.call('GET', `/api/ruleChain/${id}/metadata`)]);
        if (!m.ok) return null;
        const model = modelOf(m.body);
        const byId = new Map(model.nodes.filter((n) => n.id !== null).map((n) => [n.id as string, n.index]));
        const byName = new Map(model.nodes.map((n) => [`${n.name}|${n.type}`, n.index]));
        return {
          name: c.body?.name ?? id,
          model,
          indexOf: (s: TraceStep) => byId.get(s.nodeId) ?? byName.get(`${s.nodeName}|${s.nodeType}`),
        };
      })();
      chains.set(id, p);
    }
    return p;
  };

  const updateHint = () => {
    const hello = ctx.live.hello;
    if (hello && !hello.streams.trace) hint.textContent = 'This server does not stream trace events (the dashboard plugin got no trace$).';
    else if (walks.length === 0)
      hint.textContent = `Waiting for messages${deviceId ? ` from ${deviceNames.get(deviceId) ?? deviceId}` : ''}… The rule engine traces only with TRACE=true.`;
    else hint.textContent = '';
  };

  const add = (step: TraceStep) => {
    if (deviceId !== '' && step.originatorId !== deviceId) return;
    if (!knownChains.has(step.chainId)) void loadChainList();
    let walk = walks.find((w) => w.msgIds.has(step.msgId));
    if (!walk) {
      const recent = walks.find((w) => w.originatorId === step.originatorId && step.ts - w.last <= WALK_GAP_MS);
      const entersChain = recent?.steps.some((s) => s.relations.includes('(enter chain)')) ?? false;
      if (recent && (!firstNodes.has(step.nodeId) || entersChain)) walk = recent;
    }
    if (!walk) {
      walk = { id: nextId++, msgIds: new Set(), steps: [], originatorId: step.originatorId, last: step.ts };
      walks.unshift(walk);
      if (walks.length > MAX_WALKS) walks.pop();
      if (follow) selected = walk;
    }
    walk.msgIds.add(step.msgId);
    if (walk.steps.length < MAX_STEPS) walk.steps.push(step);
    walk.last = Math.max(walk.last, step.ts);
    scheduleRender();
  };

  let frame = 0;
  const scheduleRender = () => {
    if (frame !== 0) return;
    // Steps arrive in bursts: draw once per frame.
    frame = requestAnimationFrame(() => {
      frame = 0;
      renderList();
      void renderSelected();
    });
  };
  scope.onDispose(() => cancelAnimationFrame(frame));

  const renderList = () => {
    updateHint();
    fill(
      walkList,
      walks.map((w) => {
        const first = w.steps[0];
        const failed = w.steps.some((s) => s.error !== undefined);
        const total = w.steps.reduce((sum, s) => sum + s.durationMs, 0);
        return (
          <li>
            <button
              type="button"
              class={`walk${w === selected ? ' selected' : ''}${failed ? ' failed' : ''}`}
              data-walk={String(w.id)}
              aria-pressed={String(w === selected)}
              onClick={() => {
                selected = w;
                follow = false;
                followBox.checked = false;
                renderList();
                void renderSelected();
              }}
            >
              <span class="when">{first ? formatClock(first.ts) : ''}</span>
              <strong>{first?.msgType ?? ''}</strong>
              <span class="muted">{`${w.steps.length} steps · ${total.toFixed(2)} ms${deviceId === '' ? ` · ${deviceNames.get(w.originatorId) ?? w.originatorId.slice(0, 8)}` : ''}`}</span>
              {failed ? <span class="badge bad">error</span> : null}
            </button>
          </li>
        );
      }),
    );
  };

  let renderSeq = 0;
  const renderSelected = async () => {
    const seq = ++renderSeq;
    const walk = selected;
    if (!walk) {
      // Nothing traced yet: the chain asked for, else the root chain, without marks.
      const id = chainId || (await rootChainId());
      if (seq !== renderSeq || scope.disposed) return;
      const chain = id ? await loadChain(id) : null;
      if (seq !== renderSeq || scope.disposed) return;
      fill(pictures, chain ? drawChain(chain, id, null) : <p class="muted">No rule chain to show.</p>);
      fill(steps);
      return;
    }
    const chainIds = [...new Set(walk.steps.map((s) => s.chainId))];
    const loaded = await Promise.all(chainIds.map((id) => loadChain(id)));
    if (seq !== renderSeq || scope.disposed) return;
    fill(
      pictures,
      chainIds.map((id, i) => {
        const chain = loaded[i];
        return chain ? drawChain(chain, id, walk) : <p class="bad">{`Rule chain ${id} could not be loaded.`}</p>;
      }),
    );
    fill(steps, stepTable(walk));
  };

  const drawChain = (chain: LoadedChain, id: string, walk: Walk | null): Element => {
    let nodeMarks = new Map<number, NodeMark>();
    let edges = new Set<string>();
    if (walk) {
      const mine = walk.steps.filter((s) => s.chainId === id);
      const marks = new Map<number, { ms: number; count: number; error?: string }>();
      const visits: { index: number; step: TraceStep }[] = [];
      for (const s of mine) {
        const index = chain.indexOf(s);
        if (index === undefined) continue;
        visits.push({ index, step: s });
        const m = marks.get(index) ?? { ms: 0, count: 0 };
        m.ms += s.durationMs;
        m.count++;
        if (s.error !== undefined) m.error = s.error;
        marks.set(index, m);
      }
      // A connection was taken when its source emitted its relation and its target ran later.
      edges = new Set<string>();
      for (const v of visits) {
        const rels = new Set(v.step.relations.map((r) => r.toLowerCase()));
        for (const c of chain.model.connections) {
          if (c.from !== v.index || !rels.has(c.type.toLowerCase())) continue;
          if (visits.some((w) => w.index === c.to && w.step.ts >= v.step.ts)) edges.add(`${c.from}>${c.to}`);
        }
      }
      const first = chain.model.firstNodeIndex;
      if (first !== null && visits[0]?.index === first) edges.add(`-1>${first}`);
      nodeMarks = new Map<number, NodeMark>();
      for (const [index, m] of marks) nodeMarks.set(index, { badge: `${m.ms.toFixed(2)} ms`, count: m.count, ...(m.error !== undefined ? { error: m.error } : {}) });
      if (first !== null && edges.has(`-1>${first}`)) nodeMarks.set(-1, {});
    }
    return (
      <section class="trace-chain" data-chain-id={id}>
        <h4>
          <a href={`#/chains/${id}`}>{chain.name}</a>
        </h4>
        {zoomable(scope, (portrait) => {
          const picture = chainPicture(chain.model, { title: `Trace over ${chain.name}`, portrait });
          if (walk) picture.highlight(nodeMarks, edges);
          return picture.el;
        })}
      </section>
    );
  };

  const rootChainId = async (): Promise<string> => {
    const r = await ctx.api.call<PageData<RuleChain>>('GET', '/api/ruleChains', undefined, { query: { pageSize: 100, page: 0 } });
    return r.body?.data.find((c) => c.root)?.id.id ?? r.body?.data[0]?.id.id ?? '';
  };

  const loadDevices = async () => {
    const r = await ctx.api.call<PageData<Device>>('GET', devicesPath(ctx), undefined, { query: { pageSize: 100, page: 0 } });
    if (scope.disposed || !r.ok || r.body === null) return;
    for (const d of r.body.data) deviceNames.set(d.id.id, d.name);
    fill(
      deviceSelect,
      <option value="">any device</option>,
      r.body.data.map((d) => (
        <option value={d.id.id} selected={d.id.id === deviceId}>
          {d.name}
        </option>
      )),
    );
    // A device from the URL that is not among the first 100 still gets picked.
    if (deviceId !== '' && !deviceNames.has(deviceId)) {
      deviceSelect.append(<option value={deviceId} selected>{deviceId}</option>);
    }
    updateHint();
  };

  scope.onDispose(ctx.live.on('trace', (e) => add(e.step)));
  // The stream carries the steps of the device shown (or of all devices) only while this page is open.
  let unfollow = ctx.live.followTrace(deviceId);
  scope.onDispose(() => unfollow());
  scope.onDispose(
    ctx.live.on('hello', (hello) => {
      // Which device's steps the stream now carries (a test waits for it before sending messages).
      el.setAttribute('data-tracing', hello.trace ?? '');
      updateHint();
    }),
  );

  const el = (
    <div class="page trace-page">
      <div class="page-head">
        <h2>Live trace</h2>
      </div>
      <div class="row trace-controls">
        <label class="field">
          <span class="label">Device</span>
          <select
            name="device"
            ref={(s) => (deviceSelect = s as HTMLSelectElement)}
            onChange={() => {
              deviceId = deviceSelect.value;
              unfollow();
              unfollow = ctx.live.followTrace(deviceId);
              walks.length = 0;
              selected = null;
              const q = new URLSearchParams();
              if (deviceId) q.set('device', deviceId);
              if (chainId) q.set('chain', chainId);
              history.replaceState(null, '', `#/trace${q.toString() !== '' ? `?${q.toString()}` : ''}`);
              scheduleRender();
            }}
          >
            <option value="">any device</option>
          </select>
        </label>
        <label class="check">
          <input
            type="checkbox"
            name="follow"
            checked
            ref={(i) => (followBox = i as HTMLInputElement)}
            onChange={() => {
              follow = followBox.checked;
              if (follow && walks[0]) {
                selected = walks[0];
                scheduleRender();
              }
            }}
          />
          <span>follow the latest message</span>
        </label>
        <button
          type="button"
          onClick={() => {
            walks.length = 0;
            selected = null;
            scheduleRender();
          }}
        >
          Clear
        </button>
      </div>
      {hint}
      <div class="trace-layout">
        <div class="trace-side">
          <h3>Recent messages</h3>
          {walkList}
        </div>
        <div class="trace-main">
          {legend()}
          {pictures}
          {steps}
        </div>
      </div>
    </div>
  );
  void loadDevices();
  void loadChainList();
  scheduleRender();
  return el;
}

function stepTable(walk: Walk): Element {
  return (
    <div class="table-wrap">
      <table class="data steps-table">
        <thead>
          <tr>
            <th>#</th>
            <th>Time</th>
            <th>Chain</th>
            <th>Node</th>
            <th>Relations</th>
            <th>Duration</th>
            <th>Error</th>
          </tr>
        </thead>
        <tbody>
          {walk.steps.map((s, i) => (
            <tr class={s.error !== undefined ? 'failed' : ''} data-node-id={s.nodeId}>
              <td data-label="#">{String(i + 1)}</td>
              <td data-label="Time">{formatClock(s.ts)}</td>
              <td data-label="Chain">{s.chainName}</td>
              <td data-label="Node">
                <strong>{s.nodeName}</strong> <span class="muted">{s.nodeType.split('.').pop() ?? ''}</span>
              </td>
              <td data-label="Relations">{s.relations.length > 0 ? s.relations.join(', ') : '(end)'}</td>
              <td data-label="Duration">{`${s.durationMs.toFixed(3)} ms`}</td>
              <td data-label="Error" class="error-cell">
                {s.error ?? ''}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
