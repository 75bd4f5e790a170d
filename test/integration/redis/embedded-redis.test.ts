import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { createRedis } from '../../../src/redis/connection.js';
import { ensureRedisServer, startEmbeddedRedis, type EmbeddedRedis } from '../../../src/redis/embedded-redis.js';
import { freePort } from '../../../src/redis/free-port.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('embedded redis-server', () => {
  let dataDir: string;
  const started: EmbeddedRedis[] = [];
  const clients: Redis[] = [];

  beforeEach(async () => (dataDir = await mkdtemp(join(tmpdir(), 'rpc-chains-embedded-'))));
  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    for (const r of started.splice(0)) await r.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function start(opts: { port?: number; appendOnly?: boolean } = {}): Promise<EmbeddedRedis> {
    const r = await startEmbeddedRedis({ dataDir, ...opts });
    started.push(r);
    return r;
  }

  function client(url: string, role: 'client' | 'worker' = 'client'): Redis {
    const c = createRedis(url, { role, logger: { warn() {} } });
    clients.push(c);
    return c;
  }

  it('starts on a free port with the settings we rely on; SET/GET works through ioredis', async () => {
    const r = await start();
    expect(r.url).to.equal(`redis://127.0.0.1:${r.port}`);
    const c = client(r.url);
    await c.set('k', 'v');
    expect(await c.get('k')).to.equal('v');
    expect(await c.config('GET', 'maxmemory-policy')).to.deep.equal(['maxmemory-policy', 'noeviction']);
    expect(await c.config('GET', 'appendonly')).to.deep.equal(['appendonly', 'yes']);
    expect(await c.config('GET', 'save')).to.deep.equal(['save', '']);
    expect(await c.config('GET', 'dir')).to.deep.equal(['dir', join(dataDir, 'redis')]);
  });

  it('keeps data across a restart (AOF), and stop() twice is safe', async () => {
    const port = await freePort();
    const first = await start({ port });
    const c1 = client(first.url);
    await c1.set('survives', 'yes');
    c1.disconnect();
    await first.stop();
    await first.stop();
    expect((await first.exited).code).to.equal(0);

    const second = await start({ port });
    expect(await client(second.url).get('survives')).to.equal('yes');
  });

  it('gives a clear error when the port is already in use', async () => {
    const port = await freePort();
    const blocker: Server = createServer();
    await new Promise<void>((res) => blocker.listen(port, '127.0.0.1', res));
    try {
      const e = await rejection(startEmbeddedRedis({ dataDir, port }));
      expect(e.message).to.include(`port ${port} on 127.0.0.1 is already in use`);
    } finally {
      blocker.close();
    }
  });

  it('refuses a second redis-server on the same data directory', async () => {
    const r = await start();
    const e = await rejection(startEmbeddedRedis({ dataDir }));
    expect(e.message).to.include(`another redis-server (pid ${r.pid}) is already using`);
  });

  it("includes redis-server's output when it fails to start", async () => {
    const e = await rejection(startEmbeddedRedis({ dataDir, extraArgs: ['--no-such-directive', 'x'] }));
    expect(e.message).to.match(/redis-server exited \(1\) before answering PING/);
    expect(e.message).to.include('no-such-directive');
  });
});

describe('ensureRedisServer', () => {
  const quiet = { debug() {}, info() {}, warn() {} };

  it('finds redis-server on PATH', async () => {
    expect(await ensureRedisServer(quiet)).to.match(/\/redis-server$/);
  });

  it('says how to install redis-server when it is missing and installing is off', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      const e = await rejection(ensureRedisServer(quiet, { install: false }));
      expect(e.message).to.include('sudo apt-get install redis-server').and.include('REDIS_URL');
      const e2 = await rejection(startEmbeddedRedis({ dataDir: tmpdir() }));
      expect(e2.message).to.include('sudo apt-get install redis-server');
    } finally {
      process.env.PATH = path;
    }
  });
});

describe('startTestRedis', () => {
  let redis: TestRedis;
  const clients: Redis[] = [];
  before(async () => (redis = await startTestRedis()));
  after(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    await redis.stop();
  });

  it('survives kill -9 and restart with the AOF, and a worker connection heals by itself', async () => {
    const worker = createRedis(redis.url, { role: 'worker', logger: { warn() {} } });
    clients.push(worker);
    await worker.set('a', '1');
    await redis.kill();
    await redis.restart();
    // Nothing acknowledged is lost on kill -9: Redis writes the AOF before it replies (fsync matters only if the machine dies).
    expect(await worker.get('a')).to.equal('1');
  });

  it('makes a client connection fail fast while Redis is down', async () => {
    const c = createRedis(redis.url, { role: 'client', logger: { warn() {} } });
    clients.push(c);
    await c.ping();
    await redis.kill();
    const t0 = Date.now();
    const e = await rejection(c.get('a'));
    expect(Date.now() - t0).to.be.below(3000);
    expect(e.message).to.be.a('string');
    await redis.restart();
    expect(await c.get('a')).to.equal('1');
  });
});
