// Shared by the reliability tests: print what a scenario did, then hold it to its oracles.
import { expect } from 'chai';
import type { ScenarioResult } from '../../scripts/reliability/lib/util.js';

export function expectHeld(r: ScenarioResult): void {
  const indent = '      ';
  console.log(`${indent}(${r.name}: ${(r.durationMs / 1000).toFixed(1)} s; ${r.inputs}; lost: ${r.lost})`);
  for (const n of r.notes) console.log(`${indent}  ${n}`);
  expect(r.problems, `\n${r.problems.map((p) => `  - ${p}`).join('\n')}\n`).to.deep.equal([]);
  expect(r.ok).to.equal(true);
}
