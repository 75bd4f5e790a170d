import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { createRedis } from '../../../src/redis/connection.js';
import { RuleEngineProducer } from '../../../src/queue/producer.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { spawnConsumer, type ChildConsumer } from './child-consumer.js';
import { deviceMsg, queue, sleep, waitFor } from './queue-helpers.js';

/** Consumers in child processes, several at once: ordering per originator, handover, crash. */
describe('queue: two consumer processes', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let admin: Redis;
  const children: ChildConsumer[] = [];

  const SQ = queue({
    name: 'SequentialByOriginator',
    partitions: 6,
    packProcessingTimeout: 5000,
    submitStrategy: { type: 'SEQUENTIAL_BY_ORIGINATOR' },
    processingStrategy: { type: 'RETRY_FAILED_AND_TIMED_OUT', retries: 3 },
  });
  const MAIN = queue({ name: 'Main', partitions: 4 });
  const RECORD = 'test:record';
  const ORIGINATORS = 24;

  before(async () => {
    redis = await startTestRedis();
    admin = createRedis(redis.url, { role: 'client' });
  });
  after(async () => {
    admin.disconnect();
    await redis.stop();
  });
  beforeEach(() => admin.flushall());
  afterEach(async () => {
    await Promise.all(children.splice(0).map((c) => c.stop('SIGKILL')));
  });

  const spawn = async (id: string, delayMs = 2) => {
    const c = await spawnConsumer({ redisUrl: redis.url, id, queues: [SQ, MAIN], record: RECORD, delayMs });
    children.push(c);
    return c;
  };

  interface Record {
    consumer: string;
    originator: string;
    seq: number;
  }

  async function records(): Promise<Record[]> {
    return (await admin.lrange(RECORD, 0, -1)).map((line) => {
      const [consumer, originator, seq] = line.split('|');
      return { consumer, originator, seq: Number(seq) };
    });
  }

  /**
   * Sends `rounds` rounds of one message per originator to each queue, `gapMs` apart; calls
   * `during(round)` before each round. Messages get unique seqs: SQ even, Main odd.
   */
  async function sendRounds(
    rounds: number,
    gapMs: number,
    during: (round: number) => Promise<void> | void,
    more: () => Promise<boolean> = () => Promise.resolve(false),
  ): Promise<number> {
    const producer = new RuleEngineProducer({ redisUrl: redis.url, queues: [SQ, MAIN] });
    let seq = 0;
    try {
      for (let r = 0; r < rounds || (r < 1000 && (await more())); r++) {
        await during(r);
        const sends: Promise<void>[] = [];
        for (let o = 0; o < ORIGINATORS; o++) {
          sends.push(producer.send(deviceMsg(`dev-${o}`, seq++ * 2, SQ.name)));
          sends.push(producer.send(deviceMsg(`dev-${o}`, seq * 2 - 1, MAIN.name)));
        }
        await Promise.all(sends);
        await sleep(gapMs);
      }
    } finally {
      await producer.close();
    }
    return seq * 2;
  }

  /** Every message processed; per originator, SQ messages first started in send order. Returns the duplicates. */
  function check(all: Record[], total: number): number {
    const firstSeen = new Set<number>();
    const lastSq = new Map<string, number>();
    for (const r of all) {
      if (firstSeen.has(r.seq)) continue;
      firstSeen.add(r.seq);
      if (r.seq % 2 === 0) {
        expect(r.seq, `order of ${r.originator}`).to.be.greaterThan(lastSq.get(r.originator) ?? -1);
        lastSq.set(r.originator, r.seq);
      }
    }
    expect(firstSeen.size).to.equal(total);
    return all.length - total;
  }

  /** How many partitions of SQ each consumer holds a lease on. */
  async function leases(): Promise<{ A: number; B: number }> {
    const owners = await Promise.all(Array.from({ length: SQ.partitions }, (_, p) => admin.get(`{rc-q-${p}}:${SQ.name}:lease`)));
    const count = (id: string) => owners.filter((o) => o?.startsWith(`${id}|`)).length;
    return { A: count('A'), B: count('B') };
  }

  it('keeps per-originator order while a second consumer joins and the partitions are shared out', async () => {
    await spawn('A');
    let b: Promise<ChildConsumer> | undefined;
    let rounds = 0;
    // Go on sending until B has taken its share, and a little longer.
    const total = await sendRounds(
      40,
      25,
      (round) => {
        if (round === 5) b = spawn('B');
      },
      async () => (await leases()).B < 3 || ++rounds < 10,
    );
    await b;
    await waitFor('all messages', async () => (await admin.llen(RECORD)) >= total);
    await sleep(300);
    const all = await records();
    expect(check(all, total)).to.equal(0); // a graceful handover processes nothing twice
    const byConsumer = new Set(all.filter((r) => r.seq % 2 === 0).map((r) => r.consumer));
    expect([...byConsumer].sort()).to.deep.equal(['A', 'B']);
    expect(await leases()).to.deep.equal({ A: 3, B: 3 }); // evenly
  });

  it('a consumer closed mid-run hands its partitions over: nothing lost, nothing twice, order kept', async () => {
    const a = await spawn('A');
    await spawn('B');
    let stopping: Promise<void> | undefined;
    const total = await sendRounds(40, 25, (round) => {
      if (round === 15) stopping = a.stop('SIGTERM');
    });
    await stopping;
    expect(await a.exited).to.equal(0);
    await waitFor('all messages', async () => (await admin.llen(RECORD)) >= total, 15_000);
    await sleep(300);
    expect(check(await records(), total)).to.equal(0);
  });

  it('a consumer killed mid-run: the other processes its packs (at least once), order kept', async () => {
    // Slow handlers, so that A surely has packs in flight when it dies.
    const a = await spawn('A', 30);
    await spawn('B', 30);
    const total = await sendRounds(40, 25, async (round) => {
      if (round === 15) await a.stop('SIGKILL');
    });
    await waitFor(
      'all messages',
      async () => new Set((await records()).map((r) => r.seq)).size >= total,
      20_000,
    );
    await sleep(300);
    const duplicates = check(await records(), total);
    // Only the packs A had in flight run again.
    console.log(`      (killed consumer: ${total} messages, ${duplicates} processed twice)`);
    expect(duplicates).to.be.greaterThan(0);
    expect(duplicates).to.be.below(total / 4);
  });
});
