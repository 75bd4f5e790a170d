import { importChainFiles } from '../engine/chain-files.js';
import { ChainImportError, formatIssue } from '../engine/importer/chain-model.js';
import type { NodeServices } from '../engine/node-api.js';
import type { NodeRegistry } from '../engine/registry.js';
import { ChainRuntime, type BranchEnd, type MsgOutcome } from '../engine/runtime.js';
import type { TraceEvent } from '../engine/trace.js';
import type { TbMsg } from '../msg/tb-msg.js';

export interface RunReport {
  readonly steps: TraceEvent[];
  readonly ends: BranchEnd[];
  readonly outcome: MsgOutcome;
}

/**
 * Runs one message through a chain file (with the other files it links to) and records
 * every step and every place a branch ended: a rule-chain author's first debugging tool.
 */
export async function runChainFile(
  file: string,
  others: readonly string[],
  msg: TbMsg,
  registry: NodeRegistry,
  services: NodeServices,
): Promise<RunReport> {
  const results = await importChainFiles([file, ...others], registry);
  const issues = results.flatMap((r) => r.issues);
  if (issues.length > 0) throw new ChainImportError(issues);
  const chains = results.flatMap((r) => (r.chain ? [r.chain] : []));
  const runtime = new ChainRuntime({ services, maxNodeExecutionsPerMessage: 1000 });
  runtime.load(chains);
  runtime.trace.enabled = true;
  const steps: TraceEvent[] = [];
  const sub = runtime.trace.events$.subscribe((e) => steps.push(e));
  const ends: BranchEnd[] = [];
  try {
    const outcome = await runtime.process(msg, { chainId: chains[0].id, onBranchEnd: (e) => ends.push(e) });
    return { steps, ends, outcome };
  } finally {
    sub.unsubscribe();
    await runtime.close();
  }
}

export function formatRunReport(report: RunReport): string {
  const lines: string[] = [];
  for (const s of report.steps) {
    const rel = s.relations.length > 0 ? s.relations.join(', ') : '(end)';
    lines.push(`step  [${s.chainName}] "${s.nodeName}" → ${rel}  ${s.durationMs.toFixed(3)} ms${s.error ? `  error: ${s.error}` : ''}`);
  }
  for (const e of report.ends) {
    const rel = e.relations.length > 0 ? ` on ${e.relations.join(', ')}` : '';
    lines.push(`out   [${e.chainName}] "${e.nodeName}"${rel}: type=${e.msg.type} data=${e.msg.data} metadata=${JSON.stringify(e.msg.metaData)}`);
  }
  const o = report.outcome;
  lines.push(o.status === 'success' ? `done  success, ${o.nodeExecutions} node steps` : `done  FAILURE: ${o.error} (${o.failures} failed branch(es), ${o.nodeExecutions} node steps)`);
  return lines.join('\n');
}

export { formatIssue };
