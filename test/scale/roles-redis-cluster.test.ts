// Scale-out on a 3-master Redis Cluster (Debian redis-server --cluster-enabled yes, joined with
// redis-cli --cluster create): the same processes and scenarios as on one Redis, with
// REDIS_URL=redis-cluster://host:port,host:port,host:port. Every component runs unchanged.
import { startRedisCluster } from '../helpers/cluster-redis.js';
import { scaleSuite } from './scenarios.js';

scaleSuite('scale-out: roles as separate processes on a 3-master Redis Cluster', { startRedis: () => startRedisCluster({ masters: 3 }), single: false });
