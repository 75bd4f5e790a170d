// Benchmark: 1,000,000 messages in memory through
//   message type switch → script filter → script transform → (sink)
// once with the real script sandbox (isolated-vm) and once with the scripts run as plain
// host functions, side by side in one run. Prints messages/s and the per-message cost.
//   npx tsx scripts/bench/chain.ts [messages]
import { performance } from 'node:perf_hooks';
import { importChain } from '../../src/engine/importer/import-chain.js';
import type { NodeServices } from '../../src/engine/node-api.js';
import { ChainRuntime, type BranchEnd } from '../../src/engine/runtime.js';
import { createScriptEngine } from '../../src/engine/script/index.js';
import type { ScriptEngine } from '../../src/engine/script/script-api.js';
import { newMsg, type TbMsg } from '../../src/msg/tb-msg.js';
import { builtinRegistry } from '../../src/nodes/index.js';
import { PlainFunctionScriptEngine } from './plain-script-engine.js';

const TOTAL = Number(process.argv[2] ?? 1_000_000);
const WINDOW = 1000; // messages in flight at once

const chainDocument = {
  ruleChain: { name: 'bench', type: 'CORE' },
  metadata: {
    firstNodeIndex: 0,
    nodes: [
      { type: 'org.thingsboard.rule.engine.filter.TbMsgTypeSwitchNode', name: 'switch', configuration: { version: 0 } },
      {
        type: 'org.thingsboard.rule.engine.filter.TbJsFilterNode',
        name: 'hot?',
        configuration: { scriptLang: 'JS', jsScript: 'return msg.temperature > 20;' },
      },
      {
        type: 'org.thingsboard.rule.engine.transform.TbTransformMsgNode',
        name: 'to F',
        configuration: {
          scriptLang: 'JS',
          jsScript: 'msg.temperatureF = msg.temperature * 9 / 5 + 32; metadata.unit = "F"; return {msg: msg, metadata: metadata, msgType: msgType};',
        },
      },
    ],
    connections: [
      { fromIndex: 0, toIndex: 1, type: 'Post telemetry' },
      { fromIndex: 1, toIndex: 2, type: 'True' },
    ],
  },
};

interface Result {
  readonly label: string;
  readonly seconds: number;
  readonly sunk: number;
}

async function measure(label: string, scripts: ScriptEngine, msgs: readonly TbMsg[]): Promise<Result> {
  const services: NodeServices = { scripts, logger: { info() {}, warn() {}, error() {} }, now: () => Date.now() };
  const imported = importChain(chainDocument, { source: 'bench', registry: builtinRegistry() });
  if (!imported.ok) throw new Error(JSON.stringify(imported.issues));
  const runtime = new ChainRuntime({ services, maxNodeExecutionsPerMessage: 50 });
  runtime.load([imported.chain]);
  let sunk = 0;
  const onBranchEnd = (end: BranchEnd) => {
    if (end.nodeName === 'to F') sunk++;
  };
  const chainId = imported.chain.id;
  // Warm up the JIT and the sandbox before timing.
  for (let i = 0; i < 20_000; i += WINDOW) {
    await Promise.all(msgs.slice(i, i + WINDOW).map((m) => runtime.process(m, { chainId })));
  }
  const started = performance.now();
  for (let i = 0; i < TOTAL; i += WINDOW) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < i + WINDOW && j < TOTAL; j++) batch.push(runtime.process(msgs[j % msgs.length], { chainId, onBranchEnd }));
    await Promise.all(batch);
  }
  const seconds = (performance.now() - started) / 1000;
  await runtime.close();
  scripts.dispose();
  return { label, seconds, sunk };
}

function makeMessages(n: number): TbMsg[] {
  return Array.from({ length: n }, (_, i) =>
    newMsg({
      type: 'POST_TELEMETRY_REQUEST',
      originator: { entityType: 'DEVICE', id: `device-${i % 100}` },
      metaData: { deviceName: `Device ${i % 100}`, deviceType: 'thermostat', ts: String(1_700_000_000_000 + i) },
      data: JSON.stringify({ temperature: 10 + (i % 30), humidity: 40 + (i % 20) }),
    }),
  );
}

const msgs = makeMessages(10_000);
console.log(`chain benchmark: ${TOTAL.toLocaleString('en-US')} messages, switch → script filter → script transform → sink, ${WINDOW} in flight`);
const plain = await measure('plain functions (baseline, no sandbox)', new PlainFunctionScriptEngine(), msgs);
const sandbox = await measure('isolated-vm sandbox', createScriptEngine({ timeoutMs: 500, memoryLimitMb: 64 }), msgs);
const rows = [plain, sandbox].map((r) => ({
  run: r.label,
  'msgs/s': Math.round(TOTAL / r.seconds).toLocaleString('en-US'),
  'µs/msg': ((r.seconds * 1e6) / TOTAL).toFixed(2),
  'passed filter': r.sunk.toLocaleString('en-US'),
}));
console.table(rows);
const perMsgSandbox = ((sandbox.seconds - plain.seconds) * 1e6) / TOTAL;
console.log(`sandbox cost: ${perMsgSandbox.toFixed(2)} µs per message (2 script calls) = ${(perMsgSandbox / 2).toFixed(2)} µs per script call`);
console.log(`ratio sandbox/plain throughput: ${(plain.seconds / sandbox.seconds).toFixed(2)}×`);
