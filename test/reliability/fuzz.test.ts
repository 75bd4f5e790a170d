// A short run of scripts/reliability/fuzz.ts (≥ 10 000 inputs per target there): the seed is
// printed, FUZZ_SEED replays it.
import { FUZZ_TEST_INPUTS, fuzz, TARGETS } from '../../scripts/reliability/fuzz.js';
import type { ScenarioResult } from '../../scripts/reliability/lib/util.js';
import { seedFrom } from '../../scripts/reliability/lib/util.js';
import { expectHeld } from './expect-held.js';

describe('reliability: fuzzing (MQTT bytes, MQTT topics and payloads, CoAP, rule-chain JSON)', function () {
  const seed = seedFrom(process.env.FUZZ_SEED);
  let results: ScenarioResult[] = [];

  before(async function () {
    this.timeout(120_000);
    console.log(`      (fuzz seed ${seed}; FUZZ_SEED=${seed} replays it)`);
    results = await fuzz({ seed, inputs: FUZZ_TEST_INPUTS });
  });

  for (const target of TARGETS) {
    it(`${target}: no crash, no unhandled rejection, no unexpected 5xx, still answering, memory back near its level`, () => {
      const r = results.find((x) => x.name === `fuzz: ${target}`);
      if (!r) throw new Error(`no result for ${target}`);
      expectHeld(r);
    });
  }
});
