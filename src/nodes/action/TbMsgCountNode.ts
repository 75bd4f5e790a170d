import { hostname } from 'node:os';
import { defineNode, FAILURE, SUCCESS } from '../../engine/node-api.js';
import { newMsg } from '../../msg/tb-msg.js';
import { NULL_UUID } from '../../store/ids.js';

export interface MsgCountConfig {
  /** Seconds between two count messages (ThingsBoard: an int; fractions allowed here, see the schema). */
  interval: number;
  telemetryPrefix: string;
}

/**
 * Counts the messages it receives; each one ends its branch (acknowledged). Every
 * `interval` seconds it sends a POST_TELEMETRY_REQUEST from the tenant with data
 * {"<prefix>_<serviceId>": count} and metadata delta (ms since the previous tick, drift
 * included) on Success, through the queue, and starts counting from 0 again.
 */
export const TbMsgCountNode = defineNode<MsgCountConfig>({
  type: 'org.thingsboard.rule.engine.action.TbMsgCountNode',
  category: 'ACTION',
  uiName: 'message count',
  version: 0,
  relations: [SUCCESS, FAILURE],
  configSchema: {
    type: 'object',
    properties: {
      // ThingsBoard's UI asks for an integer >= 1; any positive number is accepted so that
      // tests and demos can count over sub-second intervals.
      interval: { type: 'number', exclusiveMinimum: 0, default: 1 },
      telemetryPrefix: { type: 'string', default: 'messageCount' },
    },
  },
  defaultConfig: { interval: 1, telemetryPrefix: 'messageCount' },
  create(config, init) {
    const delay = config.interval * 1000;
    const key = `${config.telemetryPrefix}_${init.services.serviceId ?? hostname()}`;
    let count = 0;
    // The node's tenant is not in NodeInit: take it from the counted messages; until one
    // has a tenant, ThingsBoard's system tenant id (NULL_UUID) stands in.
    let tenantId: string | null = null;
    let lastScheduledTs = 0;
    let timer: NodeJS.Timeout | null = null;
    let stopped = false;

    // Like ThingsBoard: ticks are planned from the previous planned time, not from when
    // the timer fired, so the period does not drift.
    const schedule = () => {
      const now = Date.now();
      if (lastScheduledTs === 0) lastScheduledTs = now;
      lastScheduledTs += delay;
      timer = setTimeout(tick, Math.max(0, lastScheduledTs - now));
    };

    const tick = () => {
      timer = null;
      if (stopped) return;
      const tenant = tenantId ?? NULL_UUID;
      const msg = newMsg({
        type: 'POST_TELEMETRY_REQUEST',
        originator: { entityType: 'TENANT', id: tenant },
        tenantId: tenant,
        metaData: { delta: String(Date.now() - lastScheduledTs + delay) },
        data: JSON.stringify({ [key]: count }),
      });
      count = 0;
      init.enqueueForTellNext(msg, SUCCESS).catch((e: unknown) => {
        init.services.logger.warn(`"${init.self.name}": could not queue the message count: ${e instanceof Error ? e.message : String(e)}`);
      });
      schedule();
    };

    schedule();
    return {
      onMsg(msg, ctx) {
        count++;
        if (msg.tenantId !== null) tenantId = msg.tenantId;
        ctx.ack();
        return undefined;
      },
      destroy() {
        stopped = true;
        if (timer) clearTimeout(timer);
        timer = null;
      },
    };
  },
});
