// A device moved from one customer to another is listed by its new customer only. (The REST fuzzer
// reported GET /api/customer/{customerId}/devices "leaking" a device to a user of the customer an
// earlier case had legitimately assigned it to; this checks that nothing is left behind in the
// old customer's list or reachable by its user.)
import { expect } from 'chai';
import { startApi, type ApiFixture } from './harness.js';

interface Entity {
  id: { id: string };
  customerId: { id: string };
  name: string;
}

describe('API: devices reassigned between customers', () => {
  let api: ApiFixture;
  let adminA: string;
  let userA1: string;
  before(async () => {
    api = await startApi();
    [adminA, userA1] = await Promise.all([api.login(api.world.adminA), api.login(api.world.userA1)]);
  });
  after(async () => api?.close());

  const list = async (customerId: string, token: string) => {
    const res = await api.call('GET', `/api/customer/${customerId}/devices?pageSize=100&page=0`, { token });
    expect(res.status, res.text).to.equal(200);
    return (res.json as { data: Entity[] }).data;
  };

  it("is in the new customer's list only, and the old customer's user no longer reaches it", async () => {
    const { customerA1, customerA2, deviceA1 } = api.world;
    expect((await list(customerA1.id.id, userA1)).map((d) => d.id.id)).to.include(deviceA1.id.id);

    const moved = await api.call('POST', `/api/customer/${customerA2.id.id}/device/${deviceA1.id.id}`, { token: adminA });
    expect(moved.status, moved.text).to.equal(200);

    expect((await list(customerA1.id.id, userA1)).map((d) => d.id.id)).to.not.include(deviceA1.id.id);
    expect((await list(customerA1.id.id, adminA)).map((d) => d.id.id)).to.not.include(deviceA1.id.id);
    const inA2 = await list(customerA2.id.id, adminA);
    expect(inA2.find((d) => d.id.id === deviceA1.id.id)?.customerId.id).to.equal(customerA2.id.id);
    expect((await api.call('GET', `/api/device/${deviceA1.id.id}`, { token: userA1 })).status).to.equal(403);
    expect((await api.call('GET', `/api/customer/${customerA2.id.id}/devices?pageSize=10&page=0`, { token: userA1 })).status).to.equal(403);
  });
});
