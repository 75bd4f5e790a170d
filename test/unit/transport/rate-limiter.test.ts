// The device transports' rate limiter (MQTT, HTTP, CoAP), on a clock the test moves.
import { expect } from 'chai';
import { DeviceRateLimiter, RateLimiter } from '../../../src/transport/rate-limiter.js';
import type { DeviceIdentity } from '../../../src/transport/transport-api.js';

function device(deviceId: string, tenantId: string): DeviceIdentity {
  return { deviceId, tenantId, customerId: null, deviceName: deviceId, deviceType: 'default', deviceProfileId: null, ruleChainId: null, queueName: null };
}

/** How many of `n` takes at one instant pass. */
function passing(limiter: RateLimiter, key: string, now: number, n: number): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (limiter.tryTake(key, now)) ok++;
  return ok;
}

describe('rate limiter (device transports)', () => {
  describe('RateLimiter: one token bucket per key', () => {
    it('0 = unlimited', () => {
      const limiter = new RateLimiter(0);
      expect(limiter.enabled).to.equal(false);
      expect(passing(limiter, 'd', 0, 10_000)).to.equal(10_000);
      expect(limiter.trackedKeys).to.equal(0);
    });

    it("lets one second's worth through at once, then refills continuously", () => {
      const limiter = new RateLimiter(10);
      expect(passing(limiter, 'd', 1000, 15)).to.equal(10);
      expect(passing(limiter, 'd', 1500, 15)).to.equal(5);
      expect(passing(limiter, 'd', 1600, 15)).to.equal(1);
      // Idle for long: still one second's worth, not more.
      expect(passing(limiter, 'd', 60_000, 15)).to.equal(10);
    });

    it('a steady rate at the limit always passes', () => {
      const limiter = new RateLimiter(4);
      let refused = 0;
      for (let t = 0; t < 10_000; t += 250) if (!limiter.tryTake('d', t)) refused++;
      expect(refused).to.equal(0);
    });

    it('keys are independent', () => {
      const limiter = new RateLimiter(2);
      expect(passing(limiter, 'a', 0, 5)).to.equal(2);
      expect(passing(limiter, 'b', 0, 5)).to.equal(2);
    });

    it('a rate under one per second holds one message: the next one after 1/rate seconds', () => {
      const limiter = new RateLimiter(0.5);
      expect(passing(limiter, 'd', 0, 3)).to.equal(1);
      expect(limiter.tryTake('d', 1999)).to.equal(false);
      expect(limiter.tryTake('d', 4000)).to.equal(true);
    });

    it('hasToken refills and answers without taking', () => {
      const limiter = new RateLimiter(1);
      expect(limiter.hasToken('d', 0)).to.equal(true);
      expect(limiter.hasToken('d', 0)).to.equal(true);
      limiter.take('d');
      expect(limiter.hasToken('d', 0)).to.equal(false);
      expect(limiter.hasToken('d', 1000)).to.equal(true);
    });

    it('drops the buckets of idle keys as it is used, so memory follows the active keys', () => {
      const limiter = new RateLimiter(5);
      for (let i = 0; i < 1000; i++) limiter.tryTake(`old-${i}`, 0);
      expect(limiter.trackedKeys).to.equal(1000);
      limiter.tryTake('new', 500);
      expect(limiter.trackedKeys).to.equal(1001, 'not yet full again');
      limiter.tryTake('new', 1000);
      expect(limiter.trackedKeys).to.equal(1, 'the idle ones are full again and dropped');
      // A dropped key starts over with a full bucket, as if it had been kept.
      expect(passing(limiter, 'old-1', 1000, 10)).to.equal(5);
    });
  });

  describe('DeviceRateLimiter: device and tenant limits together (HTTP, CoAP)', () => {
    it('refuses a device over its own rate; other devices of the tenant still pass', () => {
      let now = 0;
      const limiter = new DeviceRateLimiter({ deviceMsgsPerSecond: 2, tenantMsgsPerSecond: 0 }, () => now);
      const a = device('a', 't');
      const b = device('b', 't');
      expect([limiter.tryAcquire(a), limiter.tryAcquire(a), limiter.tryAcquire(a)]).to.deep.equal([true, true, false]);
      expect(limiter.tryAcquire(b)).to.equal(true);
      now = 500;
      expect(limiter.tryAcquire(a)).to.equal(true);
    });

    it('the tenant limit is shared by its devices; other tenants are not affected', () => {
      const limiter = new DeviceRateLimiter({ deviceMsgsPerSecond: 0, tenantMsgsPerSecond: 3 }, () => 0);
      const results = ['a', 'b', 'c', 'd'].map((id) => limiter.tryAcquire(device(id, 't1')));
      expect(results).to.deep.equal([true, true, true, false]);
      expect(limiter.tryAcquire(device('e', 't2'))).to.equal(true);
    });

    it('a refused message takes nothing: a device refused by its tenant keeps its own token', () => {
      let now = 0;
      const limiter = new DeviceRateLimiter({ deviceMsgsPerSecond: 1, tenantMsgsPerSecond: 2 }, () => now);
      expect([limiter.tryAcquire(device('a', 't')), limiter.tryAcquire(device('b', 't'))]).to.deep.equal([true, true]);
      // The tenant is empty: "quiet" is refused by the tenant limit, without spending its own token.
      const quiet = device('quiet', 't');
      expect(limiter.tryAcquire(quiet)).to.equal(false);
      // Half a second on, the tenant has a token again; quiet's own bucket is still full (had it
      // been charged for the refusal it would hold half a token and be refused).
      now = 500;
      expect(limiter.tryAcquire(quiet)).to.equal(true);
    });

    it('both limits 0: everything passes', () => {
      const limiter = new DeviceRateLimiter({ deviceMsgsPerSecond: 0, tenantMsgsPerSecond: 0 }, () => 0);
      let ok = 0;
      for (let i = 0; i < 1000; i++) if (limiter.tryAcquire(device('a', 't'))) ok++;
      expect(ok).to.equal(1000);
    });
  });
});
