import { importChainFiles } from '../engine/chain-files.js';
import { formatIssue } from '../engine/importer/chain-model.js';
import { ChainImportError } from '../engine/importer/chain-model.js';
import type { NodeRegistry } from '../engine/registry.js';
import { ChainRuntime } from '../engine/runtime.js';
import type { NodeServices } from '../engine/node-api.js';

export interface ValidateLine {
  readonly file: string;
  readonly ok: boolean;
  readonly text: string;
}

/**
 * Imports each file with the real importer and builds its nodes (so that a script that does
 * not compile is caught too). Files are imported together: a rule chain node may point at
 * another of the files.
 */
export async function validateFiles(files: readonly string[], registry: NodeRegistry, services: NodeServices): Promise<ValidateLine[]> {
  const results = await importChainFiles(files, registry);
  const chains = results.flatMap((r) => (r.chain ? [r.chain] : []));
  const runtime = new ChainRuntime({ services, maxNodeExecutionsPerMessage: 0 });
  const loadIssues = new Map<string, string[]>();
  try {
    runtime.load(chains);
  } catch (e) {
    if (!(e instanceof ChainImportError)) throw e;
    for (const issue of e.issues) loadIssues.set(issue.source, [...(loadIssues.get(issue.source) ?? []), formatIssue(issue)]);
  }
  await runtime.close();
  return results.map((r) => {
    const problems = r.chain ? (loadIssues.get(r.file) ?? []) : r.issues.map(formatIssue);
    if (problems.length > 0 || !r.chain) {
      return { file: r.file, ok: false, text: `ERROR ${r.file}: ${problems.map((p) => p.slice(r.file.length + 2)).join('; ')}` };
    }
    return { file: r.file, ok: true, text: `OK ${r.file} nodes=${r.chain.nodes.length} connections=${r.chain.connections.length}` };
  });
}
