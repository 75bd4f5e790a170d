// Topics and filters named like Object.prototype members ("constructor", "__proto__", ...) are
// ordinary unknown names: each gets exactly what a made-up name in the same place gets. Found by
// the MQTT fuzzer (docs/reliability.md): a publish to "constructor" went unanswered and a
// SUBSCRIBE to "constructor" was granted, because the topic tables were plain objects.
import { expect } from 'chai';
import type { MqttClient } from 'mqtt';
import type { MqttDeviceSession } from '../../../src/transport/mqtt/session.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';
import { closed, connectDevice, sleep, startTransport, type TransportUnderTest } from './mqtt-harness.js';

const TOKEN = 'MQTT_PROTOTYPE_TOPICS_TOKEN';

const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__'];

/** Where a name is put, and a made-up name whose outcome it must share. */
const PLACES: readonly { readonly topic: (name: string) => string; readonly control: string }[] = [
  { topic: (n) => n, control: 'made-up-topic' },
  { topic: (n) => `v1/devices/me/${n}`, control: 'v1/devices/me/madeup' },
  { topic: (n) => `v2/${n}`, control: 'v2/madeup' },
  { topic: (n) => `v1/devices/me/rpc/request/${n}`, control: 'v1/devices/me/rpc/request/madeup' },
  { topic: (n) => `v1/devices/me/rpc/response/${n}`, control: 'v1/devices/me/rpc/response/madeup' },
  { topic: (n) => `v1/devices/me/attributes/request/${n}`, control: 'v1/devices/me/attributes/request/madeup' },
];

const FILTERS = (n: string): string[] => [n, `v1/devices/me/${n}`, `v1/devices/me/rpc/request/${n}`, `v2/r/req/${n}`, `v2/${n}`, `${n}/+`];

type PublishOutcome = 'PUBACK 0x00' | `PUBACK 0x${string}` | 'closed' | 'no answer';

/** A QoS 1 publish must be answered or refused; past this it counts as the hang it was. */
const ANSWER_WITHIN_MS = 5000;

describe('MQTT transport: topics named like Object.prototype members (3.1.1 and 5)', function () {
  this.timeout(60_000);
  let fx: StoreFixture;
  let ut: TransportUnderTest;
  let client: MqttClient | undefined;

  before(async () => {
    fx = await startStoreFixture();
    await fx.store.credentials.save(fx.tenant.id.id, fx.device.id.id, TOKEN);
    ut = await startTransport(fx);
  });
  after(async () => {
    client?.end(true);
    await ut?.close();
    await fx?.close();
  });

  /** A QoS 1 publish on a fresh connection: its PUBACK reason code, or 'closed' when the server closed the connection. */
  async function publishOutcome(version: 4 | 5, topic: string): Promise<PublishOutcome> {
    client?.end(true);
    const c = await connectDevice(ut.port, TOKEN, version);
    client = c;
    const gone = closed(c).then((): PublishOutcome => 'closed');
    const acked = c.publishAsync(topic, '{"a":1}', { qos: 1 }).then(
      (): PublishOutcome => 'PUBACK 0x00',
      (e: { code?: number }): PublishOutcome | Promise<PublishOutcome> => (typeof e.code === 'number' ? `PUBACK 0x${e.code.toString(16)}` : gone),
    );
    return Promise.race([acked, gone, sleep(ANSWER_WITHIN_MS).then((): PublishOutcome => 'no answer')]);
  }

  /** SUBSCRIBE on the open connection: the granted QoS / reason code per filter. */
  async function subscribeCodes(version: 4 | 5, filters: readonly string[]): Promise<number[] | undefined> {
    client?.end(true);
    const c = await connectDevice(ut.port, TOKEN, version);
    client = c;
    // MQTT.js 5 turns a SUBACK with a failure into an error that carries the packet.
    return c
      .subscribeAsync([...filters], { qos: 1 })
      .then((g) => g.map((s) => s.qos))
      .catch((e: { packet?: { granted: number[] } }) => e.packet?.granted);
  }

  for (const version of [4, 5] as const) {
    describe(`MQTT ${version === 5 ? '5' : '3.1.1'}`, () => {
      it(`a publish to a bare prototype name is refused as any foreign topic (${version === 5 ? 'PUBACK 0x87' : 'connection closed'}), nothing reaches the rule engine`, async () => {
        const from = ut.msgs.length;
        const refusedBefore = ut.transport.metrics.dropped.notAuthorized;
        for (const name of PROTOTYPE_NAMES) {
          expect(await publishOutcome(version, name), `topic "${name}"`).to.equal(version === 5 ? 'PUBACK 0x87' : 'closed');
        }
        expect(ut.transport.metrics.dropped.notAuthorized - refusedBefore).to.equal(PROTOTYPE_NAMES.length);
        expect(ut.msgs.slice(from).filter((m) => !m.type.endsWith('_EVENT'))).to.have.length(0);
      });

      it('inside the device API a prototype name gets what a made-up name in the same place gets', async () => {
        for (const place of PLACES) {
          const expected = await publishOutcome(version, place.control);
          for (const name of PROTOTYPE_NAMES) {
            expect(await publishOutcome(version, place.topic(name)), `topic "${place.topic(name)}" (as "${place.control}")`).to.equal(expected);
          }
        }
      });

      it('a SUBSCRIBE to a prototype-named filter is refused with 0x80, next to a granted one', async () => {
        for (const name of PROTOTYPE_NAMES) {
          const filters = FILTERS(name);
          const granted = await subscribeCodes(version, [...filters, 'v1/devices/me/attributes']);
          expect(granted, `filters ${JSON.stringify(filters)}`).to.deep.equal([...filters.map(() => 0x80), 1]);
        }
        // Nothing refused became a subscription: only the real one is held.
        const session = ut.sessions.localOfDevice(fx.device.id.id)[0] as MqttDeviceSession;
        expect([...session.subscriptions.keys()]).to.deep.equal(['v1/devices/me/attributes']);
        expect(session.rpcSubscribed).to.equal(false);
      });
    });
  }

  it('the made-up controls behave as documented (so the comparison above means something)', async () => {
    expect(await publishOutcome(5, 'made-up-topic')).to.equal('PUBACK 0x87');
    expect(await publishOutcome(5, 'v1/devices/me/madeup')).to.equal('PUBACK 0x00');
    expect(await publishOutcome(5, 'v1/devices/me/rpc/request/madeup')).to.equal('PUBACK 0x99');
    expect(await publishOutcome(5, 'v1/devices/me/attributes/request/madeup')).to.equal('PUBACK 0x99');
    expect(await publishOutcome(4, 'v1/devices/me/rpc/response/madeup')).to.equal('closed');
  });
});
