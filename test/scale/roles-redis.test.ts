// Scale-out on one Redis: 2 api, 2 transport and 2 rule-engine processes (each `rpc-chains start`
// with its ROLES), the scenarios of scenarios.ts (beyond-thingsboard #5).
import { startTestRedis } from '../helpers/redis-server.js';
import { scaleSuite } from './scenarios.js';

scaleSuite('scale-out: roles as separate processes on one Redis', { startRedis: startTestRedis, single: true });
