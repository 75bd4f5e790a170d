// The browser code has its own tsconfig (DOM types, JSX through h()): the root `tsc` does not see
// it, so this keeps it type-checked with the rest of `npm test`.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

describe('dashboard: the browser code type-checks (src/dashboard/web/tsconfig.json)', function () {
  this.timeout(60_000);
  it('tsc --noEmit -p src/dashboard/web reports nothing', () => {
    const tsc = fileURLToPath(new URL('../../../node_modules/typescript/bin/tsc', import.meta.url));
    const project = fileURLToPath(new URL('../../../src/dashboard/web/tsconfig.json', import.meta.url));
    const r = spawnSync(process.execPath, [tsc, '--noEmit', '-p', project], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`.trim()).to.equal('');
    expect(r.status).to.equal(0);
  });
});
