// The REST call's body rules (spec/rpc.md §2.3, beyond #4), its rule-engine message (§3) and the
// outcome → HTTP status mapping (§2.5). No Redis needed.
import { expect } from 'chai';
import { parseRpcBody, restReply, rpcCallMsg, RpcBodyError } from '../../../src/rpc/rest-rpc.js';
import { withRpcDefaults } from '../../../src/rpc/rpc-settings.js';

const settings = withRpcDefaults();
const NOW = 1_700_000_000_000;

function refused(text: string, s = settings): RpcBodyError {
  try {
    parseRpcBody(text, s, NOW);
  } catch (e) {
    if (e instanceof RpcBodyError) return e;
    throw e;
  }
  throw new Error('accepted');
}

describe('REST RPC rules', () => {
  describe('body (§2.3)', () => {
    it('defaults: timeout 10 s, not persistent, retries null, params as JSON text, a random requestUUID', () => {
      const b = parseRpcBody('{"method":"setGpio","params":{"pin":23,"value":1}}', settings, NOW);
      expect(b).to.deep.include({ method: 'setGpio', params: '{"pin":23,"value":1}', expirationTime: NOW + 10_000, persistent: false, retries: null, additionalInfo: null });
      expect(b.requestUUID).to.match(/^[0-9a-f-]{36}$/);
    });

    it('timeout below the 5 s floor is raised; expirationTime replaces the computation', () => {
      expect(parseRpcBody('{"method":"m","timeout":100}', settings, NOW).expirationTime).to.equal(NOW + 5000);
      expect(parseRpcBody('{"method":"m","timeout":"6000"}', settings, NOW).expirationTime).to.equal(NOW + 6000);
      expect(parseRpcBody('{"method":"m","timeout":6000,"expirationTime":' + (NOW + 1000) + '}', settings, NOW).expirationTime).to.equal(NOW + 1000);
    });

    it('method as text, params missing → null, persistent/retries/additionalInfo/requestUUID read', () => {
      const id = '5C0B6B4E-0000-4000-8000-000000000001';
      const b = parseRpcBody(`{"method":12,"persistent":"true","retries":3,"additionalInfo":{"a":1},"requestUUID":"${id}"}`, settings, NOW);
      expect(b).to.deep.include({ method: '12', params: null, persistent: true, retries: 3, additionalInfo: '{"a":1}', requestUUID: id.toLowerCase() });
    });

    it('not JSON or a bad requestUUID → "Invalid request body"; no method → ThingsBoard\'s 500 case', () => {
      expect(refused('{nope').kind).to.equal('invalid');
      expect(refused('{nope').message).to.equal('Invalid request body');
      expect(refused('{"method":"m","requestUUID":"x"}').kind).to.equal('invalid');
      expect(refused('{"params":{}}').kind).to.equal('noMethod');
    });

    it('a lightweight wait longer than restMaxWaitMs is refused naming the limit (beyond #4); persistent is not', () => {
      const e = refused('{"method":"m","timeout":400000}');
      expect(e.kind).to.equal('tooLong');
      expect(e.message).to.contain('300000 ms').and.contain('RPC_REST_MAX_WAIT_MS');
      expect(parseRpcBody('{"method":"m","timeout":400000,"persistent":true}', settings, NOW).expirationTime).to.equal(NOW + 400_000);
      expect(parseRpcBody('{"method":"m","timeout":300000}', settings, NOW).expirationTime).to.equal(NOW + 300_000);
    });
  });

  it('builds RPC_CALL_FROM_SERVER_TO_DEVICE as §3 says', () => {
    const b = parseRpcBody('{"method":"rpcCommand","params":{"light":100},"retries":2}', settings, NOW);
    const msg = rpcCallMsg(
      { tenantId: 't', deviceId: 'd', deviceName: 'Lamp', deviceType: 'lamp', route: { ruleChainId: 'chain', queueName: 'HighPriority' } },
      b,
      { oneway: true, originServiceId: 'api-1', customerId: 'c' },
    );
    expect(msg).to.deep.include({ type: 'RPC_CALL_FROM_SERVER_TO_DEVICE', customerId: 'c', tenantId: 't', ruleChainId: 'chain', queueName: 'HighPriority' });
    expect(msg.originator).to.deep.equal({ entityType: 'DEVICE', id: 'd' });
    expect(msg.data).to.equal('{"method":"rpcCommand","params":"{\\"light\\":100}","additionalInfo":null}');
    expect(msg.metaData).to.deep.equal({
      requestUUID: b.requestUUID,
      originServiceId: 'api-1',
      expirationTime: String(NOW + 10_000),
      oneway: 'true',
      persistent: 'false',
      retries: '2',
      deviceName: 'Lamp',
      deviceType: 'lamp',
    });
  });

  it('maps outcomes to statuses (§2.5)', () => {
    const o = (response: string | null, error: 'TIMEOUT' | 'NO_ACTIVE_CONNECTION' | 'INTERNAL' | null = null) => ({ rpcId: 'x', response, error });
    expect(restReply(o(null, 'TIMEOUT'), 'v1')).to.deep.equal({ status: 408 });
    expect(restReply(o(null, 'NO_ACTIVE_CONNECTION'), 'v1')).to.deep.equal({ status: 409 });
    expect(restReply(o(null, 'INTERNAL'), 'v1')).to.deep.equal({ status: 408 });
    expect(restReply(o(null, 'NO_ACTIVE_CONNECTION'), 'v2')).to.deep.equal({ status: 504 });
    expect(restReply(o(null, 'TIMEOUT'), 'v2')).to.deep.equal({ status: 504 });
    expect(restReply(o('{"ok":true}'), 'v2')).to.deep.equal({ status: 200, body: '{"ok":true}' });
    expect(restReply(o('42'), 'v1')).to.deep.equal({ status: 200, body: '42' });
    expect(restReply(o('ok'), 'v2')).to.deep.equal({ status: 406 });
    expect(restReply(o(''), 'v2')).to.deep.equal({ status: 200 });
    expect(restReply(o(null), 'v2')).to.deep.equal({ status: 200 });
  });
});
