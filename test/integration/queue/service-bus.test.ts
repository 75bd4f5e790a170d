import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createRedis } from '../../../src/redis/connection.js';
import { ServiceBus } from '../../../src/queue/service-bus.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { sleep, waitFor } from './queue-helpers.js';

const BUS_CHILD = fileURLToPath(new URL('./fixtures/bus-process.ts', import.meta.url));

describe('service bus', function () {
  this.timeout(20_000);
  let redis: TestRedis;
  const buses: ServiceBus[] = [];
  const children: ChildProcess[] = [];

  before(async () => (redis = await startTestRedis()));
  after(() => redis.stop());
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(buses.splice(0).map((b) => b.close()));
  });

  async function bus(serviceId: string, heartbeatTtlMs = 10_000): Promise<ServiceBus> {
    const b = new ServiceBus({ redisUrl: redis.url, serviceId, heartbeatTtlMs, logger: { warn: () => undefined } });
    buses.push(b);
    await b.start();
    return b;
  }

  async function child(serviceId: string, heartbeatTtlMs: number): Promise<ChildProcess> {
    const c = spawn(process.execPath, ['--import', 'tsx', BUS_CHILD], {
      env: { ...process.env, REDIS_URL: redis.url, SERVICE_ID: serviceId, HEARTBEAT_TTL_MS: String(heartbeatTtlMs) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(c);
    await new Promise<void>((resolve, reject) => {
      c.stdout?.on('data', (b: Buffer) => b.toString().includes('ready') && resolve());
      c.once('exit', (code) => reject(new Error(`bus child exited (${code})`)));
    });
    return c;
  }

  /** Sequential ping → pong round trips from `from` to `to`; returns the mean in ms. */
  async function roundTrips(from: ServiceBus, to: string, n: number): Promise<number> {
    let wake: (() => void) | undefined;
    const off = from.on('pong', () => wake?.());
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const got = new Promise<void>((r) => (wake = r));
      expect(await from.send(to, 'ping', { n: i })).to.equal(true);
      await got;
    }
    off();
    return (performance.now() - t0) / n;
  }

  it('delivers to the local service in memory, without Redis', async () => {
    const a = await bus('svc-a');
    const got: unknown[] = [];
    a.on('hello', (p, env) => void got.push([p, env.from]));
    const payload = { x: 1 };
    await redis.kill(); // no Redis at all
    try {
      expect(await a.send('svc-a', 'hello', payload)).to.equal(true);
      await sleep(1);
      expect(got).to.deep.equal([[{ x: 1 }, 'svc-a']]);
      expect((got[0] as unknown[])[0]).to.equal(payload); // not even copied
    } finally {
      await redis.restart();
    }
  });

  it('delivers to another service through Redis, in order; false for a service that is not alive', async () => {
    const a = await bus('svc-a');
    const b = await bus('svc-b');
    const got: number[] = [];
    b.on<{ n: number }>('seq', (p, env) => {
      expect(env.from).to.equal('svc-a');
      got.push(p.n);
    });
    for (let n = 0; n < 200; n++) void a.send('svc-b', 'seq', { n });
    await waitFor('200 messages', () => got.length === 200);
    expect(got).to.deep.equal(Array.from({ length: 200 }, (_, n) => n));
    expect(await a.send('svc-nobody', 'seq', { n: 0 })).to.equal(false);
    expect(await a.isAlive('svc-b')).to.equal(true);
    expect(await a.isAlive('svc-nobody')).to.equal(false);
    expect((await a.aliveServices()).sort()).to.deep.equal(['svc-a', 'svc-b']);
  });

  it('round trip to another process, and back: mean latency', async () => {
    const a = await bus('svc-a');
    await child('svc-child', 10_000);
    await roundTrips(a, 'svc-child', 50); // warm up
    const mean = await roundTrips(a, 'svc-child', 1000);
    console.log(`      (service bus round trip between two processes: ${mean.toFixed(3)} ms)`);
    expect(mean).to.be.below(5);
  });

  it('a killed service is dead once its heartbeat expires; a closed one at once', async () => {
    const a = await bus('svc-a');
    const c = await child('svc-child', 600);
    expect(await a.isAlive('svc-child')).to.equal(true);
    await sleep(800); // renewed by its heartbeat
    expect(await a.isAlive('svc-child')).to.equal(true);
    c.kill('SIGKILL');
    const killedAt = Date.now();
    await waitFor('expiry', async () => !(await a.isAlive('svc-child')), 3000);
    expect(Date.now() - killedAt).to.be.below(1500); // TTL 600 ms, plus slack for a busy machine
    expect(await a.send('svc-child', 'ping', { n: 1 })).to.equal(false);

    const b = await bus('svc-b');
    expect(await a.isAlive('svc-b')).to.equal(true);
    await Promise.all([b.close(), b.close()]);
    await b.close();
    expect(await a.isAlive('svc-b')).to.equal(false);
    let err: unknown;
    await b.send('svc-a', 'x', 1).catch((e: unknown) => (err = e));
    expect(String(err)).to.match(/closed/);
  });

  it('a message sent while the receiver is cut off from Redis waits in its inbox', async () => {
    const a = await bus('svc-a');
    const b = await bus('svc-b');
    const got: number[] = [];
    b.on<{ n: number }>('seq', (p) => void got.push(p.n));
    await a.send('svc-b', 'seq', { n: 1 });
    await waitFor('first', () => got.length === 1);
    // Cut b's inbox reader off (as a network blip would); Redis keeps what a sends meanwhile.
    const admin = createRedis(redis.url, { role: 'client' });
    try {
      const list = String(await admin.client('LIST'));
      const id = /id=(\d+) .*name=rc-bus-inbox:svc-b /.exec(list)?.[1];
      expect(id).to.be.a('string');
      await admin.client('KILL', 'ID', id ?? '');
    } finally {
      admin.disconnect();
    }
    await a.send('svc-b', 'seq', { n: 2 });
    await a.send('svc-b', 'seq', { n: 3 });
    await waitFor('the rest', () => got.length === 3);
    expect(got).to.deep.equal([1, 2, 3]);
  });

  it('continuity stays while the registration is kept alive, and changes when Redis is lost or a heartbeat is late', async () => {
    const a = await bus('svc-cont', 1500);
    const start = a.continuity;
    await sleep(1100); // two heartbeats, a third of the TTL apart
    expect(a.continuity, 'steady heartbeats').to.equal(start);

    // The command connection is cut (as a Redis restart or a network blip would).
    const admin = createRedis(redis.url, { role: 'client' });
    try {
      const list = String(await admin.client('LIST'));
      const id = /id=(\d+) .*name=rc-bus:svc-cont /.exec(list)?.[1];
      expect(id).to.be.a('string');
      await admin.client('KILL', 'ID', id ?? '');
    } finally {
      admin.disconnect();
    }
    await waitFor('the lost connection to count', () => a.continuity !== start);
    const afterCut = a.continuity;

    // The event loop blocked for longer than two thirds of the TTL: the registration may have expired.
    const until = Date.now() + 1100;
    while (Date.now() < until) {
      // busy: no heartbeat can run
    }
    await waitFor('the late heartbeat to count', () => a.continuity !== afterCut);
  });
});
