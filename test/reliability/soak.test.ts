// ~20 s of scripts/reliability/soak.ts (10 minutes there): steady mixed load, memory of the process
// and of Redis sampled, finished jobs removed, latency stable, nothing lost.
import { soak, soakOptions } from '../../scripts/reliability/soak.js';
import { expectHeld } from './expect-held.js';

describe('reliability: soak', function () {
  it('20 s of telemetry, two-way and client-side RPC: no growth trend, bounded queues, stable latency, nothing lost', async function () {
    this.timeout(90_000);
    expectHeld(await soak(soakOptions(20 / 60)));
  });
});
