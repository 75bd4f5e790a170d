// Shared by the reliability tests: a tenant whose root chain saves telemetry, messages that each
// save one point under a key of their own, and the count of points per message.
//
// The chain saves with the server's clock (useServerTs), so every run of a message adds a point at
// another millisecond: one point = processed once, two = processed twice (a duplicate).
import type { RunningSystem } from '../../../src/app/system.js';
import { newMsg, type TbMsg } from '../../../src/msg/tb-msg.js';
import { execAll } from '../../../src/store/redis-client.js';

export const ROOT_CHAIN = {
  ruleChain: { name: 'Reliability root', type: 'CORE' },
  metadata: {
    firstNodeIndex: 0,
    nodes: [
      { type: 'org.thingsboard.rule.engine.filter.TbMsgTypeSwitchNode', name: 'Message Type Switch', configuration: { version: 0 } },
      {
        type: 'org.thingsboard.rule.engine.telemetry.TbMsgTimeseriesNode',
        name: 'Save Timeseries',
        configurationVersion: 1,
        configuration: { defaultTTL: 0, useServerTs: true, processingSettings: { type: 'ON_EVERY_MESSAGE' } },
      },
    ],
    connections: [{ fromIndex: 0, toIndex: 1, type: 'Post telemetry' }],
  },
};

/** Creates a tenant with ROOT_CHAIN as its root chain; returns the tenant id. */
export async function telemetryTenant(system: RunningSystem): Promise<string> {
  const tenant = await system.store.tenants.create({ title: 'Reliability tenant' });
  await system.chains.importChain(tenant.id.id, ROOT_CHAIN, { root: true });
  return tenant.id.id;
}

const deviceId = (d: number) => `00000000-0000-4000-8000-${String(d).padStart(12, '0')}`;

/** Message `seq` of `devices` devices: telemetry {"m<seq>": seq}. */
export function telemetryMsg(tenantId: string, seq: number, devices: number): TbMsg {
  return newMsg({
    type: 'POST_TELEMETRY_REQUEST',
    originator: { entityType: 'DEVICE', id: deviceId(seq % devices) },
    data: JSON.stringify({ [`m${seq}`]: seq }),
    metaData: { deviceName: `device-${seq % devices}`, deviceType: 'default' },
    tenantId,
  });
}

/** How many points each message left (0 = never processed), in the order given. */
export async function pointsPerMessage(system: RunningSystem, msgs: readonly TbMsg[]): Promise<number[]> {
  const pipeline = system.store.redis.pipeline();
  for (const m of msgs) {
    const key = Object.keys(JSON.parse(m.data) as Record<string, number>)[0];
    pipeline.zcard(system.store.keys.timeseries(m.originator, key));
  }
  return (await execAll(pipeline)).map(Number);
}

export interface Tally {
  readonly missing: number;
  readonly duplicates: number;
}

export function tally(points: readonly number[]): Tally {
  return {
    missing: points.filter((n) => n === 0).length,
    duplicates: points.reduce((sum, n) => sum + Math.max(0, n - 1), 0),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` until it holds or `timeoutMs` passes; returns whether it held. */
export async function eventually(cond: () => Promise<boolean>, timeoutMs: number, everyMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}
