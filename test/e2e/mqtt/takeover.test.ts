import { expect } from 'chai';
import type { IDisconnectPacket } from 'mqtt-packet';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';
import { closed, connectDevice, startTransport, waitFor, type TransportUnderTest } from './mqtt-harness.js';

const TOKEN = 'MQTT_TAKEOVER_TOKEN';

describe('MQTT transport: one session per device, across processes', function () {
  this.timeout(20_000);
  let fx: StoreFixture;
  // Two transports, each with its own ServiceBus and SessionRegistry: two "processes".
  let a: TransportUnderTest;
  let b: TransportUnderTest;

  before(async () => {
    fx = await startStoreFixture();
    await fx.store.credentials.save(fx.tenant.id.id, fx.device.id.id, TOKEN);
    a = await startTransport(fx, { serviceId: 'transport-a' });
    b = await startTransport(fx, { serviceId: 'transport-b' });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await fx?.close();
  });

  it('a new connection on another process closes the old one (MQTT 5: DISCONNECT 0x8E session taken over)', async () => {
    const first = await connectDevice(a.port, TOKEN, 5);
    await first.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });
    let reason: number | undefined;
    first.on('disconnect', (p: IDisconnectPacket) => (reason = p.reasonCode));
    const firstGone = closed(first);
    const second = await connectDevice(b.port, TOKEN, 4);
    await firstGone;
    expect(reason).to.equal(0x8e);
    await waitFor(() => a.transport.metrics.sessions === 0);
    expect(a.rpc.calls.some((c) => c.kind === 'closed')).to.equal(true);
    const locations = await b.sessions.locateAll(fx.device.id.id);
    expect(locations.map((l) => l.serviceId)).to.deep.equal(['transport-b']);
    expect(b.transport.metrics.sessions).to.equal(1);
    await second.endAsync();
  });

  it('the same process: the older session is closed at once', async () => {
    const first = await connectDevice(a.port, TOKEN, 4);
    const firstGone = closed(first);
    const second = await connectDevice(a.port, TOKEN, 4);
    await firstGone;
    expect(second.connected).to.equal(true);
    await waitFor(() => a.transport.metrics.sessions === 1);
    await second.endAsync();
  });

  it('exclusiveSessions false keeps both', async () => {
    const shared = await startTransport(fx, { exclusiveSessions: false });
    try {
      const one = await connectDevice(shared.port, TOKEN, 4);
      const two = await connectDevice(shared.port, TOKEN, 5);
      await waitFor(() => shared.transport.metrics.sessions === 2);
      expect(one.connected && two.connected).to.equal(true);
      await Promise.all([one.endAsync(), two.endAsync()]);
    } finally {
      await shared.close();
    }
  });
});
