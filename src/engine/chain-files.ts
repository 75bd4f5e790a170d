import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { NodeRegistry } from './registry.js';
import type { ImportedChain, ImportIssue } from './importer/chain-model.js';
import { importChain } from './importer/import-chain.js';
import { linkChains } from './importer/link-chains.js';

export interface FileImport {
  readonly file: string;
  readonly chain?: ImportedChain;
  readonly issues: readonly ImportIssue[];
  readonly warnings: readonly ImportIssue[];
}

/** Parses JSON text; a syntax error becomes an issue naming the source. */
export function parseJsonDocument(text: string, source: string): { ok: true; doc: unknown } | { ok: false; issue: ImportIssue } {
  try {
    return { ok: true, doc: JSON.parse(text) as unknown };
  } catch (e) {
    return { ok: false, issue: { source, pointer: '', message: `not valid JSON: ${e instanceof Error ? e.message : String(e)}` } };
  }
}

/**
 * Reads and imports several chain files together, so that rule chain nodes in one may point
 * at another (by id or by name). Each file gets its own result.
 */
export async function importChainFiles(
  files: readonly string[],
  registry: NodeRegistry,
  idMap?: Readonly<Record<string, string>>,
): Promise<FileImport[]> {
  const results: FileImport[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      results.push({ file, issues: [{ source: file, pointer: '', message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}` }], warnings: [] });
      continue;
    }
    const parsed = parseJsonDocument(text, file);
    if (!parsed.ok) {
      results.push({ file, issues: [parsed.issue], warnings: [] });
      continue;
    }
    const imported = importChain(parsed.doc, { source: file, registry, fallbackName: basename(file, '.json') });
    results.push(imported.ok ? { file, chain: imported.chain, issues: [], warnings: imported.warnings } : { file, issues: imported.issues, warnings: [] });
  }
  const chains = results.flatMap((r) => (r.chain ? [r.chain] : []));
  const linked = linkChains(chains, { idMap });
  return results.map((r) => {
    if (!r.chain) return r;
    const chain = linked.chains.find((c) => c.id === r.chain?.id);
    const issues = linked.issues.filter((i) => i.source === r.file);
    return issues.length > 0 ? { file: r.file, issues, warnings: r.warnings } : { ...r, chain };
  });
}
