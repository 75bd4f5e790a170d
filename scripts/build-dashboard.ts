// Builds the dashboard's static files (src/dashboard/dist): `npx tsx scripts/build-dashboard.ts`.
// The server builds them by itself when they are missing or stale; this is for a deployment that
// ships the built files, or to see the build's errors on the console.
//   --check   type-check the browser code first (tsc -p src/dashboard/web)
//   --out DIR write somewhere else
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildDashboard, WEB_DIR } from '../src/dashboard/build.js';

const args = process.argv.slice(2);
const outIndex = args.indexOf('--out');
const outDir = outIndex >= 0 ? args[outIndex + 1] : undefined;

if (args.includes('--check')) {
  const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
  const r = spawnSync(process.execPath, [tsc, '--noEmit', '-p', WEB_DIR], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

try {
  const report = await buildDashboard(outDir ? { outDir } : {});
  for (const f of report.files) console.log(`${f.name.padEnd(14)} ${(f.bytes / 1024).toFixed(1).padStart(7)} KiB`);
  console.log(`built ${report.outDir} in ${report.ms} ms`);
} catch (e) {
  console.error((e as Error).message);
  process.exit(1);
}
