// Two rule-engine processes share the queues; one is SIGKILLed while 10,000 telemetry messages
// flow. Its packs in flight must be run again by the other (at least once), after their BullMQ
// lock expires (10 s by default) and a stalled check notices (every 5 s).
import { expect } from 'chai';
import { Queue } from 'bullmq';
import pino from 'pino';
import { startSystem, type RunningSystem } from '../../../src/app/system.js';
import { DEFAULT_SETTINGS } from '../../../src/config/settings.js';
import type { TbMsg } from '../../../src/msg/tb-msg.js';
import { DEFAULT_KEY_BASE, partitionPrefix } from '../../../src/queue/partitions.js';
import { DEFAULT_QUEUES } from '../../../src/queue/queue-config.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { startSystemProcess, type SystemProcess } from '../../helpers/system-process.js';
import { eventually, pointsPerMessage, sleep, tally, telemetryMsg, telemetryTenant } from './telemetry.js';

describe('reliability: a rule-engine process killed mid-run', function () {
  this.timeout(60_000);
  let redis: TestRedis;
  /** This process: sends, as a transport would (no consumer of its own). */
  let front: RunningSystem;
  const engines: SystemProcess[] = [];

  before(async () => {
    redis = await startTestRedis();
    // No role: store, bus and producer only (what a transport sends through), no consumer, no ports.
    front = await startSystem({ ...DEFAULT_SETTINGS, roles: [], serviceId: 'front' }, redis.url, pino({ level: 'silent' }));
  });
  after(async () => {
    await Promise.all(engines.map((e) => e.kill()));
    await front?.stop();
    await redis?.stop();
  });

  it('processes every one of 10,000 messages at least once when one of two processes is SIGKILLed', async () => {
    const tenantId = await telemetryTenant(front);
    // Started after the chain exists: each loads it at start.
    const [a, b] = await Promise.all([
      startSystemProcess({ redisUrl: redis.url, serviceId: 'engine-a' }),
      startSystemProcess({ redisUrl: redis.url, serviceId: 'engine-b' }),
    ]);
    engines.push(a, b);

    const total = 10_000;
    const msgs: TbMsg[] = [];
    const send = async (n: number) => {
      const batch = Array.from({ length: n }, (_, i) => telemetryMsg(tenantId, msgs.length + i, 100));
      msgs.push(...batch);
      await Promise.all(batch.map((m) => front.toRuleEngine(m)));
    };
    const active = activePacks(front);
    // A steady flow for the whole run (as devices would send), in the background.
    const feeding = (async () => {
      while (msgs.length < total) {
        await send(Math.min(250, total - msgs.length));
        await sleep(40);
      }
    })();
    while (msgs.length < total * 0.4) await sleep(10);
    // A burst, so that packs are big, then the kill while engine-a is in the middle of some: when it
    // is seen holding packs, freeze it, let what it already wrote reach Redis, and look again;
    // what it still holds, frozen, it can never finish.
    await send(total * 0.2);
    let orphans: Pack[] = [];
    for (let look = 0; look < 2000 && orphans.length === 0; look++) {
      if (!(await active()).some((p) => p.by === 'engine-a')) {
        await sleep(2);
        continue;
      }
      a.pause();
      await sleep(20);
      orphans = (await active()).filter((p) => p.by === 'engine-a');
      if (orphans.length > 0) await a.kill();
      else a.resume();
    }
    await a.kill(); // done already, unless it never held a pack (then the test fails below)
    const killedAt = Date.now();
    const sentAtKill = msgs.length;
    expect(orphans.length, 'engine-a never held a pack').to.be.greaterThan(0);
    await feeding;
    expect((await a.exited).signal).to.equal('SIGKILL');

    // The orphans come back once their lock expires and a stalled check runs; count once they are done.
    const redisFront = front.store.redis;
    const rerun = await eventually(async () => {
      const done = await Promise.all(orphans.map(async (p) => (await redisFront.hget(p.key, 'finishedOn')) !== null || (await redisFront.exists(p.key)) === 0));
      return done.every(Boolean);
    }, 40_000);
    let missing = total;
    const allDone = await eventually(async () => (missing = tally(await pointsPerMessage(front, msgs)).missing) === 0, 20_000);
    const recoveredMs = Date.now() - killedAt;
    await sleep(300); // a rerun still saving shows up too
    const { duplicates } = tally(await pointsPerMessage(front, msgs));
    const packs = await packsBy(redis.url);
    console.log(
      `      (${total} messages; engine-a killed after ${sentAtKill} were sent, with ${orphans.length} pack(s) of ${orphans.reduce((n, p) => n + p.size, 0)} messages in flight;` +
        ` ${missing} missing, ${duplicates} processed twice; all stored ${(recoveredMs / 1000).toFixed(1)} s after the kill;` +
        ` packs completed by engine-a ${packs['engine-a'] ?? 0}, by engine-b ${packs['engine-b'] ?? 0})`,
    );
    expect(rerun, "engine-a's packs were never taken over").to.equal(true);
    expect(allDone, `${missing} message(s) never processed`).to.equal(true);
    expect(missing).to.equal(0);
    // Both took part; the killed one's unfinished packs are the only ones run twice.
    expect(packs['engine-a'] ?? 0).to.be.greaterThan(0);
    expect(packs['engine-b'] ?? 0).to.be.greaterThan(0);
    expect(duplicates).to.be.below(total / 4);
    expect(await b.stop()).to.equal(0);
  });
});

interface Pack {
  /** The BullMQ job hash. */
  readonly key: string;
  /** The consumer running it (BullMQ's processedBy: the service id). */
  readonly by: string;
  readonly size: number;
}

/** The packs of the Main queue running now. */
function activePacks(system: RunningSystem): () => Promise<Pack[]> {
  const main = DEFAULT_QUEUES.find((q) => q.name === 'Main');
  const prefixes = Array.from({ length: main?.partitions ?? 0 }, (_, p) => `${partitionPrefix(DEFAULT_KEY_BASE, p)}:Main`);
  const redis = system.store.redis;
  return async () => {
    const lists = await Promise.all(prefixes.map((pre) => redis.lrange(`${pre}:active`, 0, -1)));
    const ids = prefixes.flatMap((pre, i) => lists[i].map((id) => ({ pre, id })));
    return Promise.all(
      ids.map(async ({ pre, id }) => {
        const key = `${pre}:${id}`;
        const [by, data] = await redis.hmget(key, 'pb', 'data');
        return { key, by: by ?? '?', size: data ? (JSON.parse(data) as { m: unknown[] }).m.length : 0 };
      }),
    );
  };
}

/** Completed packs of the Main queue per consumer (BullMQ keeps the last 100 per partition). */
async function packsBy(redisUrl: string): Promise<Record<string, number>> {
  const main = DEFAULT_QUEUES.find((q) => q.name === 'Main');
  const out: Record<string, number> = {};
  for (let p = 0; p < (main?.partitions ?? 0); p++) {
    const queue = new Queue('Main', { connection: { url: redisUrl }, prefix: partitionPrefix(DEFAULT_KEY_BASE, p) });
    try {
      for (const job of await queue.getJobs(['completed'])) {
        const by = job.processedBy ?? '?';
        out[by] = (out[by] ?? 0) + 1;
      }
    } finally {
      await queue.close();
    }
  }
  return out;
}
