// The two RPC nodes on a real device RPC service (spec/rpc.md §4, §8.2, §9), and the answer to a
// client-side request no reply node addressed (beyond #6).
import { expect } from 'chai';
import type { NodeServices } from '../../../src/engine/node-api.js';
import { MsgType } from '../../../src/msg/msg-types.js';
import { transformMsg, type TbMsg } from '../../../src/msg/tb-msg.js';
import { TbSendRPCReplyNode } from '../../../src/nodes/action/TbSendRPCReplyNode.js';
import { TbSendRPCRequestNode } from '../../../src/nodes/action/TbSendRPCRequestNode.js';
import { NO_REPLY_FROM_RULE_CHAIN } from '../../../src/rpc/client-rpc-guard.js';
import { parseRpcBody, RestRpcCalls, rpcCallMsg } from '../../../src/rpc/rest-rpc.js';
import { DEFAULT_RPC_SETTINGS } from '../../../src/rpc/rpc-settings.js';
import { createNode, relationsOf, runNode, testMsg, testServices, type RunResult } from '../../helpers/node-harness.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { newDeviceId, sleep, TestProcess, waitFor } from './rpc-harness.js';

describe('RPC nodes', function () {
  this.timeout(20_000);
  let redis: TestRedis;
  let engine: TestProcess;
  let transport: TestProcess;
  let services: NodeServices;

  before(async () => {
    redis = await startTestRedis();
    engine = await TestProcess.start(redis.url, { serviceId: 'engine' });
    transport = await TestProcess.start(redis.url, { serviceId: 'transport' });
    services = { ...testServices({ serviceId: 'engine' }), rpc: engine.rpc } as NodeServices;
  });
  after(async () => {
    await engine.stop();
    await transport.stop();
    await redis.stop();
  });

  const deviceMsg = (deviceId: string, init: Parameters<typeof testMsg>[0] = {}): TbMsg =>
    testMsg({ originator: { entityType: 'DEVICE', id: deviceId }, tenantId: 'tenant-1', ...init });

  const firstError = (r: RunResult) => (r.outputs[0]?.kind === 'tell' ? r.outputs[0].error : undefined);

  describe('rpc call request', () => {
    const requestNode = () => createNode(TbSendRPCRequestNode, {}, { services }).node;

    it('checks data, originator, method and params in that order, with ThingsBoard\'s texts', async () => {
      const node = requestNode();
      const asset = { entityType: 'ASSET' as const, id: newDeviceId() };
      expect(firstError(await runNode(node, testMsg({ originator: asset, data: '[1]' }), services))).to.equal('Not a JSON Object: [1]');
      expect(firstError(await runNode(node, testMsg({ originator: asset, data: {} }), services))).to.equal('Message originator is not a device entity!');
      expect(firstError(await runNode(node, deviceMsg(newDeviceId(), { data: { params: {} } }), services))).to.equal('Method is not present in the message!');
      expect(firstError(await runNode(node, deviceMsg(newDeviceId(), { data: { method: 'm' } }), services))).to.equal('Params are not present in the message!');
      const bad = await runNode(node, deviceMsg(newDeviceId(), { data: { method: 'm', params: null }, metaData: { expirationTime: 'soon' } }), services);
      expect(firstError(bad)).to.equal('For input string: "soon"', 'params: null counts as present; the metadata is read next');
    });

    it('acks at once; the device\'s reply comes later on Success as a new message with the same type and metadata', async () => {
      const dev = newDeviceId();
      const s = await transport.connect(dev);
      await s.subscribe();
      const msg = deviceMsg(dev, { type: 'RPC message', data: { method: 'spinLeft', params: 15, requestId: 3 }, metaData: { k: 'v' } });
      const r = await runNode(requestNode(), msg, services);
      expect(r.acked).to.equal(true);
      expect(r.outputs).to.have.length(0);
      const cmd = await s.waitSent(1);
      expect(cmd).to.deep.include({ method: 'spinLeft', params: '15', oneway: false });
      expect(cmd.expirationTime).to.be.closeTo(Date.now() + 60_000, 2000);
      s.respond(cmd.requestId, '{"angle":15}');
      await waitFor(() => (r.enqueued?.length ?? 0) === 1, 'outcome message');
      const out = r.enqueued?.[0];
      expect(out?.relations).to.deep.equal(['Success']);
      expect(out?.msg).to.deep.include({ type: 'RPC message', data: '{"angle":15}', originator: msg.originator });
      expect(out?.msg.metaData).to.deep.equal(msg.metaData);
      expect(out?.msg.id).to.not.equal(msg.id);
    });

    it('REST-made data (params as JSON text) reaches the device unwrapped; one-way gives {}', async () => {
      const dev = newDeviceId();
      const s = (await transport.connect(dev)).autoDeliver();
      await s.subscribe();
      const msg = deviceMsg(dev, { data: '{"method":"rpcCommand","params":"{\\"light\\":100}","additionalInfo":null}', metaData: { oneway: 'TRUE' } });
      const r = await runNode(requestNode(), msg, services);
      await waitFor(() => (r.enqueued?.length ?? 0) === 1, 'outcome');
      expect(s.sent[0]).to.deep.include({ method: 'rpcCommand', params: '{"light":100}', oneway: true });
      expect(r.enqueued?.[0]?.msg.data).to.equal('{}');
    });

    it('persistent: Success with {"rpcId"} (the requestUUID), not the device\'s reply', async () => {
      const dev = newDeviceId();
      const id = '0b8f1d5e-1111-4222-8333-944445555666';
      const r = await runNode(requestNode(), deviceMsg(dev, { data: { method: 'm', params: {} }, metaData: { persistent: 'true', requestUUID: id, retries: '2' } }), services);
      await waitFor(() => (r.enqueued?.length ?? 0) === 1, 'outcome');
      expect(JSON.parse(r.enqueued?.[0]?.msg.data ?? '')).to.deep.equal({ rpcId: id });
      const stored = await engine.rpc.repo.get(id);
      expect(stored?.rpc.request.retries).to.equal(2);
      await engine.rpc.deleteRpc(id);
    });

    it('no device session until expiry: Failure {"error":"NO_ACTIVE_CONNECTION"}', async () => {
      const r = await runNode(requestNode(), deviceMsg(newDeviceId(), { data: { method: 'm', params: {} }, metaData: { expirationTime: String(Date.now() + 200) } }), services);
      await waitFor(() => (r.enqueued?.length ?? 0) === 1, 'outcome');
      expect(r.enqueued?.[0]?.relations).to.deep.equal(['Failure']);
      expect(r.enqueued?.[0]?.msg.data).to.equal('{"error":"NO_ACTIVE_CONNECTION"}');
    });

    it('an outcome no connection would take is not queued (the caller is answered all the same), unless a client-side request waits for its end', async () => {
      const dev = newDeviceId();
      const s = await transport.connect(dev);
      await s.subscribe();
      const node = requestNode();
      const calls = new RestRpcCalls(engine.bus, async (m) => {
        void runNode(node, m, services, () => false).then((r) => (restRun = r));
      });
      let restRun: RunResult | undefined;
      const body = parseRpcBody('{"method":"m","params":{}}', DEFAULT_RPC_SETTINGS);
      const target = { tenantId: 'tenant-1', deviceId: dev, deviceName: 'D', deviceType: 'default', route: { ruleChainId: null, queueName: null } };
      const outcome = calls.call(rpcCallMsg(target, body, { oneway: false, originServiceId: engine.serviceId, customerId: null }), body);
      s.respond((await s.waitSent(1)).requestId, '{"ok":1}');
      expect(await outcome).to.deep.equal({ rpcId: body.requestUUID, response: '{"ok":1}', error: null });
      calls.close();
      // The client-side request of another device: its outcome is queued although nothing takes it.
      const clientMsg = deviceMsg(dev, { data: { method: 'm', params: {} }, metaData: { serviceId: 'transport', sessionId: 's-1', requestId: '4' } });
      const client = await runNode(node, clientMsg, services, () => false);
      s.respond((await s.waitSent(2)).requestId, '{"ok":2}');
      await waitFor(() => (client.enqueued?.length ?? 0) === 1, 'client-side outcome');
      expect(client.enqueued?.[0]?.msg.data).to.equal('{"ok":2}');
      expect(restRun?.acked).to.equal(true);
      expect(restRun?.enqueued).to.deep.equal([], 'nothing queued for the REST call');
    });

    it('without an RPC service (a CLI run): Failure', async () => {
      const plain = testServices();
      const { node } = createNode(TbSendRPCRequestNode, {}, { services: plain });
      const r = await runNode(node, deviceMsg(newDeviceId(), { data: { method: 'm', params: 1 } }), plain);
      expect(relationsOf(r)).to.deep.equal(['Failure']);
    });

    it('a REST call gets its outcome in the API process, whichever process ran the node (S1 across three processes)', async () => {
      const api = await TestProcess.start(redis.url, { serviceId: 'api' });
      try {
        const dev = newDeviceId();
        const s = await transport.connect(dev);
        await s.subscribe();
        const node = requestNode();
        // The API process queues the message; "the rule engine" (engine) runs the node on it.
        const calls = new RestRpcCalls(api.bus, async (m) => {
          void runNode(node, m, services);
        });
        const body = parseRpcBody('{"method":"setGpio","params":{"pin":23,"value":1}}', DEFAULT_RPC_SETTINGS);
        const msg = rpcCallMsg(
          { tenantId: 'tenant-1', deviceId: dev, deviceName: 'D', deviceType: 'default', route: { ruleChainId: null, queueName: null } },
          body,
          { oneway: false, originServiceId: api.serviceId, customerId: null },
        );
        expect(msg.type).to.equal(MsgType.RPC_CALL_FROM_SERVER_TO_DEVICE);
        const outcome = calls.call(msg, body);
        const cmd = await s.waitSent(1);
        expect(cmd).to.deep.include({ method: 'setGpio', params: '{"pin":23,"value":1}' });
        s.respond(cmd.requestId, '{"ok":true}');
        expect(await outcome).to.deep.equal({ rpcId: body.requestUUID, response: '{"ok":true}', error: null });
        calls.close();
      } finally {
        await api.stop();
      }
    });
  });

  describe('rpc call reply', () => {
    const replyNode = (config = {}) => createNode(TbSendRPCReplyNode, config, { services }).node;

    it('checks originator, request id, service id, session id and body in that order', async () => {
      const node = replyNode();
      const md = { requestId: '1', serviceId: 'transport', sessionId: 's' };
      const asset = { entityType: 'ASSET' as const, id: newDeviceId() };
      expect(firstError(await runNode(node, testMsg({ originator: asset, metaData: md }), services))).to.equal('Message originator is not a device entity!');
      expect(firstError(await runNode(node, deviceMsg(newDeviceId(), { metaData: { serviceId: 'x', sessionId: 's' } }), services))).to.equal('Request id is not present in the metadata!');
      expect(firstError(await runNode(node, deviceMsg(newDeviceId(), { metaData: { requestId: '1', sessionId: 's' } }), services))).to.equal('Service id is not present in the metadata!');
      expect(firstError(await runNode(node, deviceMsg(newDeviceId(), { metaData: { requestId: '1', serviceId: 'x' } }), services))).to.equal('Session id is not present in the metadata!');
      expect(firstError(await runNode(node, deviceMsg(newDeviceId(), { metaData: md, data: '' }), services))).to.equal('Request body is empty!');
      expect(firstError(await runNode(node, deviceMsg(newDeviceId(), { metaData: { ...md, requestId: 'x' } }), services))).to.equal('For input string: "x"');
    });

    it('sends the data to the session named by the metadata, on another process, and is Success at once', async () => {
      const s = await transport.connect(newDeviceId());
      const msg = deviceMsg(s.device.deviceId, { data: '1631881236974', metaData: { requestId: '7', serviceId: 'transport', sessionId: s.sessionId } });
      const r = await runNode(replyNode(), msg, services);
      expect(relationsOf(r)).to.deep.equal(['Success']);
      await waitFor(() => s.replies.length === 1, 'reply');
      expect(s.replies[0]).to.deep.equal({ requestId: 7, payload: '1631881236974' });
    });

    it('reads the configured metadata keys; empty config values mean the defaults', async () => {
      const s = await transport.connect(newDeviceId());
      const node = replyNode({ serviceIdMetaDataAttribute: 'svc', sessionIdMetaDataAttribute: '', requestIdMetaDataAttribute: 'rid' });
      const r = await runNode(node, deviceMsg(s.device.deviceId, { data: '{}', metaData: { rid: '3', svc: 'transport', sessionId: s.sessionId } }), services);
      expect(relationsOf(r)).to.deep.equal(['Success']);
      await waitFor(() => s.replies.length === 1, 'reply');
      expect(s.replies[0].requestId).to.equal(3);
    });

    it('a session that is gone: Success all the same, the reply is dropped', async () => {
      const r = await runNode(replyNode(), deviceMsg(newDeviceId(), { metaData: { requestId: '1', serviceId: 'transport', sessionId: 'gone' } }), services);
      expect(relationsOf(r)).to.deep.equal(['Success']);
    });
  });

  describe('client-side requests the chain does not answer (beyond #6)', () => {
    async function clientRequest(requestId: number): Promise<{ msg: TbMsg; s: Awaited<ReturnType<TestProcess['connect']>> }> {
      const s = await transport.connect(newDeviceId());
      const msg = deviceMsg(s.device.deviceId, {
        type: MsgType.TO_SERVER_RPC_REQUEST,
        data: { method: 'getCurrentTime', params: {} },
        metaData: { requestId: String(requestId), serviceId: 'transport', sessionId: s.sessionId },
      });
      return { msg, s };
    }

    it('no reply node: the device gets {"error":"no reply from rule chain"} when processing ends', async () => {
      const { msg, s } = await clientRequest(4);
      expect(await engine.rpc.answerUnrepliedClientRpc(msg)).to.equal(true);
      await waitFor(() => s.replies.length === 1, 'reply');
      expect(s.replies[0]).to.deep.equal({ requestId: 4, payload: NO_REPLY_FROM_RULE_CHAIN });
      expect(await engine.rpc.answerUnrepliedClientRpc(msg)).to.equal(false, 'once only');
    });

    it('answered by a reply node: nothing more', async () => {
      const { msg, s } = await clientRequest(5);
      await runNode(createNode(TbSendRPCReplyNode, {}, { services }).node, transformMsg(msg, { data: '{"time":1}' }), services);
      expect(await engine.rpc.answerUnrepliedClientRpc(msg)).to.equal(false);
      await sleep(50);
      expect(s.replies.map((r) => r.payload)).to.deep.equal(['{"time":1}']);
    });

    it('messages that are not client-side requests are left alone', async () => {
      expect(await engine.rpc.answerUnrepliedClientRpc(deviceMsg(newDeviceId()))).to.equal(false);
    });

    it('device A asks, related device B answers through the RPC request node, A gets B\'s answer (§9)', async () => {
      const { msg: fromA, s: a } = await clientRequest(9);
      const b = await transport.connect(newDeviceId());
      await b.subscribe();
      // change originator → rpc call request on B
      const toB = transformMsg(fromA, { originator: { entityType: 'DEVICE', id: b.device.deviceId } });
      const r = await runNode(createNode(TbSendRPCRequestNode, { timeoutInSeconds: 5 }, { services }).node, toB, services);
      expect(r.acked).to.equal(true);
      // The original message's processing ends here: A must not be answered yet.
      expect(await engine.rpc.answerUnrepliedClientRpc(fromA)).to.equal(false);
      const cmd = await b.waitSent(1);
      b.respond(cmd.requestId, '{"temperature":25}');
      await waitFor(() => (r.enqueued?.length ?? 0) === 1, 'outcome');
      const outcome = r.enqueued?.[0]?.msg as TbMsg;
      // The runtime announces the queued outcome (idempotent for the node's own) ...
      await engine.rpc.noteClientRpcContinuation(outcome);
      // ... then runs it: rpc call reply answers A, and its end changes nothing.
      await runNode(createNode(TbSendRPCReplyNode, {}, { services }).node, outcome, services);
      expect(await engine.rpc.answerUnrepliedClientRpc(outcome)).to.equal(false);
      await waitFor(() => a.replies.length === 1, 'A answered');
      await sleep(50);
      expect(a.replies).to.deep.equal([{ requestId: 9, payload: '{"temperature":25}' }]);
    });

    it('a continuation queued with the same id (checkpoint) is waited for', async () => {
      const { msg, s } = await clientRequest(11);
      await engine.rpc.noteClientRpcContinuation(msg);
      expect(await engine.rpc.answerUnrepliedClientRpc(msg)).to.equal(false, 'the original ended, the checkpointed copy is still to run');
      expect(await engine.rpc.answerUnrepliedClientRpc(msg)).to.equal(true, 'the copy ended without a reply');
      await waitFor(() => s.replies.length === 1, 'reply');
    });

    it('can be turned off', async () => {
      const off = await TestProcess.start(redis.url, { settings: { answerUnrepliedClientRpc: false } });
      try {
        const { msg, s } = await clientRequest(12);
        expect(await off.rpc.answerUnrepliedClientRpc(msg)).to.equal(false);
        await sleep(50);
        expect(s.replies).to.have.length(0);
      } finally {
        await off.stop();
      }
    });
  });
});
