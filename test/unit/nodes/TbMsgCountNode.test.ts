import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { FAILURE, SUCCESS, type RuleNode } from '../../../src/engine/node-api.js';
import { TbMsgCountNode } from '../../../src/nodes/action/TbMsgCountNode.js';
import { NULL_UUID } from '../../../src/store/ids.js';
import { createNode, runNode, testMsg, testServices } from '../../helpers/node-harness.js';

const TENANT = '6a3c0a40-0000-4000-8000-000000000001';

/** Polls until `done` holds (timers may run late on a busy machine). */
async function waitFor(done: () => boolean, timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await sleep(5);
  }
}

describe('TbMsgCountNode', () => {
  const nodes: RuleNode[] = [];
  const count = (config: Record<string, unknown>) => {
    const created = createNode(TbMsgCountNode, config, { services: testServices({ serviceId: 'svc-1' }) });
    nodes.push(created.node);
    return created;
  };
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.destroy?.();
  });

  it('has the catalogue identity and default configuration', () => {
    expect(TbMsgCountNode.type).to.equal('org.thingsboard.rule.engine.action.TbMsgCountNode');
    expect(TbMsgCountNode.category).to.equal('ACTION');
    expect(TbMsgCountNode.uiName).to.equal('message count');
    expect(TbMsgCountNode.version).to.equal(0);
    expect(TbMsgCountNode.relations).to.deep.equal([SUCCESS, FAILURE]);
    expect(TbMsgCountNode.defaultConfig).to.deep.equal({ interval: 1, telemetryPrefix: 'messageCount' });
  });

  it('acknowledges and ends each counted message, then sends the count from the tenant each interval', async () => {
    const { node, enqueued } = count({ interval: 0.05, telemetryPrefix: 'hits' });
    for (let i = 0; i < 3; i++) {
      const result = await runNode(node, testMsg({ tenantId: TENANT }));
      expect(result.acked).to.equal(true);
      expect(result.outputs).to.deep.equal([]);
    }
    await waitFor(() => enqueued.length >= 1);
    const [first] = enqueued;
    expect(first.relations).to.deep.equal([SUCCESS]);
    expect(first.msg.type).to.equal('POST_TELEMETRY_REQUEST');
    expect(first.msg.originator).to.deep.equal({ entityType: 'TENANT', id: TENANT });
    expect(JSON.parse(first.msg.data)).to.deep.equal({ 'hits_svc-1': 3 });
    expect(Number(first.msg.metaData.delta)).to.be.at.least(45);

    // The count starts again from 0: an interval without messages reports 0.
    await waitFor(() => enqueued.length >= 2);
    expect(JSON.parse(enqueued[1].msg.data)).to.deep.equal({ 'hits_svc-1': 0 });
  });

  it('uses the system tenant until a counted message names its tenant', async () => {
    const { enqueued } = count({ interval: 0.03 });
    await waitFor(() => enqueued.length >= 1);
    expect(enqueued[0]?.msg.originator).to.deep.equal({ entityType: 'TENANT', id: NULL_UUID });
    expect(JSON.parse(enqueued[0]?.msg.data ?? '{}')).to.deep.equal({ 'messageCount_svc-1': 0 });
  });

  it('stops counting when destroyed', async () => {
    const { node, enqueued } = count({ interval: 0.03 });
    await node.destroy?.();
    await sleep(70);
    expect(enqueued).to.deep.equal([]);
  });

  it('refuses an interval that is not positive', () => {
    expect(() => createNode(TbMsgCountNode, { interval: 0 })).to.throw(/interval/);
  });
});
