// Builds the dashboard's static files with esbuild (installed with tsx): src/dashboard/web/main.tsx
// and style.css bundled, index.html copied with content hashes in the asset URLs.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const WEB_DIR = fileURLToPath(new URL('./web/', import.meta.url));
/** Git-ignored (src/dashboard/.gitignore). */
export const DEFAULT_OUT_DIR = fileURLToPath(new URL('./dist/', import.meta.url));

/** The files the plugin serves: name → content type. Nothing else in the folder is served. */
export const ASSETS: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.js.map': 'application/json; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'style.css.map': 'application/json; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};

export interface BuildOptions {
  readonly outDir?: string;
  readonly minify?: boolean;
  /** Source maps help when a test or a user reports a stack trace. Default true. */
  readonly sourcemap?: boolean;
}

export interface BuildReport {
  readonly outDir: string;
  readonly files: readonly { name: string; bytes: number }[];
  readonly ms: number;
}

export async function buildDashboard(opts: BuildOptions = {}): Promise<BuildReport> {
  const started = performance.now();
  const outDir = opts.outDir ?? DEFAULT_OUT_DIR;
  const sourcemap = opts.sourcemap ?? true;
  const result = await build({
    entryPoints: { app: join(WEB_DIR, 'main.tsx'), style: join(WEB_DIR, 'style.css') },
    outdir: outDir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    minify: opts.minify ?? true,
    sourcemap: sourcemap ? 'linked' : false,
    // The JSX factory is our own tiny DOM builder (web/dom.tsx), not React.
    jsx: 'transform',
    jsxFactory: 'h',
    jsxFragment: 'Fragment',
    tsconfig: join(WEB_DIR, 'tsconfig.json'),
    legalComments: 'none',
    write: false,
    logLevel: 'silent',
  });
  const files = new Map<string, Uint8Array>();
  for (const f of result.outputFiles) files.set(f.path.slice(outDir.length).replace(/^[/\\]/, ''), f.contents);
  const hash = (name: string) => {
    const body = files.get(name);
    return body ? createHash('sha256').update(body).digest('hex').slice(0, 12) : 'missing';
  };
  const html = (await readFile(join(WEB_DIR, 'index.html'), 'utf8')).replaceAll('{{app.js}}', `app.js?v=${hash('app.js')}`).replaceAll('{{style.css}}', `style.css?v=${hash('style.css')}`);
  files.set('index.html', new TextEncoder().encode(html));
  files.set('favicon.svg', await readFile(join(WEB_DIR, 'favicon.svg')));

  // Write into a fresh folder and swap it in, so a server reading the old one never sees half a build.
  const tmp = `${outDir.replace(/[/\\]$/, '')}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true });
  for (const [name, body] of files) await writeFile(join(tmp, name), body);
  await rm(outDir, { recursive: true, force: true });
  try {
    await rename(tmp, outDir);
  } catch (e) {
    // Another process built at the same moment and won the rename: its files are as good.
    await rm(tmp, { recursive: true, force: true });
    if ((e as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return { outDir, files: [...files].map(([name, body]) => ({ name, bytes: body.byteLength })), ms: Math.round(performance.now() - started) };
}

/** Newest modification time of the sources (web/ and shared/), in ms. */
async function newestSource(): Promise<number> {
  let newest = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else newest = Math.max(newest, (await stat(path)).mtimeMs);
    }
  };
  await walk(WEB_DIR);
  await walk(fileURLToPath(new URL('./shared/', import.meta.url)));
  return newest;
}

/** Whether the bundle is missing, or older than a source file (a developer changed the page). */
export async function needsBuild(outDir: string = DEFAULT_OUT_DIR): Promise<boolean> {
  let built: number;
  try {
    built = (await stat(join(outDir, 'index.html'))).mtimeMs;
  } catch {
    return true;
  }
  try {
    return (await newestSource()) > built;
  } catch {
    // No sources next to the bundle (an installed copy): serve what was built.
    return false;
  }
}

const inFlight = new Map<string, Promise<void>>();

/** Builds when needed; concurrent callers share one build. */
export function ensureDashboardBuilt(opts: BuildOptions = {}): Promise<void> {
  const outDir = opts.outDir ?? DEFAULT_OUT_DIR;
  let p = inFlight.get(outDir);
  if (!p) {
    p = (async () => {
      if (await needsBuild(outDir)) await buildDashboard(opts);
    })().finally(() => inFlight.delete(outDir));
    inFlight.set(outDir, p);
  }
  return p;
}
