import { expect } from 'chai';
import { NodeConfigError, type NodeOutput, type RuleNode } from '../../../src/engine/node-api.js';
import type { EntityId } from '../../../src/msg/entity.js';
import { CalculateDeltaNode, roundHalfUp } from '../../../src/nodes/enrichment/CalculateDeltaNode.js';
import { createNode, runNode } from '../../helpers/node-harness.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';

type Tell = Extract<NodeOutput, { kind: 'tell' }>;

function only(outputs: NodeOutput[]): Tell {
  expect(outputs).to.have.length(1);
  const out = outputs[0] as NodeOutput;
  if (out.kind !== 'tell') throw new Error(`expected a tell, got ${out.kind}`);
  return out;
}

describe('CalculateDeltaNode (store)', () => {
  let fx: StoreFixture;
  let n = 0;
  const T0 = 1_700_000_000_000;

  before(async () => {
    fx = await startStoreFixture();
  });
  after(() => fx.close());

  /** A fresh device (no cache, no telemetry) per test. */
  async function meter(): Promise<EntityId> {
    return (await fx.store.devices.create(fx.tenant.id.id, { name: `meter-${++n}` })).id;
  }

  /** The defaults with changes (a missing boolean would read false, as in ThingsBoard). */
  function node(config: Record<string, unknown> = {}): RuleNode {
    return createNode(CalculateDeltaNode, { ...CalculateDeltaNode.defaultConfig, ...config }, { services: fx.services }).node;
  }

  async function send(rn: RuleNode, originator: EntityId, data: unknown, ts?: number, type = 'POST_TELEMETRY_REQUEST') {
    const msg = fx.msg({ originator, type, data: data as object, metaData: ts === undefined ? {} : { ts: String(ts) } });
    return { msg, out: only((await runNode(rn, msg)).outputs) };
  }

  const body = (out: Tell) => JSON.parse(out.msg.data) as Record<string, unknown>;

  it('has the catalogue definition and defaults (v1)', () => {
    const defaults = {
      inputValueKey: 'pulseCounter',
      outputValueKey: 'delta',
      useCache: true,
      addPeriodBetweenMsgs: false,
      periodValueKey: 'periodInMs',
      tellFailureIfDeltaIsNegative: true,
      excludeZeroDeltas: false,
    };
    expect(CalculateDeltaNode.type).to.equal('org.thingsboard.rule.engine.metadata.CalculateDeltaNode');
    expect(CalculateDeltaNode.category).to.equal('ENRICHMENT');
    expect(CalculateDeltaNode.uiName).to.equal('calculate delta');
    expect(CalculateDeltaNode.version).to.equal(1);
    expect(CalculateDeltaNode.relations).to.deep.equal(['Success', 'Failure', 'Other']);
    expect(CalculateDeltaNode.defaultConfig).to.deep.equal(defaults);
    expect(createNode(CalculateDeltaNode, defaults, { services: fx.services }).config).to.deep.equal(defaults);
  });

  it('Other: not a telemetry message, no input key, data not a JSON object', async () => {
    const rn = node();
    const m = await meter();
    for (const [data, type] of [
      [{ pulseCounter: 1 }, 'POST_ATTRIBUTES_REQUEST'],
      [{ other: 1 }, 'POST_TELEMETRY_REQUEST'],
      ['[1]', 'POST_TELEMETRY_REQUEST'],
      ['not json', 'POST_TELEMETRY_REQUEST'],
    ] as const) {
      const { msg, out } = await send(rn, m, data, T0, type);
      expect(out.relations).to.deep.equal(['Other']);
      expect(out.msg).to.equal(msg);
    }
  });

  it('with the cache: first delta against the stored latest value, then against the previous message', async () => {
    const m = await meter();
    await fx.store.timeseries.save(m, { ts: T0, values: { pulseCounter: 90 } });
    const rn = node({ addPeriodBetweenMsgs: true });
    const first = await send(rn, m, { pulseCounter: 100 }, T0 + 1000);
    expect(first.out.relations).to.deep.equal(['Success']);
    expect(first.out.msg.id).to.equal(first.msg.id);
    expect(body(first.out)).to.deep.equal({ pulseCounter: 100, delta: 10, periodInMs: 1000 });
    // The store changes, the cache does not.
    await fx.store.timeseries.save(m, { ts: T0 + 1500, values: { pulseCounter: 0 } });
    const second = await send(rn, m, { pulseCounter: 115.5 }, T0 + 4000);
    expect(body(second.out)).to.deep.equal({ pulseCounter: 115.5, delta: 15.5, periodInMs: 3000 });
  });

  it('without the cache: always against the latest stored value', async () => {
    const m = await meter();
    const rn = node({ useCache: false, addPeriodBetweenMsgs: true, periodValueKey: 'dt', outputValueKey: 'd' });
    const first = await send(rn, m, { pulseCounter: 5 }, T0);
    expect(body(first.out)).to.deep.equal({ pulseCounter: 5, d: 0, dt: 0 });
    await fx.store.timeseries.save(m, { ts: T0 + 10, values: { pulseCounter: 3 } });
    const second = await send(rn, m, { pulseCounter: 7 }, T0 + 60);
    expect(body(second.out)).to.deep.equal({ pulseCounter: 7, d: 4, dt: 50 });
    const third = await send(rn, m, { pulseCounter: 8 }, T0 + 70);
    expect(body(third.out)).to.deep.equal({ pulseCounter: 8, d: 5, dt: 60 });
  });

  it('the first reading of an originator has delta 0 and period 0', async () => {
    const { out } = await send(node({ addPeriodBetweenMsgs: true }), await meter(), { pulseCounter: 42 }, T0);
    expect(body(out)).to.deep.equal({ pulseCounter: 42, delta: 0, periodInMs: 0 });
  });

  it('a negative delta → Failure with the original message (the baseline still moves), or passes when allowed', async () => {
    const m = await meter();
    const rn = node();
    await send(rn, m, { pulseCounter: 50 }, T0);
    const neg = await send(rn, m, { pulseCounter: 40 }, T0 + 1);
    expect(neg.out.relations).to.deep.equal(['Failure']);
    expect(neg.out.error).to.equal('Delta value is negative!');
    expect(neg.out.msg).to.equal(neg.msg);
    expect(body((await send(rn, m, { pulseCounter: 45 }, T0 + 2)).out).delta).to.equal(5);

    const lenient = node({ tellFailureIfDeltaIsNegative: false });
    const m2 = await meter();
    await send(lenient, m2, { pulseCounter: 50 }, T0);
    const out = (await send(lenient, m2, { pulseCounter: 40 }, T0 + 1)).out;
    expect(out.relations).to.deep.equal(['Success']);
    expect(body(out).delta).to.equal(-10);
  });

  it('excludeZeroDeltas: a zero delta passes the message unchanged', async () => {
    const m = await meter();
    const rn = node({ excludeZeroDeltas: true, addPeriodBetweenMsgs: true });
    const first = await send(rn, m, { pulseCounter: 10 }, T0);
    expect(first.out.relations).to.deep.equal(['Success']);
    expect(first.out.msg).to.equal(first.msg);
    const same = await send(rn, m, { pulseCounter: 10 }, T0 + 5);
    expect(same.out.msg).to.equal(same.msg);
    // The skipped reading still became the baseline (ThingsBoard caches before the checks).
    expect(body((await send(rn, m, { pulseCounter: 12 }, T0 + 9)).out)).to.deep.equal({ pulseCounter: 12, delta: 2, periodInMs: 4 });
  });

  it('round: half-up on the decimal value; without it the raw difference', async () => {
    const m = await meter();
    const rounded = node({ round: 2 });
    await send(rounded, m, { pulseCounter: 0.1 }, T0);
    expect(body((await send(rounded, m, { pulseCounter: 0.3 }, T0 + 1)).out).delta).to.equal(0.2);
    const m2 = await meter();
    const raw = node();
    await send(raw, m2, { pulseCounter: 0.1 }, T0);
    expect(body((await send(raw, m2, { pulseCounter: 0.3 }, T0 + 1)).out).delta).to.equal(0.3 - 0.1);
    expect(roundHalfUp(1.005, 2)).to.equal(1.01);
    expect(roundHalfUp(-2.5, 0)).to.equal(-3);
    expect(roundHalfUp(1.2345e-7, 8)).to.equal(1.2e-7);
    expect(roundHalfUp(9.995, 2)).to.equal(10);
    expect(roundHalfUp(12, 3)).to.equal(12);
  });

  it('a numeric string is read as a number; other values → Failure', async () => {
    const m = await meter();
    const rn = node();
    await send(rn, m, { pulseCounter: '10' }, T0);
    expect(body((await send(rn, m, { pulseCounter: ' 12.5 ' }, T0 + 1)).out).delta).to.equal(2.5);
    const cases: [unknown, RegExp][] = [
      ['abc', /Unable to parse value \[abc\] of input key \[pulseCounter\]/],
      ['', /Unable to parse value \[\]/],
      [true, /Boolean values are not supported/],
      [{ a: 1 }, /JSON values are not supported/],
      [null, /Unable to parse value \[null\]/],
    ];
    for (const [value, error] of cases) {
      const { msg, out } = await send(rn, m, { pulseCounter: value }, T0 + 2);
      expect(out.relations).to.deep.equal(['Failure']);
      expect(out.error).to.match(error);
      expect(out.msg).to.equal(msg);
    }
    // The failures did not move the baseline.
    expect(body((await send(rn, m, { pulseCounter: 13 }, T0 + 3)).out).delta).to.equal(0.5);
  });

  it('a stored previous value that is not numeric → Failure with ThingsBoard\'s texts', async () => {
    const rn = node({ useCache: false });
    const m = await meter();
    await fx.store.timeseries.save(m, { ts: T0, values: { pulseCounter: 'abc' } });
    expect((await send(rn, m, { pulseCounter: 1 }, T0 + 1)).out.error).to.equal(
      'Calculation failed. Unable to parse value [abc] of telemetry [pulseCounter] to Double',
    );
    await fx.store.timeseries.save(m, { ts: T0 + 2, values: { pulseCounter: true } });
    expect((await send(rn, m, { pulseCounter: 1 }, T0 + 3)).out.error).to.equal('Calculation failed. Boolean values are not supported!');
    await fx.store.timeseries.save(m, { ts: T0 + 4, values: { pulseCounter: { v: 1 } } });
    expect((await send(rn, m, { pulseCounter: 1 }, T0 + 5)).out.error).to.equal('Calculation failed. JSON values are not supported!');
    await fx.store.timeseries.save(m, { ts: T0 + 6, values: { pulseCounter: '0.5' } });
    expect(body((await send(rn, m, { pulseCounter: 1 }, T0 + 7)).out).delta).to.equal(0.5);
  });

  it('the period uses metadata ts, or the message ts when it is missing or not an integer', async () => {
    const m = await meter();
    const rn = node({ addPeriodBetweenMsgs: true });
    await send(rn, m, { pulseCounter: 1 }, T0);
    const msg = fx.msg({ originator: m, data: { pulseCounter: 2 }, metaData: { ts: 'soon' }, ts: T0 + 250 });
    const out = only((await runNode(rn, msg)).outputs);
    expect(body(out).periodInMs).to.equal(250);
  });

  it('handles one originator\'s messages in order, others independently', async () => {
    const a = await meter();
    const b = await meter();
    const rn = node();
    const msgs = [
      fx.msg({ originator: a, data: { pulseCounter: 10 }, metaData: { ts: String(T0) } }),
      fx.msg({ originator: b, data: { pulseCounter: 100 }, metaData: { ts: String(T0) } }),
      fx.msg({ originator: a, data: { pulseCounter: 20 }, metaData: { ts: String(T0 + 1) } }),
      fx.msg({ originator: a, data: { pulseCounter: 35 }, metaData: { ts: String(T0 + 2) } }),
      fx.msg({ originator: b, data: { pulseCounter: 101 }, metaData: { ts: String(T0 + 1) } }),
    ];
    // Sent together: without per-originator ordering every one would miss the cache.
    const results = await Promise.all(msgs.map((m) => runNode(rn, m)));
    expect(results.map((r) => body(only(r.outputs)).delta)).to.deep.equal([0, 0, 10, 15, 1]);
  });

  it('destroy clears the cache', async () => {
    const m = await meter();
    const rn = node();
    await send(rn, m, { pulseCounter: 10 }, T0);
    await rn.destroy?.();
    expect(body((await send(rn, m, { pulseCounter: 20 }, T0 + 1)).out).delta).to.equal(0);
  });

  it('a message without tenantId → Failure', async () => {
    const out = (await send(node(), await meter(), { pulseCounter: 1 }, T0)).out;
    expect(out.relations).to.deep.equal(['Success']);
    const msg = fx.msg({ tenantId: null, data: { pulseCounter: 1 } });
    const failed = only((await runNode(node(), msg)).outputs);
    expect(failed.relations).to.deep.equal(['Failure']);
    expect(failed.error).to.match(/no tenantId/);
  });

  it('refuses blank keys and a round outside 0..15', () => {
    const make = (cfg: Record<string, unknown>) => () => createNode(CalculateDeltaNode, cfg, { services: fx.services });
    expect(make({ inputValueKey: ' ' })).to.throw(NodeConfigError, 'Input value key should be specified!');
    expect(make({ outputValueKey: '' })).to.throw(NodeConfigError, 'Output value key should be specified!');
    expect(make({ addPeriodBetweenMsgs: true, periodValueKey: '' })).to.throw(NodeConfigError, 'Period value key should be specified!');
    expect(make({ addPeriodBetweenMsgs: false, periodValueKey: '' })).not.to.throw();
    expect(make({ round: 16 })).to.throw(/round.*must be <= 15/);
    expect(make({ round: 1.5 })).to.throw(/round.*must be integer/);
  });

  it('upgrades v0: adds excludeZeroDeltas false, keeps an existing value', () => {
    const v0 = (cfg: Record<string, unknown>) => createNode(CalculateDeltaNode, cfg, { services: fx.services, configurationVersion: 0 }).config;
    expect(v0({ inputValueKey: 'energy', useCache: true })).to.include({ inputValueKey: 'energy', excludeZeroDeltas: false });
    expect(v0({ excludeZeroDeltas: true })).to.include({ excludeZeroDeltas: true });
  });
});
