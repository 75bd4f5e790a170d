import { expect } from 'chai';
import { FAILURE, SUCCESS, type NodeContext } from '../../../src/engine/node-api.js';
import { prepareNodeConfig } from '../../../src/engine/importer/node-config.js';
import { TbCheckpointNode } from '../../../src/nodes/flow/TbCheckpointNode.js';
import { createNode, runNode, testMsg, testServices } from '../../helpers/node-harness.js';

describe('TbCheckpointNode', () => {
  it('has the catalogue identity and default configuration', () => {
    expect(TbCheckpointNode.type).to.equal('org.thingsboard.rule.engine.flow.TbCheckpointNode');
    expect(TbCheckpointNode.category).to.equal('FLOW');
    expect(TbCheckpointNode.uiName).to.equal('checkpoint');
    expect(TbCheckpointNode.version).to.equal(1);
    expect(TbCheckpointNode.relations).to.deep.equal([SUCCESS, FAILURE]);
    expect(TbCheckpointNode.defaultConfig).to.deep.equal({ version: 0 });
  });

  it('queues the same message in the node queue to go on from Success, then acknowledges the original', async () => {
    const { node } = createNode(TbCheckpointNode, { version: 0 }, { queueName: 'HighPriority' });
    const msg = testMsg();
    const result = await runNode(node, msg);
    expect(result.acked).to.equal(true);
    expect(result.outputs).to.deep.equal([]);
    expect(result.enqueued).to.have.length(1);
    const [out] = result.enqueued ?? [];
    expect(out.relations).to.deep.equal([SUCCESS]);
    expect(out.msg).to.deep.equal({ ...msg, queueName: 'HighPriority' });
  });

  it('uses Main when the node has no queue', async () => {
    const { node } = createNode(TbCheckpointNode, {});
    const [out] = (await runNode(node, testMsg({ queueName: 'HighPriority' }))).enqueued ?? [];
    expect(out.msg.queueName).to.equal('Main');
  });

  it('fails, without acknowledging, when the message cannot be queued', async () => {
    const { node } = createNode(TbCheckpointNode, {}, { queueName: 'HighPriority' });
    let acked = false;
    const ctx: NodeContext = {
      self: { id: 'node-1', name: 'checkpoint', type: TbCheckpointNode.type, chainId: 'chain-1', chainName: 'Test chain' },
      services: testServices(),
      ack: () => (acked = true),
      enqueueForTellNext: () => Promise.reject(new Error('queue HighPriority is down')),
    };
    const msg = testMsg();
    const result = await node.onMsg(msg, ctx);
    expect(acked).to.equal(false);
    expect(result).to.deep.equal({ kind: 'tell', msg, relations: [FAILURE], error: 'queue HighPriority is down' });
  });

  describe('v0 configuration with queueName', () => {
    const v0 = { queueName: 'HighPriority' };

    it('keeps the old queueName in the configuration', () => {
      expect(prepareNodeConfig(TbCheckpointNode, v0, 0)).to.deep.equal({ ok: true, config: { queueName: 'HighPriority', version: 0 } });
    });

    it('uses it when the node has no queue, and the node queue when it has one', async () => {
      const fromConfig = createNode(TbCheckpointNode, v0, { configurationVersion: 0 }).node;
      const fromNode = createNode(TbCheckpointNode, v0, { configurationVersion: 0, queueName: 'SequentialByOriginator' }).node;
      expect((await runNode(fromConfig, testMsg())).enqueued?.[0]?.msg.queueName).to.equal('HighPriority');
      expect((await runNode(fromNode, testMsg())).enqueued?.[0]?.msg.queueName).to.equal('SequentialByOriginator');
    });
  });
});
