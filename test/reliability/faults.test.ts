// Short versions of scripts/reliability/faults.ts (which runs them at full size): real processes,
// a real redis-server with AOF, real MQTT devices and REST calls (spec/rpc.md §5–§7,
// spec/beyond-thingsboard.md #1–#3).
import {
  NO_ACK_TEST,
  noAck,
  REDIS_FAULT_TEST,
  redisFault,
  replyDuringOutage,
  subscribeDuringOutage,
  TRANSPORT_KILL_SLOW_TEST,
  TRANSPORT_KILL_TEST,
  transportKill,
} from '../../scripts/reliability/faults.js';
import type { ScenarioResult } from '../../scripts/reliability/lib/util.js';
import { expectHeld } from './expect-held.js';

describe('reliability: faults', function () {
  // (c) waits for transport timeouts (2 × 10 s) with idle processes: it runs alongside the others.
  let noAckRun: Promise<ScenarioResult> | undefined;
  before(() => {
    noAckRun = noAck(NO_ACK_TEST);
    // Mocha must not see a rejection before the test that awaits it.
    noAckRun.catch(() => undefined);
  });
  after(async () => {
    await noAckRun?.catch(() => undefined);
  });

  it('(a) Redis crashed and restarted under mixed traffic: nothing acknowledged lost, every process heals, lightweight calls end with a clear error', async function () {
    this.timeout(120_000);
    expectHeld(await redisFault(REDIS_FAULT_TEST));
  });

  it("(a′) a device's reply published while Redis is down is not lost once acknowledged", async function () {
    this.timeout(60_000);
    expectHeld(await replyDuringOutage());
  });

  it('(a′) an RPC subscription made while Redis is down is not forgotten once granted', async function () {
    this.timeout(60_000);
    expectHeld(await subscribeDuringOutage());
  });

  it('(b) the transport process holding the session is killed with a persistent RPC SENT: the device moves, the RPC is delivered and answered', async function () {
    this.timeout(60_000);
    expectHeld(await transportKill(TRANSPORT_KILL_TEST));
  });

  it('(b) … and when the device, once moved, leaves the first copy unacknowledged too, the command is sent again after the delivery timeout', async function () {
    this.timeout(60_000);
    expectHeld(await transportKill(TRANSPORT_KILL_SLOW_TEST));
  });

  it('(c) a device that stops acknowledging: retries, then FAILED with the reason; no submit strategy jams', async function () {
    this.timeout(90_000);
    expectHeld(await (noAckRun as Promise<ScenarioResult>));
  });
});
