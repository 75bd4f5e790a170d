// Client-side RPC (spec/rpc.md §8, S10) over the three transports, answered by the shipped root
// chain (rule-chains/root_rule_chain.json: getCurrentTime → script → RPC call reply), and the
// answer a request gets at once when the chain ends without replying (beyond-thingsboard #6).
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import type { MqttClient } from 'mqtt';
import { SHIPPED_ROOT_CHAIN } from '../../../src/app/demo.js';
import { coapCall, mqttConnect, startScenarioSystem, type ScenarioSystem, type TestDevice } from './kit.js';

const NO_REPLY = { error: 'no reply from rule chain' };

describe('client-side RPC over MQTT, HTTP and CoAP with the shipped root chain (S10)', function () {
  this.timeout(15_000);
  let s: ScenarioSystem;
  let dev: TestDevice;

  before(async () => {
    s = await startScenarioSystem({ rootChain: JSON.parse(await readFile(SHIPPED_ROOT_CHAIN, 'utf8')) as unknown });
    dev = await s.device('Client-side RPC device');
  });
  after(async () => {
    await s?.close();
  });

  /** Publishes a request on `requestTopic` and resolves with the first message on `responseFilter`. */
  async function mqttAsk(client: MqttClient, responseFilter: string, requestTopic: string, body: unknown): Promise<{ topic: string; payload: string; ms: number }> {
    await client.subscribeAsync(responseFilter, { qos: 1 });
    const got = new Promise<{ topic: string; payload: string }>((resolve) => client.once('message', (topic, p) => resolve({ topic, payload: p.toString() })));
    const t0 = Date.now();
    await client.publishAsync(requestTopic, JSON.stringify(body), { qos: 1 });
    const answer = await got;
    return { ...answer, ms: Date.now() - t0 };
  }

  it('MQTT v1 topics: getCurrentTime on request/11 → response/11 with the time; an unanswered method gets the error at once', async () => {
    const client = await mqttConnect(s.mqttPort, dev.token);
    try {
      const before = Date.now();
      const time = await mqttAsk(client, 'v1/devices/me/rpc/response/+', 'v1/devices/me/rpc/request/11', { method: 'getCurrentTime', params: {} });
      expect(time.topic).to.equal('v1/devices/me/rpc/response/11');
      expect(Number(time.payload)).to.be.within(before, Date.now());
      const none = await mqttAsk(client, 'v1/devices/me/rpc/response/+', 'v1/devices/me/rpc/request/12', { method: 'setNothing', params: { a: 1 } });
      expect(none.topic).to.equal('v1/devices/me/rpc/response/12');
      expect(JSON.parse(none.payload)).to.deep.equal(NO_REPLY);
      expect(none.ms).to.be.below(3000);
    } finally {
      await client.endAsync(true);
    }
  });

  it('MQTT v2 short topics: v2/r/req/5 → v2/r/res/5', async () => {
    const client = await mqttConnect(s.mqttPort, dev.token);
    try {
      const before = Date.now();
      const time = await mqttAsk(client, 'v2/r/res/+', 'v2/r/req/5', { method: 'getCurrentTime', params: {} });
      expect(time.topic).to.equal('v2/r/res/5');
      expect(Number(time.payload)).to.be.within(before, Date.now());
    } finally {
      await client.endAsync(true);
    }
  });

  it('HTTP POST /api/v1/{token}/rpc: 200 with the time; an unanswered method gets the error at once; bad token 401', async () => {
    const before = Date.now();
    const time = await s.api.call('POST', `/api/v1/${dev.token}/rpc`, { body: { method: 'getCurrentTime', params: {} } });
    expect(time.status).to.equal(200);
    expect(time.json).to.be.a('number');
    expect(Number(time.json)).to.be.within(before, Date.now());
    const t0 = Date.now();
    const none = await s.api.call('POST', `/api/v1/${dev.token}/rpc`, { body: { method: 'setNothing', params: {} } });
    expect([none.status, none.json]).to.deep.equal([200, NO_REPLY]);
    expect(Date.now() - t0).to.be.below(3000);
    expect((await s.api.call('POST', '/api/v1/NO_SUCH_TOKEN/rpc', { body: { method: 'getCurrentTime', params: {} } })).status).to.equal(401);
  });

  it('CoAP POST coap://…/api/v1/{token}/rpc: 2.05 with the time; an unanswered method gets the error at once', async () => {
    const before = Date.now();
    const time = await coapCall(s.coapPort, 'POST', `/api/v1/${dev.token}/rpc`, JSON.stringify({ method: 'getCurrentTime', params: {} }));
    expect(time.code).to.equal('2.05');
    expect(Number(time.text)).to.be.within(before, Date.now());
    const t0 = Date.now();
    const none = await coapCall(s.coapPort, 'POST', `/api/v1/${dev.token}/rpc`, JSON.stringify({ method: 'setNothing', params: {} }));
    expect(none.code).to.equal('2.05');
    expect(JSON.parse(none.text)).to.deep.equal(NO_REPLY);
    expect(Date.now() - t0).to.be.below(3000);
  });
});
