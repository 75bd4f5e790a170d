// Interoperability with another client implementation: Debian's mosquitto_pub / mosquitto_sub.
import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { MqttDeviceSession } from '../../../src/transport/mqtt/session.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';
import { startTransport, waitFor, type TransportUnderTest } from './mqtt-harness.js';

const run = promisify(execFile);
const TOKEN = 'MQTT_MOSQUITTO_TOKEN';

describe('MQTT transport with mosquitto clients', function () {
  this.timeout(20_000);
  let fx: StoreFixture;
  let ut: TransportUnderTest;

  before(async function () {
    try {
      await run('mosquitto_pub', ['--help']).catch((e: { code?: unknown }) => {
        if (e.code === 'ENOENT') throw e; // --help exits non-zero; only a missing binary matters
      });
    } catch {
      this.skip(); // apt-get install mosquitto-clients
    }
    fx = await startStoreFixture();
    await fx.store.credentials.save(fx.tenant.id.id, fx.device.id.id, TOKEN);
    ut = await startTransport(fx);
  });
  after(async () => {
    await ut?.close();
    await fx?.close();
  });

  for (const version of ['mqttv31', 'mqttv311', 'mqttv5'] as const) {
    it(`mosquitto_pub (${version}) telemetry at QoS 1 reaches the rule engine`, async () => {
      const from = ut.msgs.length;
      await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(ut.port), '-V', version, '-u', TOKEN, '-q', '1', '-t', 'v1/devices/me/telemetry', '-m', '{"temperature":42}']);
      const msg = await waitFor(() => ut.msgs.slice(from).find((m) => m.type === 'POST_TELEMETRY_REQUEST'));
      expect(JSON.parse(msg.data)).to.deep.equal({ temperature: 42 });
      expect(msg.originator.id).to.equal(fx.device.id.id);
    });
  }

  it('mosquitto_sub receives a server command and the PUBACK makes it DELIVERED', async () => {
    const from = ut.rpc.calls.length;
    const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(ut.port), '-u', TOKEN, '-q', '1', '-t', 'v1/devices/me/rpc/request/+', '-C', '1', '-v'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    sub.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => sub.once('exit', (code) => resolve(code)));
    try {
      const subscribed = await waitFor(() => ut.rpc.calls.slice(from).find((c) => c.kind === 'subscribe'));
      (subscribed.session as MqttDeviceSession).sendRpcRequest({
        requestId: 5,
        method: 'setGpio',
        params: '{"pin":23,"value":1}',
        oneway: true,
        persistent: false,
        expirationTime: Date.now() + 10_000,
      });
      expect(await exited).to.equal(0);
      expect(out.trim()).to.equal('v1/devices/me/rpc/request/5 {"method":"setGpio","params":{"pin":23,"value":1}}');
      await waitFor(() => ut.rpc.statuses(5).includes('DELIVERED'));
    } finally {
      sub.kill();
    }
  });
});
