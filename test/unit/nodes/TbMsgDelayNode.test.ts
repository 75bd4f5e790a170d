import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { FAILURE, NodeConfigError, SUCCESS, type RuleNode } from '../../../src/engine/node-api.js';
import { TbMsgDelayNode } from '../../../src/nodes/action/TbMsgDelayNode.js';
import { createNode, relationsOf, runNode, testMsg } from '../../helpers/node-harness.js';

/** Polls until `done` holds (timers may run late on a busy machine). */
async function waitFor(done: () => boolean, timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await sleep(5);
  }
}

describe('TbMsgDelayNode', () => {
  const nodes: RuleNode[] = [];
  const delay = (config: Record<string, unknown>) => {
    const { node } = createNode(TbMsgDelayNode, config);
    nodes.push(node);
    return node;
  };
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.destroy?.();
  });

  it('has the catalogue identity and default configuration', () => {
    expect(TbMsgDelayNode.type).to.equal('org.thingsboard.rule.engine.delay.TbMsgDelayNode');
    expect(TbMsgDelayNode.category).to.equal('ACTION');
    expect(TbMsgDelayNode.uiName).to.equal('delay (deprecated)');
    expect(TbMsgDelayNode.version).to.equal(0);
    expect(TbMsgDelayNode.relations).to.deep.equal([SUCCESS, FAILURE]);
    expect(TbMsgDelayNode.defaultConfig).to.deep.equal({ periodInSeconds: 60, maxPendingMsgs: 1000, useMetadataPeriodInSecondsPatterns: false });
  });

  it('acknowledges the message and sends a copy with a new id on Success after the period', async () => {
    const node = delay({ periodInSeconds: 0.05 });
    const msg = testMsg();
    const started = Date.now();
    const result = await runNode(node, msg);
    expect(result.acked).to.equal(true);
    expect(result.outputs).to.deep.equal([]);
    expect(result.enqueued).to.deep.equal([]);
    await waitFor(() => (result.enqueued?.length ?? 0) > 0);
    expect(Date.now() - started).to.be.at.least(40);
    const [out] = result.enqueued ?? [];
    expect(out.relations).to.deep.equal([SUCCESS]);
    expect(out.msg.id).to.not.equal(msg.id);
    expect({ ...out.msg, id: msg.id }).to.deep.equal(msg);
  });

  it('takes the period from a metadata pattern', async () => {
    const node = delay({ useMetadataPeriodInSecondsPatterns: true, periodInSecondsPattern: '${delay}' });
    const result = await runNode(node, testMsg({ metaData: { delay: '0.03' } }));
    expect(result.acked).to.equal(true);
    await waitFor(() => (result.enqueued?.length ?? 0) > 0);
  });

  it('fails a message whose pattern gives no number', async () => {
    const node = delay({ useMetadataPeriodInSecondsPatterns: true, periodInSecondsPattern: '${delay}' });
    const result = await runNode(node, testMsg({ metaData: { delay: 'soon' } }));
    expect(relationsOf(result)).to.deep.equal([FAILURE]);
    expect(result.acked).to.equal(false);
    const [out] = result.outputs;
    expect(out.kind === 'tell' ? out.error : '').to.equal("Can't parse period in seconds from metadata using pattern: ${delay}");
  });

  it('fails messages beyond maxPendingMsgs', async () => {
    const node = delay({ periodInSeconds: 60, maxPendingMsgs: 1 });
    expect((await runNode(node, testMsg())).acked).to.equal(true);
    const second = await runNode(node, testMsg());
    expect(relationsOf(second)).to.deep.equal([FAILURE]);
    const [out] = second.outputs;
    expect(out.kind === 'tell' ? out.error : '').to.equal('Max limit of pending messages reached!');
  });

  it('drops the waiting messages when destroyed', async () => {
    const node = delay({ periodInSeconds: 0.03 });
    const result = await runNode(node, testMsg());
    await node.destroy?.();
    await sleep(60);
    expect(result.enqueued).to.deep.equal([]);
  });

  it('needs a pattern when it is to read the period from metadata', () => {
    expect(() => delay({ useMetadataPeriodInSecondsPatterns: true })).to.throw(NodeConfigError).with.property('pointer', '/periodInSecondsPattern');
  });
});
