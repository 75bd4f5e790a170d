import { expect } from 'chai';
import type { KvValue } from '../../../src/store/kv.js';
import { startApi, envelopeOf, waitFor, type ApiFixture } from './harness.js';

describe('API telemetry and attributes', () => {
  let api: ApiFixture;
  let adminA: string;
  let userA1: string;
  const changed: { tenantId: string; deviceId: string; values: Readonly<Record<string, KvValue>> }[] = [];
  const deleted: { tenantId: string; deviceId: string; keys: readonly string[] }[] = [];
  before(async () => {
    api = await startApi({
      consume: true,
      extra: {
        onSharedAttributesChanged: (tenantId, deviceId, values) => void changed.push({ tenantId, deviceId, values }),
        onSharedAttributesDeleted: (tenantId, deviceId, keys) => void deleted.push({ tenantId, deviceId, keys }),
      },
    });
    [adminA, userA1] = await Promise.all([api.login(api.world.adminA), api.login(api.world.userA1)]);
  });
  after(async () => api?.close());

  const device = () => api.world.deviceA1;
  const base = () => `/api/plugins/telemetry/DEVICE/${device().id.id}`;

  it('saving SHARED_SCOPE attributes of a device: stored, ATTRIBUTES_UPDATED through the rule-engine queue, the session hook called', async () => {
    const values = { targetTemperature: 21.5, mode: 'eco', schedule: { mon: [6, 22] }, enabled: true };
    const res = await api.call('POST', `${base()}/SHARED_SCOPE`, { token: adminA, body: values });
    expect(res.status).to.equal(200);
    expect(res.text).to.equal('');
    expect(changed).to.deep.equal([{ tenantId: api.world.tenantA.id.id, deviceId: device().id.id, values }]);

    await waitFor('ATTRIBUTES_UPDATED on the queue', () => api.received.some((m) => m.type === 'ATTRIBUTES_UPDATED'));
    const msg = api.received.find((m) => m.type === 'ATTRIBUTES_UPDATED')!;
    expect(msg.originator).to.deep.equal({ entityType: 'DEVICE', id: device().id.id });
    expect(msg.tenantId).to.equal(api.world.tenantA.id.id);
    expect(msg.metaData).to.include({ scope: 'SHARED_SCOPE', userName: 'admin@a.example' });
    expect(JSON.parse(msg.data)).to.deep.equal(values);

    const stored = (await api.call('GET', `${base()}/values/attributes/SHARED_SCOPE?keys=mode,schedule,missing`, { token: userA1 })).json as { key: string; value: unknown; lastUpdateTs: number }[];
    expect(stored.map(({ key, value }) => ({ key, value }))).to.deep.equal([
      { key: 'mode', value: 'eco' },
      { key: 'schedule', value: { mon: [6, 22] } },
    ]);
    expect(stored[0]?.lastUpdateTs).to.be.closeTo(Date.now(), 10_000);
  });

  it('SERVER_SCOPE through .../attributes/{scope}: no session hook; a customer user may write their own device', async () => {
    const before = changed.length;
    expect((await api.call('POST', `${base()}/attributes/SERVER_SCOPE`, { token: userA1, body: { firmware: '1.2.3' } })).status).to.equal(200);
    expect(changed.length).to.equal(before);
    const all = (await api.call('GET', `${base()}/values/attributes`, { token: adminA })).json as { key: string }[];
    expect(all.map((a) => a.key)).to.deep.equal(['enabled', 'mode', 'schedule', 'targetTemperature', 'firmware']);
    const some = (await api.call('GET', `${base()}/values/attributes?keys=firmware`, { token: adminA })).json as { key: string; value: unknown }[];
    expect(some.map(({ key, value }) => ({ key, value }))).to.deep.equal([{ key: 'firmware', value: '1.2.3' }]);
  });

  it('refuses CLIENT_SCOPE writes, an empty body, a null value, and an unknown scope', async () => {
    expect(envelopeOf(await api.call('POST', `${base()}/CLIENT_SCOPE`, { token: adminA, body: { a: 1 } })).status).to.equal(400);
    expect(envelopeOf(await api.call('POST', `${base()}/SERVER_SCOPE`, { token: adminA, body: {} })).message).to.equal('body must NOT have fewer than 1 properties');
    expect(envelopeOf(await api.call('POST', `${base()}/SERVER_SCOPE`, { token: adminA, body: { a: null } })).status).to.equal(400);
    expect(envelopeOf(await api.call('POST', `${base()}/OTHER_SCOPE`, { token: adminA, body: { a: 1 } })).message).to.match(/^params\.scope must be one of/);
  });

  it('deletes shared attributes: ATTRIBUTES_DELETED and the deletion hook', async () => {
    const res = await api.call('DELETE', `${base()}/SHARED_SCOPE?keys=mode,enabled`, { token: adminA });
    expect(res.status).to.equal(200);
    expect(deleted).to.deep.equal([{ tenantId: api.world.tenantA.id.id, deviceId: device().id.id, keys: ['mode', 'enabled'] }]);
    await waitFor('ATTRIBUTES_DELETED', () => api.received.some((m) => m.type === 'ATTRIBUTES_DELETED'));
    expect(JSON.parse(api.received.find((m) => m.type === 'ATTRIBUTES_DELETED')!.data)).to.deep.equal({ attributes: ['mode', 'enabled'] });
    const left = (await api.call('GET', `${base()}/values/attributes/SHARED_SCOPE`, { token: adminA })).json as { key: string }[];
    expect(left.map((a) => a.key)).to.deep.equal(['schedule', 'targetTemperature']);
    expect(envelopeOf(await api.call('DELETE', `${base()}/SHARED_SCOPE`, { token: adminA })).message).to.equal('querystring.keys is required');
  });

  it('time series: latest values as strings (or typed with useStrictDataTypes), history between startTs and endTs', async () => {
    const entity = device().id;
    await api.store.timeseries.save(entity, [
      { ts: 1000, values: { temperature: 20, status: 'ok' } },
      { ts: 2000, values: { temperature: 21.5 } },
      { ts: 3000, values: { temperature: 23, cfg: { a: 1 } } },
    ]);
    const latest = (await api.call('GET', `${base()}/values/timeseries?keys=temperature,status,none`, { token: userA1 })).json;
    expect(latest).to.deep.equal({ temperature: [{ ts: 3000, value: '23' }], status: [{ ts: 1000, value: 'ok' }] });
    const strict = (await api.call('GET', `${base()}/values/timeseries?useStrictDataTypes=true`, { token: adminA })).json;
    expect(strict).to.deep.equal({ cfg: [{ ts: 3000, value: { a: 1 } }], status: [{ ts: 1000, value: 'ok' }], temperature: [{ ts: 3000, value: 23 }] });

    const history = (await api.call('GET', `${base()}/values/timeseries?keys=temperature&startTs=1000&endTs=2500&useStrictDataTypes=true`, { token: adminA })).json;
    expect(history).to.deep.equal({ temperature: [{ ts: 2000, value: 21.5 }, { ts: 1000, value: 20 }] });
    const asc = (await api.call('GET', `${base()}/values/timeseries?keys=temperature&startTs=0&endTs=5000&limit=2&orderBy=ASC`, { token: adminA })).json;
    expect(asc).to.deep.equal({ temperature: [{ ts: 1000, value: '20' }, { ts: 2000, value: '21.5' }] });
    expect(envelopeOf(await api.call('GET', `${base()}/values/timeseries?keys=temperature&startTs=0`, { token: adminA })).status).to.equal(400);
    expect(envelopeOf(await api.call('GET', `${base()}/values/timeseries?keys=t&startTs=0&endTs=1&agg=AVG`, { token: adminA })).message).to.equal('querystring.agg must be one of NONE');
  });

  it('saves time series through the API (TIMESERIES_UPDATED)', async () => {
    const res = await api.call('POST', `${base()}/timeseries/ANY`, { token: adminA, body: [{ ts: 5000, values: { humidity: 40 } }, { ts: 6000, values: { humidity: 41 } }] });
    expect(res.status).to.equal(200);
    expect((await api.call('GET', `${base()}/values/timeseries?keys=humidity`, { token: adminA })).json).to.deep.equal({ humidity: [{ ts: 6000, value: '41' }] });
    await waitFor('TIMESERIES_UPDATED', () => api.received.some((m) => m.type === 'TIMESERIES_UPDATED'));
    expect(envelopeOf(await api.call('POST', `${base()}/timeseries/ANY`, { token: adminA, body: { ts: 'x', values: {} } })).message).to.equal('body.ts must be an integer (epoch ms)');
  });

  it('telemetry of other entities: the tenant, a customer; another tenant\'s device is not found', async () => {
    const tenantPath = `/api/plugins/telemetry/TENANT/${api.world.tenantA.id.id}`;
    expect((await api.call('POST', `${tenantPath}/SERVER_SCOPE`, { token: adminA, body: { plan: 'gold' } })).status).to.equal(200);
    const attrs = (await api.call('GET', `${tenantPath}/values/attributes`, { token: adminA })).json as { key: string }[];
    expect(attrs.map((a) => a.key)).to.deep.equal(['plan']);
    expect((await api.call('GET', `${tenantPath}/values/attributes`, { token: userA1 })).status).to.equal(403);
    expect((await api.call('GET', `/api/plugins/telemetry/CUSTOMER/${api.world.customerA1.id.id}/values/attributes`, { token: userA1 })).status).to.equal(200);
    expect((await api.call('GET', `/api/plugins/telemetry/DEVICE/${api.world.deviceB1.id.id}/values/timeseries`, { token: adminA })).status).to.equal(404);
    expect((await api.call('GET', `/api/plugins/telemetry/WIDGET/${api.world.deviceB1.id.id}/values/timeseries`, { token: adminA })).status).to.equal(400);
  });
});
