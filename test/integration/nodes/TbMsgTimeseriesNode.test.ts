import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { JsonObject, NodeOutput } from '../../../src/engine/node-api.js';
import type { EntityId } from '../../../src/msg/entity.js';
import { TbMsgTimeseriesNode } from '../../../src/nodes/action/TbMsgTimeseriesNode.js';
import { createNode, relationsOf, runNode, testServices, expectStoreNeeded } from '../../helpers/node-harness.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';

describe('TbMsgTimeseriesNode (save time series)', () => {
  let fx: StoreFixture;
  before(async () => {
    fx = await startStoreFixture();
  });
  after(() => fx.close());

  const newDevice = (): EntityId => ({ entityType: 'DEVICE', id: randomUUID() });
  const make = (config: JsonObject = {}, opts: { configurationVersion?: number; now?: number } = {}) => {
    const services = opts.now === undefined ? fx.services : { ...fx.services, now: () => opts.now as number };
    return createNode(TbMsgTimeseriesNode, config, { configurationVersion: opts.configurationVersion, services });
  };
  const run = async (config: JsonObject, data: unknown, init: { originator?: EntityId; metaData?: Record<string, string>; type?: string } = {}) => {
    const originator = init.originator ?? newDevice();
    const { node, services } = make(config);
    const msg = fx.msg({ originator, ...(init.type ? { type: init.type } : {}), data: typeof data === 'string' ? data : JSON.stringify(data), metaData: init.metaData ?? { ts: '1700000000000' } });
    return { originator, msg, result: await runNode(node, msg, services) };
  };
  const errorOf = (outputs: readonly NodeOutput[]) => (outputs[0]?.kind === 'tell' ? outputs[0].error : undefined);
  const history = (e: EntityId, key: string) => fx.store.timeseries.getHistory(e, [key], { startTs: 0, endTs: Number.MAX_SAFE_INTEGER });

  it('fills the catalogue defaults', () => {
    expect(make().config).to.deep.equal(TbMsgTimeseriesNode.defaultConfig);
    expect(TbMsgTimeseriesNode.defaultConfig).to.deep.equal({ defaultTTL: 0, useServerTs: false, processingSettings: { type: 'ON_EVERY_MESSAGE' } });
  });

  it('saves {k: v} at metadata.ts as history and latest, and passes the message on unchanged', async () => {
    const { originator, msg, result } = await run({}, { temperature: 25, on: true, label: 'x', cfg: { a: [1] } });
    expect(relationsOf(result)).to.deep.equal(['Success']);
    expect(result.outputs[0]?.msg).to.equal(msg);
    expect(await fx.store.timeseries.getLatest(originator)).to.deep.equal({
      cfg: { ts: 1700000000000, value: { a: [1] } },
      label: { ts: 1700000000000, value: 'x' },
      on: { ts: 1700000000000, value: true },
      temperature: { ts: 1700000000000, value: 25 },
    });
    expect(await history(originator, 'temperature')).to.deep.equal({ temperature: [{ ts: 1700000000000, value: 25 }] });
  });

  it('reads the {ts, values} form and arrays of both forms', async () => {
    const { originator, result } = await run({}, [{ ts: 1000, values: { t: 1 } }, { ts: '2000', values: { t: 2 } }, { h: 50 }]);
    expect(relationsOf(result)).to.deep.equal(['Success']);
    expect(await history(originator, 't')).to.deep.equal({ t: [{ ts: 2000, value: 2 }, { ts: 1000, value: 1 }] });
    expect(await history(originator, 'h')).to.deep.equal({ h: [{ ts: 1700000000000, value: 50 }] });
    const single = await run({}, { ts: 3000, values: { t: 3 } });
    expect(await fx.store.timeseries.getLatest(single.originator)).to.deep.equal({ t: { ts: 3000, value: 3 } });
  });

  it('casts numeric strings to numbers like ThingsBoard (type cast enabled)', async () => {
    const { originator } = await run({}, { i: '25', d: '1.50', neg: '-3', plus: '+3', hex: '0x1F', exp: '1e5', text: 'abc', big: '12345678901234567890' });
    const latest = await fx.store.timeseries.getLatest(originator);
    expect(Object.fromEntries(Object.entries(latest).map(([k, v]) => [k, v.value]))).to.deep.equal({
      big: '12345678901234567890',
      d: 1.5,
      exp: '1e5',
      hex: '0x1F',
      i: 25,
      neg: -3,
      plus: '+3',
      text: 'abc',
    });
  });

  it('falls back to the message ts when metadata.ts is missing or not a number; useServerTs takes the clock', async () => {
    const a = await run({}, { v: 1 }, { metaData: { ts: 'soon' } });
    expect((await fx.store.timeseries.getLatest(a.originator)).v?.ts).to.equal(a.msg.ts);
    const originator = newDevice();
    const { node, services } = make({ useServerTs: true }, { now: 42_000 });
    await runNode(node, fx.msg({ originator, data: '{"v":2}', metaData: { ts: '1700000000000' } }), services);
    expect(await fx.store.timeseries.getLatest(originator)).to.deep.equal({ v: { ts: 42_000, value: 2 } });
  });

  it('metadata.TTL overrides defaultTTL (history expires, latest stays)', async () => {
    const a = await run({ defaultTTL: 100 }, { v: 1 }, { metaData: { ts: String(Date.now()), TTL: '50' } });
    const pttlA = await fx.redis.pttl(fx.store.keys.timeseries(a.originator, 'v'));
    expect(pttlA).to.be.within(40_000, 50_000);
    const b = await run({ defaultTTL: 100 }, { v: 1 }, { metaData: { ts: String(Date.now()) } });
    expect(await fx.redis.pttl(fx.store.keys.timeseries(b.originator, 'v'))).to.be.within(90_000, 100_000);
    const c = await run({}, { v: 1 });
    expect(await fx.redis.pttl(fx.store.keys.timeseries(c.originator, 'v'))).to.equal(-1);
    const bad = await run({}, { v: 1 }, { metaData: { TTL: 'week' } });
    expect(relationsOf(bad.result)).to.deep.equal(['Failure']);
    expect(errorOf(bad.result.outputs)).to.equal('metadata.TTL "week" is not a whole number of seconds');
  });

  it('refuses other message types, empty and unreadable data, null values, a missing tenant, and reports store errors', async () => {
    const cases: [unknown, string, Record<string, string>?, string?][] = [
      [{ v: 1 }, 'Unsupported msg type: POST_ATTRIBUTES_REQUEST', undefined, 'POST_ATTRIBUTES_REQUEST'],
      [{}, 'Msg body is empty: {}'],
      [[], 'Msg body is empty: []'],
      ['not json', 'Msg data is not a valid JSON: not json'],
      [5, "Can't parse value: 5"],
      [[1], "Can't parse value: 1"],
      [{ v: null }, "Can't parse value: null"],
      [{ ts: 1, values: 3 }, 'Not a JSON Object: 3'],
      [{ ts: 'x', values: { v: 1 } }, 'Can\'t parse value: ts "x"'],
      [{ ts: -5, values: { v: 1 } }, 'invalid timestamp -5'],
    ];
    for (const [data, error, metaData, type] of cases) {
      const { originator, result } = await run({}, data, { metaData, type });
      expect(relationsOf(result), error).to.deep.equal(['Failure']);
      expect(errorOf(result.outputs)).to.equal(error);
      expect(await fx.store.timeseries.getLatest(originator)).to.deep.equal({});
    }
    const { node, services } = make();
    const noTenant = await runNode(node, { ...fx.msg(), tenantId: null }, services);
    expect(relationsOf(noTenant)).to.deep.equal(['Failure']);
    expect(errorOf(noTenant.outputs)).to.match(/has no tenantId/);
  });

  it('ADVANCED: latest=SKIP writes history only, timeseries=SKIP writes latest only', async () => {
    const advanced = (timeseries: string, latest: string) => ({
      processingSettings: { type: 'ADVANCED', timeseries: { type: timeseries }, latest: { type: latest }, webSockets: { type: 'ON_EVERY_MESSAGE' }, calculatedFields: { type: 'SKIP' } },
    });
    const h = await run(advanced('ON_EVERY_MESSAGE', 'SKIP'), [{ ts: 1000, values: { v: 7, w: 'x' } }, { ts: 2000, values: { v: 8 } }]);
    expect(relationsOf(h.result)).to.deep.equal(['Success']);
    expect(await fx.store.timeseries.getLatest(h.originator)).to.deep.equal({});
    expect(await history(h.originator, 'v')).to.deep.equal({ v: [{ ts: 2000, value: 8 }, { ts: 1000, value: 7 }] });
    expect(await history(h.originator, 'w')).to.deep.equal({ w: [{ ts: 1000, value: 'x' }] });
    expect((await fx.redis.smembers(fx.store.keys.timeseriesKeys(h.originator))).sort()).to.deep.equal(['v', 'w']);

    const l = await run(advanced('SKIP', 'ON_EVERY_MESSAGE'), { v: 8, w: true });
    expect(await fx.store.timeseries.getLatest(l.originator)).to.deep.equal({ v: { ts: 1700000000000, value: 8 }, w: { ts: 1700000000000, value: true } });
    expect(await history(l.originator, 'v')).to.deep.equal({});
    expect(await fx.redis.exists(fx.store.keys.timeseriesKeys(l.originator))).to.equal(0);
    // Latest only moves forward.
    const { node, services } = make(advanced('SKIP', 'ON_EVERY_MESSAGE'));
    await runNode(node, fx.msg({ originator: l.originator, data: '{"v":1}', metaData: { ts: '1600000000000' } }), services);
    expect((await fx.store.timeseries.getLatest(l.originator)).v?.value).to.equal(8);

    // History only, with a TTL: the history key expires.
    const t = await run(advanced('ON_EVERY_MESSAGE', 'SKIP'), { v: 9 }, { metaData: { ts: String(Date.now()), TTL: '30' } });
    expect(await fx.redis.pttl(fx.store.keys.timeseries(t.originator, 'v'))).to.be.within(20_000, 30_000);
  });

  it('WEBSOCKETS_ONLY and all-SKIP save nothing; all-SKIP does not even read the data', async () => {
    const ws = await run({ processingSettings: { type: 'WEBSOCKETS_ONLY' } }, { v: 1 });
    expect(relationsOf(ws.result)).to.deep.equal(['Success']);
    expect(await fx.store.timeseries.getLatest(ws.originator)).to.deep.equal({});
    const skip = { type: 'SKIP' };
    const none = await run({ processingSettings: { type: 'ADVANCED', timeseries: skip, latest: skip, webSockets: skip, calculatedFields: skip } }, 'garbage');
    expect(relationsOf(none.result)).to.deep.equal(['Success']);
  });

  it('DEDUPLICATE saves the first message per originator and interval', async () => {
    const { node, services } = make({ processingSettings: { type: 'DEDUPLICATE', deduplicationIntervalSecs: 60 } });
    const a = newDevice();
    const b = newDevice();
    const send = (e: EntityId, ts: number, v: number) => runNode(node, fx.msg({ originator: e, data: JSON.stringify({ v }), metaData: { ts: String(ts) } }), services);
    for (const [e, ts, v] of [[a, 60_000, 1], [a, 119_999, 2], [b, 61_000, 3], [a, 120_000, 4]] as const) {
      expect(relationsOf(await send(e, ts, v))).to.deep.equal(['Success']);
    }
    expect(await history(a, 'v')).to.deep.equal({ v: [{ ts: 120_000, value: 4 }, { ts: 60_000, value: 1 }] });
    expect(await history(b, 'v')).to.deep.equal({ v: [{ ts: 61_000, value: 3 }] });
  });

  it('refuses a bad deduplication interval and an unknown settings type at creation', () => {
    expect(() => make({ processingSettings: { type: 'DEDUPLICATE', deduplicationIntervalSecs: 0 } })).to.throw(
      'Deduplication interval must be at least 1 second(s) and at most 86400 second(s), was 0 second(s)',
    );
    expect(() => make({ processingSettings: { type: 'ADVANCED', timeseries: { type: 'DEDUPLICATE', deduplicationIntervalSecs: 90_000 }, latest: { type: 'SKIP' }, webSockets: { type: 'SKIP' }, calculatedFields: { type: 'SKIP' } } })).to.throw(
      'was 90000 second(s)',
    );
    expect(() => make({ processingSettings: { type: 'DEDUPLICATE' } })).to.throw(/deduplicationIntervalSecs/);
    expect(() => make({ processingSettings: { type: 'ADVANCED', latest: { type: 'SKIP' } } })).to.throw(/timeseries/);
    expect(() => make({ processingSettings: { type: 'SOMETIMES' } })).to.throw(/must be one of/);
  });

  it('upgrades v0: skipLatestPersistence true → ADVANCED latest SKIP, otherwise ON_EVERY_MESSAGE; the key goes', () => {
    const skip = make({ defaultTTL: 5, skipLatestPersistence: true }, { configurationVersion: 0 }).config;
    expect(skip).to.deep.equal({
      defaultTTL: 5,
      useServerTs: false,
      processingSettings: {
        type: 'ADVANCED',
        timeseries: { type: 'ON_EVERY_MESSAGE' },
        latest: { type: 'SKIP' },
        webSockets: { type: 'ON_EVERY_MESSAGE' },
        calculatedFields: { type: 'ON_EVERY_MESSAGE' },
      },
    });
    expect(make({ skipLatestPersistence: 'true' }, { configurationVersion: 0 }).config.processingSettings.type).to.equal('ADVANCED');
    for (const old of [{ defaultTTL: 0 }, { defaultTTL: 0, skipLatestPersistence: false }, { skipLatestPersistence: null }]) {
      expect(make(old, { configurationVersion: 0 }).config).to.deep.equal({ defaultTTL: 0, useServerTs: false, processingSettings: { type: 'ON_EVERY_MESSAGE' } });
    }
  });

  it('needs the store', async () => {
    await expectStoreNeeded(TbMsgTimeseriesNode, {}, { services: testServices() });
  });
});
