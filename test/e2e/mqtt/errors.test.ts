import { expect } from 'chai';
import { connect as netConnect, type Socket } from 'node:net';
import type { IDisconnectPacket } from 'mqtt-packet';
import type { MqttClient } from 'mqtt';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';
import { closed, connectDevice, startTransport, waitFor, type TransportUnderTest } from './mqtt-harness.js';

const TOKEN = 'MQTT_ERRORS_TOKEN';
const TOKEN_B = 'MQTT_ERRORS_TOKEN_B';

/** Publishes and returns the PUBACK reason code (0 = accepted). */
async function publishCode(client: MqttClient, topic: string, payload: string | Buffer): Promise<number> {
  try {
    await client.publishAsync(topic, payload, { qos: 1 });
    return 0;
  } catch (e) {
    return (e as { code?: number }).code ?? -1;
  }
}

/** Resolves with the reason code of the server's DISCONNECT (MQTT 5), or null when the socket just closed. */
function serverDisconnect(client: MqttClient): Promise<number | null> {
  return new Promise((resolve) => {
    let code: number | null = null;
    client.once('disconnect', (p: IDisconnectPacket) => (code = p.reasonCode ?? 0));
    void closed(client).then(() => resolve(code));
  });
}

describe('MQTT transport: refusals (access, size, format, rate) in 3.1.1 and 5', function () {
  this.timeout(20_000);
  let fx: StoreFixture;
  let ut: TransportUnderTest;
  let client: MqttClient;

  before(async () => {
    fx = await startStoreFixture();
    await fx.store.credentials.save(fx.tenant.id.id, fx.device.id.id, TOKEN);
    ut = await startTransport(fx, { limits: { maxPayloadBytes: 1024 } });
  });
  after(async () => {
    await ut?.close();
    await fx?.close();
  });
  afterEach(() => client?.end(true));

  describe('foreign topics', () => {
    it('SUBACK 0x80 for a filter outside the device API (both versions), logged with the device', async () => {
      for (const version of [4, 5] as const) {
        client = await connectDevice(ut.port, TOKEN, version);
        // MQTT.js 5 turns a SUBACK with a failure into an error that carries the packet.
        const granted = await client
          .subscribeAsync({ 'v1/devices/other/rpc/request/+': { qos: 1 }, 'v1/devices/me/rpc/request/+': { qos: 1 }, '#': { qos: 0 } })
          .then((g) => g.map((s) => s.qos))
          .catch((e: { packet?: { granted: number[] } }) => e.packet?.granted);
        expect(granted).to.deep.equal([0x80, 1, 0x80]);
        expect(ut.logs.some((l) => l.includes('device "Thermostat A"') && l.includes('"v1/devices/other/rpc/request/+" refused'))).to.equal(true);
        client.end(true);
      }
    });

    it('MQTT 5: PUBACK 0x87 not authorized, the connection stays', async () => {
      client = await connectDevice(ut.port, TOKEN, 5);
      expect(await publishCode(client, 'v1/devices/other/telemetry', '{"a":1}')).to.equal(0x87);
      expect(await publishCode(client, 'v1/gateway/telemetry', '{"a":1}')).to.equal(0x87);
      expect(await publishCode(client, 'v1/devices/me/telemetry', '{"a":1}')).to.equal(0);
      expect(ut.logs.some((l) => l.includes('device "Thermostat A"') && l.includes('v1/devices/other/telemetry'))).to.equal(true);
      expect(ut.transport.metrics.dropped.notAuthorized).to.equal(2);
    });

    it('MQTT 3.1.1: the connection is closed', async () => {
      client = await connectDevice(ut.port, TOKEN, 4);
      const gone = closed(client);
      client.publish('v1/devices/other/telemetry', '{"a":1}', { qos: 1 });
      await gone;
    });
  });

  describe('malformed payloads', () => {
    it('MQTT 5: PUBACK 0x99 payload format invalid for bad JSON, bad shapes and bad request ids', async () => {
      client = await connectDevice(ut.port, TOKEN, 5);
      const before = ut.transport.metrics.dropped.malformed;
      expect(await publishCode(client, 'v1/devices/me/telemetry', '{"a":')).to.equal(0x99);
      expect(await publishCode(client, 'v1/devices/me/telemetry', '42')).to.equal(0x99);
      expect(await publishCode(client, 'v1/devices/me/attributes', '[1,2]')).to.equal(0x99);
      expect(await publishCode(client, 'v1/devices/me/rpc/request/1', '{"params":{}}')).to.equal(0x99);
      expect(await publishCode(client, 'v1/devices/me/rpc/request/abc', '{"method":"m"}')).to.equal(0x99);
      expect(await publishCode(client, 'v1/devices/me/rpc/response/x1', '{}')).to.equal(0x99);
      expect(await publishCode(client, 'v1/devices/me/attributes/request/1', '{"clientKeys":5}')).to.equal(0x99);
      expect(await publishCode(client, 'v2/t/p', Buffer.from([8, 1]))).to.equal(0x99);
      expect(ut.transport.metrics.dropped.malformed - before).to.equal(7);
      expect(client.connected).to.equal(true);
    });

    it('MQTT 3.1.1: the connection is closed', async () => {
      client = await connectDevice(ut.port, TOKEN, 4);
      const gone = closed(client);
      client.publish('v1/devices/me/telemetry', 'not json', { qos: 1 });
      await gone;
      expect(ut.logs.some((l) => l.includes('device "Thermostat A"') && l.includes('payload is not valid JSON'))).to.equal(true);
    });
  });

  describe('payload size', () => {
    it('MQTT 5: DISCONNECT 0x95 packet too large (PUBACK cannot carry 0x95)', async () => {
      client = await connectDevice(ut.port, TOKEN, 5);
      expect(await publishCode(client, 'v1/devices/me/telemetry', JSON.stringify({ s: 'x'.repeat(900) }))).to.equal(0);
      const code = serverDisconnect(client);
      client.publish('v1/devices/me/telemetry', JSON.stringify({ s: 'x'.repeat(2000) }), { qos: 1 });
      expect(await code).to.equal(0x95);
    });

    it('MQTT 3.1.1: the connection is closed', async () => {
      client = await connectDevice(ut.port, TOKEN, 4);
      const gone = closed(client);
      client.publish('v1/devices/me/telemetry', JSON.stringify({ s: 'x'.repeat(2000) }), { qos: 0 });
      await gone;
    });

    it('a packet announcing a huge length is refused from its header, before it is buffered', async () => {
      client = await connectDevice(ut.port, TOKEN, 4);
      const sock = client.stream as Socket;
      const gone = closed(client);
      // PUBLISH QoS 0 announcing about 200 MB; only the header and a few bytes are sent.
      sock.write(Buffer.from([0x30, 0x80, 0x80, 0xe8, 0x5f, 0x00, 0x01, 0x61]));
      await gone;
      expect(ut.logs.some((l) => l.includes('a packet of 200933376 bytes is over the limit'))).to.equal(true);
    });

    it('counts what it refused', () => {
      expect(ut.transport.metrics.dropped.tooLarge).to.equal(3);
    });
  });

  it('anything before CONNECT closes the socket', async () => {
    const sock = netConnect(ut.port, '127.0.0.1');
    sock.setNoDelay(true);
    await new Promise((r) => sock.once('connect', r));
    sock.write(Buffer.from([0xc0, 0x00])); // PINGREQ
    await new Promise((r) => sock.once('close', r));
  });

  describe('rate limits (ThingsBoard closes the connection; MQTT 5 here gets PUBACK 0x97 quota exceeded and keeps it)', () => {
    let limited: TransportUnderTest;
    before(async () => {
      const b = await fx.store.devices.create(fx.tenant.id.id, { name: 'Thermostat B', type: 'thermostat' });
      await fx.store.credentials.save(fx.tenant.id.id, b.id.id, TOKEN_B);
    });
    afterEach(async () => limited?.close());

    it('per device: MQTT 5 gets 0x97 for messages over the rate, which are dropped', async () => {
      limited = await startTransport(fx, { limits: { deviceMsgsPerSecond: 5 } });
      client = await connectDevice(limited.port, TOKEN, 5);
      const codes: number[] = [];
      for (let i = 0; i < 8; i++) codes.push(await publishCode(client, 'v1/devices/me/telemetry', `{"i":${i}}`));
      expect(codes).to.deep.equal([0, 0, 0, 0, 0, 0x97, 0x97, 0x97]);
      expect(limited.msgs.filter((m) => m.type === 'POST_TELEMETRY_REQUEST')).to.have.length(5);
      expect(limited.transport.metrics.dropped.deviceRateLimit).to.equal(3);
      // The bucket refills at the rate: 250 ms later there is room for one more.
      await new Promise((r) => setTimeout(r, 250));
      expect(await publishCode(client, 'v1/devices/me/telemetry', '{"later":1}')).to.equal(0);
    });

    it('per device: MQTT 3.1.1 is disconnected (ThingsBoard)', async () => {
      limited = await startTransport(fx, { limits: { deviceMsgsPerSecond: 3 } });
      client = await connectDevice(limited.port, TOKEN, 4);
      const gone = closed(client);
      for (let i = 0; i < 5; i++) client.publish('v1/devices/me/telemetry', `{"i":${i}}`, { qos: 0 });
      await gone;
      expect(limited.transport.metrics.dropped.deviceRateLimit).to.equal(1);
      expect(limited.logs.some((l) => l.includes('over the device limit of 3 messages/s'))).to.equal(true);
    });

    it('per tenant: two devices share the tenant budget', async () => {
      limited = await startTransport(fx, { limits: { tenantMsgsPerSecond: 4 } });
      client = await connectDevice(limited.port, TOKEN, 5);
      const other = await connectDevice(limited.port, TOKEN_B, 5);
      const codes: number[] = [];
      for (let i = 0; i < 3; i++) {
        codes.push(await publishCode(client, 'v1/devices/me/telemetry', '{"a":1}'));
        codes.push(await publishCode(other, 'v1/devices/me/telemetry', '{"b":1}'));
      }
      expect(codes).to.deep.equal([0, 0, 0, 0, 0x97, 0x97]);
      expect(limited.transport.metrics.dropped.tenantRateLimit).to.equal(2);
      other.end(true);
    });
  });

  it('a queue that refuses: MQTT 5 PUBACK 0x80, 3.1.1 disconnect', async () => {
    client = await connectDevice(ut.port, TOKEN, 5);
    ut.failQueue = true;
    try {
      expect(await publishCode(client, 'v1/devices/me/telemetry', '{"a":1}')).to.equal(0x80);
      client.end(true);
      ut.failQueue = false;
      client = await connectDevice(ut.port, TOKEN, 4);
      ut.failQueue = true;
      const gone = closed(client);
      client.publish('v1/devices/me/telemetry', '{"a":1}', { qos: 1 });
      await gone;
    } finally {
      ut.failQueue = false;
    }
    await waitFor(() => ut.transport.metrics.dropped.queueFailed === 2);
  });

  it('an RPC reply the RPC service could not hand on (Redis away) is not acknowledged: MQTT 5 PUBACK 0x80, 3.1.1 disconnect, so the device sends it again', async () => {
    ut.rpc.responseOutcome = () => Promise.reject(new Error('Redis is away (test)'));
    try {
      client = await connectDevice(ut.port, TOKEN, 5);
      expect(await publishCode(client, 'v1/devices/me/rpc/response/3', '{"ok":true}')).to.equal(0x80);
      client.end(true);
      client = await connectDevice(ut.port, TOKEN, 4);
      const gone = closed(client);
      client.publish('v1/devices/me/rpc/response/3', '{"ok":true}', { qos: 1 });
      await gone;
      // Handed on: acknowledged.
      ut.rpc.responseOutcome = () => Promise.resolve();
      client = await connectDevice(ut.port, TOKEN, 5);
      expect(await publishCode(client, 'v1/devices/me/rpc/response/3', '{"ok":true}')).to.equal(0);
    } finally {
      ut.rpc.responseOutcome = () => Promise.resolve();
    }
  });
});
