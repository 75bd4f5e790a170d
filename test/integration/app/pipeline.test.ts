// Device-like messages → BullMQ queues → the tenant's root chain, through the composition root.
import { expect } from 'chai';
import pino from 'pino';
import { startSystem, type RunningSystem } from '../../../src/app/system.js';
import { testSettings } from '../../helpers/test-settings.js';
import type { TraceEvent } from '../../../src/engine/trace.js';
import { newMsg } from '../../../src/msg/tb-msg.js';
import { chainDoc } from '../../helpers/chain-builder.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';

describe('the system: queues into the tenant root chain', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let system: RunningSystem;

  before(async () => {
    redis = await startTestRedis();
    system = await startSystem(testSettings({ trace: true }), redis.url, pino({ level: 'silent' }));
  });
  after(async () => {
    await system?.stop();
    await redis?.stop();
  });

  it('processes every queued message in the root chain of its tenant', async () => {
    const tenant = await system.store.tenants.create({ title: 'Pipeline tenant' });
    const doc = chainDoc(
      'Root',
      [
        { type: 'org.thingsboard.rule.engine.filter.TbMsgTypeSwitchNode', name: 'switch' },
        { type: 'org.thingsboard.rule.engine.filter.TbJsFilterNode', name: 'hot?', configuration: { scriptLang: 'JS', jsScript: 'return msg.temperature > 25;' } },
        { type: 'org.thingsboard.rule.engine.flow.TbAckNode', name: 'ack' },
      ],
      [[0, 1, 'Post telemetry'], [1, 2, 'True']],
    );
    await system.chains.importChain(tenant.id.id, doc, { root: true });
    const seen: TraceEvent[] = [];
    const sub = system.runtime.trace.events$.subscribe((e) => seen.push(e));
    const total = 500;
    await Promise.all(
      Array.from({ length: total }, (_, i) =>
        system.toRuleEngine(
          newMsg({
            type: 'POST_TELEMETRY_REQUEST',
            originator: { entityType: 'DEVICE', id: `device-${i % 20}` },
            tenantId: tenant.id.id,
            data: JSON.stringify({ temperature: i % 50 }),
          }),
        ),
      ),
    );
    for (let i = 0; i < 200 && seen.filter((e) => e.nodeName === 'hot?').length < total; i++) await new Promise((r) => setTimeout(r, 25));
    sub.unsubscribe();
    const filtered = seen.filter((e) => e.nodeName === 'hot?');
    expect(filtered).to.have.length(total);
    expect(filtered.filter((e) => e.relations[0] === 'True')).to.have.length(total * 24 / 50);
    expect(seen.filter((e) => e.nodeName === 'ack')).to.have.length(total * 24 / 50);
  });

  it('resumes through the queues a message a node sent on later (delay node), after that node', async () => {
    const tenant = await system.store.tenants.create({ title: 'Delay tenant' });
    const doc = chainDoc(
      'Delayed',
      [
        { type: 'org.thingsboard.rule.engine.delay.TbMsgDelayNode', name: 'wait', configuration: { periodInSeconds: 0.05, maxPendingMsgs: 1000 } },
        { type: 'org.thingsboard.rule.engine.filter.TbJsFilterNode', name: 'after the delay', configuration: { scriptLang: 'JS', jsScript: 'return msg.n >= 0;' } },
      ],
      [[0, 1, 'Success']],
    );
    await system.chains.importChain(tenant.id.id, doc, { root: true });
    const seen: TraceEvent[] = [];
    const sub = system.runtime.trace.events$.subscribe((e) => seen.push(e));
    const total = 50;
    for (let i = 0; i < total; i++) {
      await system.toRuleEngine(newMsg({ type: 'CUSTOM', originator: { entityType: 'DEVICE', id: `d-${i}` }, tenantId: tenant.id.id, data: JSON.stringify({ n: i }) }));
    }
    for (let i = 0; i < 200 && seen.filter((e) => e.nodeName === 'after the delay').length < total; i++) await new Promise((r) => setTimeout(r, 25));
    sub.unsubscribe();
    expect(seen.filter((e) => e.nodeName === 'wait')).to.have.length(total);
    expect(seen.filter((e) => e.nodeName === 'after the delay' && e.relations[0] === 'True')).to.have.length(total);
  });
});
