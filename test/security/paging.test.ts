// Paging parameters out of range on every paged endpoint (every GET route of the OpenAPI document
// with pageSize and page): a 400 naming the parameter, never a 500. The REST fuzzer found
// GET /api/tenant/devices?page=<huge> answering 500 after Redis refused the computed rank
// ("ERR value is not an integer or out of range").
import { expect } from 'chai';
import { MAX_PAGE } from '../../src/api/schemas.js';
import { routesOf, type FuzzRoute } from './fuzz.js';
import { startWorld, type Caller, type World } from './world.js';

const HUGE = '9'.repeat(100);

/** [query, the parameter the 400 must name] */
const BAD: readonly (readonly [string, string])[] = [
  [`pageSize=10&page=${HUGE}`, 'querystring.page'],
  [`pageSize=10&page=${MAX_PAGE + 1}`, 'querystring.page'],
  ['pageSize=10&page=1e21', 'querystring.page'],
  ['pageSize=10&page=-1', 'querystring.page'],
  ['pageSize=10&page=1.5', 'querystring.page'],
  [`pageSize=${HUGE}&page=0`, 'querystring.pageSize'],
  ['pageSize=0&page=0', 'querystring.pageSize'],
  ['pageSize=-10&page=0', 'querystring.pageSize'],
  ['pageSize=2.5&page=0', 'querystring.pageSize'],
];

describe('security: paging parameters on every paged endpoint', function () {
  this.timeout(60_000);
  let world: World;
  let paged: FuzzRoute[];

  before(async () => {
    world = await startWorld();
    const doc = (await world.call('GET', '/api/openapi.json')).json as Parameters<typeof routesOf>[0];
    paged = routesOf(doc).filter((r) => r.method === 'GET' && r.query.some((q) => q.name === 'page') && r.query.some((q) => q.name === 'pageSize'));
  });
  after(async () => world?.close());

  /** The route's path with world ids, and a caller the route allows. */
  function target(route: FuzzRoute): { path: string; as: Caller } {
    const ids = world.ids;
    const values: Record<string, string> = {
      tenantId: ids.tenantA,
      customerId: ids.customerA,
      deviceId: ids.deviceA,
      entityType: 'DEVICE',
      entityId: ids.deviceA,
    };
    const path = route.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
      const v = values[name];
      if (v === undefined) throw new Error(`${route.path}: no value for {${name}}`);
      return v;
    });
    const roles = route.authorities ?? [];
    return { path, as: roles.includes('TENANT_ADMIN') ? 'adminA' : 'sys' };
  }

  it('finds the paged endpoints', () => {
    const paths = paged.map((r) => r.path);
    expect(paths).to.include.members(['/api/tenant/devices', '/api/customer/{customerId}/devices', '/api/tenants', '/api/customers', '/api/rpc/persistent/device/{deviceId}']);
  });

  it('a page or pageSize that is huge, negative or fractional: 400 naming it, on every paged endpoint', async () => {
    const wrong: string[] = [];
    for (const route of paged) {
      const { path, as } = target(route);
      expect((await world.call('GET', `${path}?pageSize=10&page=0`, { as })).status, `${path} with good paging`).to.equal(200);
      for (const [query, param] of BAD) {
        const res = await world.call('GET', `${path}?${query}`, { as });
        const message = (res.json as { message?: unknown } | undefined)?.message;
        if (res.status !== 400 || typeof message !== 'string' || !message.startsWith(`${param} `)) {
          wrong.push(`GET ${path}?${query.slice(0, 40)} → ${res.status} ${res.text.slice(0, 120)}`);
        }
      }
    }
    expect(wrong).to.deep.equal([]);
    expect(world.logs.errors.map((e) => `${e.msg}: ${e.err?.message ?? ''}`)).to.deep.equal([]);
  });

  it('the last page ThingsBoard accepts (page 2147483647 of 10000) is an empty page, not an error', async () => {
    for (const route of paged) {
      const { path, as } = target(route);
      const res = await world.call('GET', `${path}?pageSize=10000&page=${MAX_PAGE}`, { as });
      expect(res.status, `${path}: ${res.text.slice(0, 200)}`).to.equal(200);
      expect((res.json as { data: unknown[]; hasNext: boolean }).data).to.deep.equal([]);
    }
  });
});
