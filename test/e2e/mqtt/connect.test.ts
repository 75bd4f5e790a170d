import { expect } from 'chai';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';
import { closed, connectDevice, connectRefused, sleep, startTransport, waitFor, type TransportUnderTest } from './mqtt-harness.js';

const TOKEN = 'MQTT_CONNECT_TOKEN_1';

describe('MQTT transport: connect, events, keep-alive', function () {
  this.timeout(20_000);
  let fx: StoreFixture;
  let ut: TransportUnderTest;

  before(async () => {
    fx = await startStoreFixture();
    await fx.store.credentials.save(fx.tenant.id.id, fx.device.id.id, TOKEN);
    ut = await startTransport(fx, { limits: { inactivityTimeoutMs: 400 }, activityReportIntervalMs: 200 });
  });
  after(async () => {
    await ut?.close();
    await fx?.close();
  });

  for (const version of [4, 5] as const) {
    describe(`MQTT ${version === 5 ? '5' : '3.1.1'}`, () => {
      it('accepts the access token as user name and records CONNECT_EVENT, then DISCONNECT_EVENT', async () => {
        const before = ut.msgs.length;
        const client = await connectDevice(ut.port, TOKEN, version);
        const connect = await waitFor(() => ut.msgs.slice(before).find((m) => m.type === 'CONNECT_EVENT'));
        expect(connect.originator).to.deep.equal({ entityType: 'DEVICE', id: fx.device.id.id });
        expect(connect.metaData.deviceName).to.equal('Thermostat A');
        expect(JSON.parse(connect.data)).to.include({ active: true });
        expect(ut.transport.metrics.sessions).to.equal(1);
        await client.endAsync();
        await waitFor(() => ut.msgs.slice(before).find((m) => m.type === 'DISCONNECT_EVENT'));
        await waitFor(() => ut.transport.metrics.sessions === 0);
      });

      it('refuses an unknown token with "not authorized" and a missing one with "bad user name or password"', async () => {
        expect(await connectRefused(ut.port, 'NO_SUCH_TOKEN', version)).to.equal(version === 5 ? 0x87 : 5);
        expect(await connectRefused(ut.port, undefined, version)).to.equal(version === 5 ? 0x86 : 4);
        expect(ut.logs.some((l) => l.includes('unknown access token'))).to.equal(true);
      });
    });
  }

  it('reports ACTIVITY_EVENT at most once per interval and INACTIVITY_EVENT after silence', async () => {
    const client = await connectDevice(ut.port, TOKEN, 4);
    const from = ut.msgs.length;
    await sleep(250);
    // Several publishes inside one interval: one ACTIVITY_EVENT.
    for (let i = 0; i < 5; i++) await client.publishAsync('v1/devices/me/telemetry', JSON.stringify({ t: i }), { qos: 1 });
    const activity = () => ut.msgs.slice(from).filter((m) => m.type === 'ACTIVITY_EVENT');
    expect(activity()).to.have.length(1);
    const inactive = await waitFor(() => ut.msgs.slice(from).find((m) => m.type === 'INACTIVITY_EVENT'), 3000, 'INACTIVITY_EVENT');
    expect(JSON.parse(inactive.data)).to.include({ active: false });
    // Activity after inactivity is reported at once.
    await client.publishAsync('v1/devices/me/telemetry', '{"t":9}', { qos: 1 });
    expect(activity()).to.have.length(2);
    await client.endAsync();
  });

  it('closes a connection silent for 1.5 keep-alive periods', async () => {
    const client = await connectDevice(ut.port, TOKEN, 4, { keepalive: 1 });
    // Stop MQTT.js from pinging: its keep-alive manager is replaced by nothing.
    client.options.keepalive = 0;
    const stream = client.stream;
    stream.write = (() => true) as typeof stream.write;
    const t0 = Date.now();
    await closed(client);
    expect(Date.now() - t0).to.be.within(900, 3000);
  });
});
