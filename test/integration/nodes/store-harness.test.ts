import { expect } from 'chai';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';

describe('store fixture for node tests', () => {
  let fx: StoreFixture;
  before(async () => {
    fx = await startStoreFixture();
  });
  after(() => fx.close());

  it('has a tenant, a customer and a device, and messages from that device', async () => {
    const found = await fx.store.devices.findById(fx.tenant.id.id, fx.device.id.id);
    expect(found?.name).to.equal('Thermostat A');
    const msg = fx.msg();
    expect(msg.originator).to.deep.equal({ entityType: 'DEVICE', id: fx.device.id.id });
    expect(msg.tenantId).to.equal(fx.tenant.id.id);
    expect(fx.services.store).to.equal(fx.store);
  });
});
