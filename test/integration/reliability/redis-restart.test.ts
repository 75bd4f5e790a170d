// Redis restarted (graceful stop, AOF, start on the same port) while telemetry flows from this
// process to a rule-engine process: a message whose toRuleEngine() resolved must end up stored,
// whatever it was doing when Redis went away (queued, in a pack, half-saved). Sends made while
// Redis is down may be refused; those are the caller's to retry and are not counted.
import { expect } from 'chai';
import pino from 'pino';
import { startSystem, type RunningSystem } from '../../../src/app/system.js';
import { DEFAULT_SETTINGS } from '../../../src/config/settings.js';
import type { TbMsg } from '../../../src/msg/tb-msg.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { startSystemProcess, type SystemProcess } from '../../helpers/system-process.js';
import { eventually, pointsPerMessage, sleep, tally, telemetryMsg, telemetryTenant } from './telemetry.js';

describe('reliability: Redis restarted mid-run', function () {
  this.timeout(60_000);
  let redis: TestRedis;
  let front: RunningSystem;
  let engine: SystemProcess | undefined;

  before(async () => {
    redis = await startTestRedis();
    // No role: store, bus and producer only (what a transport sends through), no consumer, no ports.
    front = await startSystem({ ...DEFAULT_SETTINGS, roles: [], serviceId: 'front' }, redis.url, pino({ level: 'silent' }));
  });
  after(async () => {
    await engine?.kill();
    await front?.stop();
    await redis?.stop();
  });

  it('loses no message whose toRuleEngine() resolved', async () => {
    const tenantId = await telemetryTenant(front);
    // RELIABILITY_LOG=warn shows the engine's reconnects and failed messages.
    const logLevel = (process.env.RELIABILITY_LOG as pino.LevelWithSilent | undefined) ?? 'error';
    engine = await startSystemProcess({ redisUrl: redis.url, serviceId: 'engine', logLevel });

    const rounds = 60;
    const perRound = 100;
    const burst = 1500;
    const total = rounds * perRound + burst;
    const acked: TbMsg[] = [];
    let refused = 0;
    let seq = 0;
    const send = (n: number) =>
      Promise.all(
        Array.from({ length: n }, () => {
          const msg = telemetryMsg(tenantId, seq++, 50);
          return front.toRuleEngine(msg).then(
            () => void acked.push(msg),
            () => void refused++,
          );
        }),
      );
    let restarting: Promise<void> | undefined;
    for (let round = 0; round < rounds; round++) {
      if (round === 20) {
        // A burst first, so that the engine is in the middle of packs (saving) when Redis goes.
        await send(burst);
        restarting = redis.restart();
      }
      await send(perRound);
      await sleep(30);
    }
    await restarting;

    const allStored = await eventually(async () => {
      const points = await pointsPerMessage(front, acked).catch(() => []);
      return points.length === acked.length && tally(points).missing === 0;
    }, 30_000);
    await sleep(300);
    const { missing, duplicates } = tally(await pointsPerMessage(front, acked));
    console.log(
      `      (${total} sent: ${acked.length} acknowledged, ${refused} refused while Redis was down;` +
        ` of the acknowledged ${missing} lost, ${duplicates} processed twice)`,
    );
    expect(allStored, `${missing} acknowledged message(s) never stored`).to.equal(true);
    expect(missing).to.equal(0);
    expect(acked.length + refused).to.equal(total);
    // Redis was back well before the end: most messages went through.
    expect(acked.length).to.be.greaterThan(total * 0.6);
    expect(await engine.stop()).to.equal(0);
  });
});
