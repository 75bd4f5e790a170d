// REDIS_URL's cluster form: redis-cluster://[user:password@]host:port,host:port,... (rediss-cluster:// with TLS).
import { expect } from 'chai';
import { loadSettings, SettingsError } from '../../src/config/settings.js';
import { parseRedisUrl, redactUrl } from '../../src/redis/connection.js';

describe('REDIS_URL: one Redis or a Redis Cluster', () => {
  it('a redis:// or rediss:// URL is one Redis, passed to ioredis as it is', () => {
    expect(parseRedisUrl('redis://:pw@10.0.0.5:6380/2')).to.deep.equal({ kind: 'single', url: 'redis://:pw@10.0.0.5:6380/2' });
    expect(parseRedisUrl('rediss://cache.example:6379')).to.deep.equal({ kind: 'single', url: 'rediss://cache.example:6379' });
  });

  it('redis-cluster:// lists seed nodes; credentials apply to every node; default port 6379', () => {
    expect(parseRedisUrl('redis-cluster://10.0.0.1:7000,10.0.0.2:7001,redis-3')).to.deep.equal({
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: 'redis-3', port: 6379 },
      ],
      tls: false,
    });
    expect(parseRedisUrl('rediss-cluster://app:s%40cret@[::1]:7000,h:7001/')).to.deep.equal({
      kind: 'cluster',
      nodes: [
        { host: '::1', port: 7000 },
        { host: 'h', port: 7001 },
      ],
      username: 'app',
      password: 's@cret',
      tls: true,
    });
    expect(parseRedisUrl('redis-cluster://:only-password@h:1')).to.deep.include({ password: 'only-password' }).and.not.have.property('username');
  });

  it('a wrong cluster form is refused with the shape it should have', () => {
    for (const bad of ['redis-cluster://', 'redis-cluster://h:1,,h:2', 'redis-cluster://h:99999', 'redis-cluster://h:1/0', 'redis-cluster://h:1?x=1']) {
      expect(() => parseRedisUrl(bad), bad).to.throw(TypeError, /redis-cluster:\/\/\[user:password@\]host:port|is not host:port/);
    }
  });

  it('logs show no password', () => {
    expect(redactUrl('redis-cluster://app:secret@h1:1,h2:2')).to.equal('redis-cluster://app:***@h1:1,h2:2');
    expect(redactUrl('redis-cluster://h1:1,h2:2')).to.equal('redis-cluster://h1:1,h2:2');
    expect(redactUrl('redis://:secret@h:1')).to.equal('redis://:***@h:1');
  });

  it('the REDIS_URL setting accepts the cluster form and explains it when wrong', () => {
    expect(loadSettings({ REDIS_URL: 'redis-cluster://10.0.0.1:7000,10.0.0.2:7000' }).redisUrl).to.equal('redis-cluster://10.0.0.1:7000,10.0.0.2:7000');
    expect(loadSettings({ REDIS_URL: 'rediss-cluster://u:p@h:7000' }).redisUrl).to.equal('rediss-cluster://u:p@h:7000');
    for (const bad of ['redis-cluster://', 'redis-cluster://a:1, b:2', 'cluster://h:1']) {
      try {
        loadSettings({ REDIS_URL: bad });
        expect.fail(`${bad} was accepted`);
      } catch (e) {
        expect(e).to.be.instanceOf(SettingsError);
        expect((e as Error).message).to.include('REDIS_URL: must be a redis:// or rediss:// URL, or redis-cluster://host:port,host:port,...');
      }
    }
  });
});
