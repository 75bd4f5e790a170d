// Rule chains: the tenant's chains (root marked), import from a file with the importer's errors
// shown by node (on the picture of the file too), set root, and the picture of one chain.
import type { PageData, RuleChain } from '../api.js';
import type { AppContext } from '../context.js';
import { fill, formatTime, h, type Scope } from '../dom.js';
import { chainPicture, legend, zoomable, type NodeMark } from '../chain/picture.js';
import { chainNameOf, modelOf, shortType, type ChainModel, type ChainNode } from '../chain/model.js';
import { checkJson } from '../widgets/json-editor.js';
import { ResultSlot } from '../widgets/result.js';

interface ImportIssue {
  readonly pointer?: string;
  readonly nodeIndex?: number;
  readonly nodeName?: string;
  readonly message: string;
}

export function chainsPage(ctx: AppContext, scope: Scope): Element {
  const list = (<div class="chain-list"></div>);
  const status = new ResultSlot();

  const load = async () => {
    const r = await ctx.api.call<PageData<RuleChain>>('GET', '/api/ruleChains', undefined, { query: { pageSize: 100, page: 0, sortProperty: 'createdTime', sortOrder: 'DESC' } });
    if (scope.disposed) return;
    if (!r.ok || r.body === null) {
      status.show(r, { meaning: 'could not load the rule chains' });
      return;
    }
    status.clear();
    const chains = r.body.data;
    fill(
      list,
      chains.length === 0 ? (
        <p class="muted empty">No rule chains yet: import one below.</p>
      ) : (
        chains.map((c) => (
          <article class={`chain-row${c.root ? ' root' : ''}`} data-chain-id={c.id.id} data-chain-name={c.name}>
            <div class="chain-main">
              <a href={`#/chains/${c.id.id}`} class="chain-name">
                {c.name}
              </a>
              {c.root ? <span class="badge root-badge">root</span> : null}
              <span class="muted">{` ${c.type} · created ${formatTime(c.createdTime)}`}</span>
            </div>
            <div class="chain-actions">
              <a class="button small" href={`#/chains/${c.id.id}`}>
                Picture
              </a>
              <a class="button small" href={`#/trace?chain=${c.id.id}`}>
                Trace
              </a>
              {c.root ? null : (
                <button
                  type="button"
                  class="small"
                  onClick={async () => {
                    const res = await ctx.api.call('POST', `/api/ruleChain/${c.id.id}/root`);
                    if (res.ok) {
                      ctx.toast(`"${c.name}" is now the root chain.`);
                      void load();
                    } else status.show(res, { meaning: 'could not set the root chain' });
                  }}
                >
                  Make root
                </button>
              )}
            </div>
          </article>
        ))
      ),
    );
  };

  const el = (
    <div class="page chains-page">
      <div class="page-head">
        <h2>Rule chains</h2>
      </div>
      {status.el}
      {list}
      {ctx.session.isTenantAdmin ? importBox(ctx, scope, () => void load()) : null}
    </div>
  );
  void load();
  return el;
}

function importBox(ctx: AppContext, scope: Scope, onImported: () => void): Element {
  let file!: HTMLInputElement;
  let root!: HTMLInputElement;
  let button!: HTMLButtonElement;
  const info = (<div class="import-info" aria-live="polite"></div>);
  const errors = (<div class="import-errors"></div>);
  const preview = (<div class="chain-view import-preview"></div>);
  const result = new ResultSlot();
  let doc: unknown = undefined;
  let model: ChainModel | null = null;

  const readFile = async () => {
    doc = undefined;
    model = null;
    fill(errors);
    fill(preview);
    result.clear();
    const f = file.files?.[0];
    button.disabled = true;
    if (!f) {
      fill(info);
      return;
    }
    const c = checkJson(await f.text());
    if (!c.ok) {
      fill(info, <p class="bad">{`${f.name} is not valid JSON: ${c.error}`}</p>);
      return;
    }
    doc = c.value;
    model = modelOf(doc);
    fill(info, <p>{`${f.name}: "${chainNameOf(doc) ?? '(no name)'}", ${model.nodes.length} nodes, ${model.connections.length} connections.`}</p>);
    const m = model;
    preview.replaceChildren(zoomable(scope, (portrait) => chainPicture(m, { title: `Preview of ${f.name}`, portrait }).el));
    button.disabled = false;
  };

  const submit = async () => {
    if (doc === undefined) return;
    button.disabled = true;
    result.pending('importing');
    const r = await ctx.api.call<RuleChain>('POST', '/api/ruleChain/import', doc, { query: { root: root.checked ? true : undefined } });
    button.disabled = false;
    if (r.ok && r.body !== null) {
      result.show(r, { showBody: false, meaning: `imported "${r.body.name}"${r.body.root ? ' as root chain' : ''}` });
      fill(errors);
      ctx.toast(`Imported "${r.body.name}".`);
      onImported();
      return;
    }
    result.show(r, { showBody: false, meaning: 'the importer refused the chain' });
    const issues = Array.isArray(r.envelope?.errors) ? (r.envelope.errors as ImportIssue[]) : r.error ? [{ message: r.error }] : [];
    showIssues(issues);
  };

  const showIssues = (issues: readonly ImportIssue[]) => {
    const byNode = new Map<number | null, ImportIssue[]>();
    for (const i of issues) {
      const key = typeof i.nodeIndex === 'number' ? i.nodeIndex : null;
      byNode.set(key, [...(byNode.get(key) ?? []), i]);
    }
    const nodeOf = (i: number): ChainNode | undefined => model?.nodes[i];
    fill(
      errors,
      <h4>{`${issues.length} problem${issues.length === 1 ? '' : 's'}`}</h4>,
      <ul class="issue-groups">
        {[...byNode.entries()]
          .sort(([a], [b]) => (a ?? -1) - (b ?? -1))
          .map(([index, list]) => {
            const node = index === null ? undefined : nodeOf(index);
            const title =
              index === null ? 'The chain' : `Node #${index} "${list[0]?.nodeName ?? node?.name ?? '?'}"${node ? ` (${shortType(node.type)})` : ''}`;
            return (
              <li class="issue-group" data-node-index={index === null ? '' : String(index)}>
                <strong>{title}</strong>
                <ul>
                  {list.map((i) => (
                    <li>
                      {i.message}
                      {i.pointer ? <code class="pointer">{i.pointer}</code> : null}
                    </li>
                  ))}
                </ul>
              </li>
            );
          })}
      </ul>,
    );
    if (model) {
      const marks = new Map<number, NodeMark>();
      for (const [index, list] of byNode) if (index !== null) marks.set(index, { error: list.map((i) => i.message).join('\n') });
      const m = model;
      preview.replaceChildren(
        zoomable(scope, (portrait) => {
          const picture = chainPicture(m, { title: 'Preview with the import errors', portrait });
          picture.highlight(marks, new Set());
          return picture.el;
        }),
      );
    }
  };

  return (
    <section class="card import-box">
      <h3>Import a rule chain</h3>
      <p class="muted">A ThingsBoard export (.json): checked as the runtime would run it; nothing is stored when it fails.</p>
      <div class="row">
        <input type="file" name="chainFile" accept=".json,application/json" aria-label="Rule chain file" ref={(i) => (file = i as HTMLInputElement)} onChange={() => void readFile()} />
        <label class="check">
          <input type="checkbox" name="root" ref={(i) => (root = i as HTMLInputElement)} />
          <span>make it the root chain</span>
        </label>
        <button type="button" class="primary" disabled ref={(b) => (button = b as HTMLButtonElement)} onClick={() => void submit()}>
          Import
        </button>
      </div>
      {info}
      {result.el}
      {errors}
      {preview}
    </section>
  );
}

/** The picture of one stored chain, with a panel for the node clicked. */
export function chainPage(ctx: AppContext, scope: Scope, chainId: string): Element {
  const head = (<div class="page-head"></div>);
  const view = (<div class="chain-view"></div>);
  const details = (<aside class="node-details" aria-live="polite"></aside>);
  const status = new ResultSlot();

  void (async () => {
    const [chain, meta] = await Promise.all([
      ctx.api.call<RuleChain>('GET', `/api/ruleChain/${encodeURIComponent(chainId)}`),
      ctx.api.call('GET', `/api/ruleChain/${encodeURIComponent(chainId)}/metadata`),
    ]);
    if (scope.disposed) return;
    if (!chain.ok || chain.body === null || !meta.ok) {
      status.show(chain.ok ? meta : chain, { meaning: 'could not load the rule chain' });
      return;
    }
    const c = chain.body;
    fill(
      head,
      <a href="#/chains" class="back" aria-label="All rule chains">
        ‹
      </a>,
      <h2>{c.name}</h2>,
      c.root ? <span class="badge root-badge">root</span> : null,
      <a class="button small" href={`#/trace?chain=${chainId}`}>
        Live trace
      </a>,
    );
    const model = modelOf(meta.body);
    const onNodeClick = (n: ChainNode) => {
        fill(
          details,
          <h4>{n.name}</h4>,
          <p class="muted">{`${n.type} · #${n.index}${n.id ? ` · ${n.id}` : ''}`}</p>,
          n.description ? <p>{n.description}</p> : null,
          <pre class="config">{JSON.stringify(n.configuration, null, 2)}</pre>,
        );
    };
    view.replaceChildren(zoomable(scope, (portrait) => chainPicture(model, { title: `Rule chain ${c.name}`, onNodeClick, portrait }).el));
    fill(details, <p class="muted">Click a node to see its configuration.</p>);
  })();

  return (
    <div class="page chain-page" data-chain-id={chainId}>
      {head}
      {status.el}
      {legend()}
      {view}
      {details}
    </div>
  );
}
