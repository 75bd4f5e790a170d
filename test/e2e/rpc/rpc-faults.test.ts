// Device RPC under the faults of issue #7 (docs/reliability.md (a′), (b)): real processes, a real
// redis-server with AOF, a raw MQTT device over TCP and REST calls, through the scenarios of
// scripts/reliability/faults.ts.
import { replyDuringOutage, TRANSPORT_KILL_SLOW_TEST, transportKill } from '../../../scripts/reliability/faults.js';
import { expectHeld } from '../../reliability/expect-held.js';

describe('device RPC under faults', function () {
  it("a device's reply published while Redis is down is acknowledged only once it is stored: the RPC ends SUCCESSFUL", async function () {
    this.timeout(60_000);
    expectHeld(await replyDuringOutage());
  });

  it('the transport process holding a SENT command is killed and the moved device leaves the new copy unacknowledged: the delivery timeout re-sends it on the live session', async function () {
    this.timeout(60_000);
    expectHeld(await transportKill(TRANSPORT_KILL_SLOW_TEST));
  });
});
