// Every root chain among /work/shared/examples/rule-chains (a message type switch whose
// "RPC Request to Device" link reaches an RPC call request node: ThingsBoard's tenant root chains
// of v3.2 and today, and the monitoring chain) as the tenant's root chain for S1: imported through
// POST /api/ruleChain/import, made root through POST /api/ruleChain/{id}/root, then a v2 and a v1
// two-way RPC to an MQTT device.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { importRootChain, isRecord, mqttDevice, rpcPath, startScenarioSystem, type ScenarioSystem } from './kit.js';

const EXAMPLES = process.env.RPC_EXAMPLE_CHAINS_DIR ?? '/work/shared/examples/rule-chains';
const SWITCH = 'org.thingsboard.rule.engine.filter.TbMsgTypeSwitchNode';
const RPC_REQUEST = 'org.thingsboard.rule.engine.rpc.TbSendRPCRequestNode';

interface Doc {
  metadata: { nodes: { type: string }[]; connections: { fromIndex: number; toIndex: number; type: string }[] | null };
}

function isDoc(v: unknown): v is Doc {
  return isRecord(v) && isRecord(v.metadata) && Array.isArray(v.metadata.nodes);
}

/** Files whose chain routes "RPC Request to Device" from a message type switch to an RPC call request node. */
function rootChainFiles(): string[] {
  if (!existsSync(EXAMPLES)) return [];
  return readdirSync(EXAMPLES)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .filter((f) => {
      const doc: unknown = JSON.parse(readFileSync(join(EXAMPLES, f), 'utf8'));
      if (!isDoc(doc)) return false;
      const { nodes, connections } = doc.metadata;
      return (connections ?? []).some((c) => c.type === 'RPC Request to Device' && nodes[c.fromIndex]?.type === SWITCH && nodes[c.toIndex]?.type === RPC_REQUEST);
    });
}

describe('example root chains serve S1 (two-way RPC to an MQTT device)', function () {
  this.timeout(15_000);
  const files = rootChainFiles();
  let s: ScenarioSystem;

  before(async function () {
    if (files.length === 0) this.skip(); // the shared examples are not on this machine
    s = await startScenarioSystem();
  });
  after(async () => {
    await s?.close();
  });

  it('finds the three root chains', () => {
    expect(files).to.deep.equal(['thingsboard__monitoring__rule_chain.json', 'thingsboard__tenant__rule_chains__root_rule_chain.json', 'thingsboard__v3.2__tenant__rule_chains__root_rule_chain.json']);
  });

  for (const file of files) {
    it(`${file}: imported, made root, answers S1 on v2 and v1`, async () => {
      await importRootChain(s.api, s.admin, JSON.parse(readFileSync(join(EXAMPLES, file), 'utf8')) as unknown);
      const dev = await s.device(`S1 ${file}`);
      const d = await mqttDevice(s.mqttPort, dev.token, { answer: (c) => JSON.stringify({ ok: true, pin: (c.params as { pin?: unknown }).pin }) });
      try {
        for (const v of ['v2', 'v1'] as const) {
          const res = await s.api.call('POST', rpcPath(v, 'twoway', dev.id), { token: s.admin, body: { method: 'setGpio', params: { pin: 23, value: 1 }, timeout: 5000 } });
          expect([res.status, res.text], `${v} via ${file}`).to.deep.equal([200, '{"ok":true,"pin":23}']);
        }
        expect(d.commands.map((c) => [c.method, c.params])).to.deep.equal([
          ['setGpio', { pin: 23, value: 1 }],
          ['setGpio', { pin: 23, value: 1 }],
        ]);
      } finally {
        await d.end();
      }
    });
  }
});
