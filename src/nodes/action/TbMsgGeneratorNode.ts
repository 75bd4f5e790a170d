import {
  defineNode,
  errorText,
  FAILURE,
  type JsonObject,
  NodeConfigError,
  SUCCESS,
  tellFailure,
} from '../../engine/node-api.js';
import { compileConfiguredScript, scriptConfigProperties, type ScriptConfig } from '../../engine/script/script-config.js';
import { msgChangesOf } from '../../engine/script/script-result.js';
import type { EntityId, EntityType } from '../../msg/entity.js';
import { DEFAULT_QUEUE, newMsg, transformMsg, type TbMsg } from '../../msg/tb-msg.js';
import { NULL_UUID } from '../../store/ids.js';

const DEFAULT_SCRIPT =
  'var msg = { temp: 42, humidity: 77 };\nvar metadata = { data: 40 };\nvar msgType = "POST_TELEMETRY_REQUEST";\n\nreturn { msg: msg, metadata: metadata, msgType: msgType };';

/** The originator types ThingsBoard's generator accepts. */
export const GENERATOR_ORIGINATOR_TYPES = [
  'DEVICE',
  'ASSET',
  'ENTITY_VIEW',
  'TENANT',
  'CUSTOMER',
  'USER',
  'DASHBOARD',
  'EDGE',
  'RULE_NODE',
] as const satisfies readonly EntityType[];

export type GeneratorOriginatorType = (typeof GENERATOR_ORIGINATOR_TYPES)[number];

export interface MsgGeneratorConfig extends ScriptConfig {
  /** How many messages to send; 0 = no limit. */
  msgCount: number;
  /** Seconds between two messages (ThingsBoard: an int; fractions allowed here, see the schema). */
  periodInSeconds: number;
  originatorType: GeneratorOriginatorType;
  originatorId?: string;
  /**
   * Only in configurations upgraded from version 0, where the queue was part of the
   * configuration; ThingsBoard moves it to the node's queueName on upgrade. Our upgrade
   * cannot reach the node, so it keeps the value here and the node's own queueName wins.
   */
  queueName?: string;
}

/** ThingsBoard's upgrade: 0→1 drops queueName (see MsgGeneratorConfig.queueName); 1→2 sets RULE_NODE when the originator is incomplete. */
export function upgradeGeneratorConfig(fromVersion: number, config: JsonObject): JsonObject {
  const out: JsonObject = { ...config };
  if (fromVersion === 0 && typeof out.queueName !== 'string') delete out.queueName;
  if (fromVersion === 1) {
    const hasType = out.originatorType !== undefined && out.originatorType !== null;
    const hasId = typeof out.originatorId === 'string' && out.originatorId.trim() !== '';
    if (!(hasType && hasId)) out.originatorType = 'RULE_NODE';
  }
  return out;
}

/**
 * "generator": takes no input. Every periodInSeconds it runs its script with the previous
 * generated message (prevMsg, prevMetadata, prevMsgType; at first {}, {}, "") and sends the
 * message made of its result {msg, metadata, msgType} on Success through the queue, from
 * the configured originator (by default this rule node). A script error sends the tick
 * message on Failure instead; both count towards msgCount (0 = no limit).
 */
export const TbMsgGeneratorNode = defineNode<MsgGeneratorConfig>({
  type: 'org.thingsboard.rule.engine.debug.TbMsgGeneratorNode',
  category: 'ACTION',
  uiName: 'generator',
  version: 2,
  relations: [SUCCESS, FAILURE],
  configSchema: {
    type: 'object',
    properties: {
      msgCount: { type: 'integer', minimum: 0, default: 0 },
      // ThingsBoard's UI asks for an integer >= 1; any positive number is accepted so that
      // tests and demos can generate at sub-second periods.
      periodInSeconds: { type: 'number', exclusiveMinimum: 0, default: 1 },
      originatorType: { type: 'string', enum: [...GENERATOR_ORIGINATOR_TYPES], default: 'RULE_NODE' },
      originatorId: { type: 'string' },
      queueName: { type: 'string' },
      ...scriptConfigProperties,
    },
  },
  defaultConfig: {
    msgCount: 0,
    periodInSeconds: 1,
    originatorType: 'RULE_NODE',
    scriptLang: 'TBEL',
    jsScript: DEFAULT_SCRIPT,
    tbelScript: DEFAULT_SCRIPT,
  },
  upgrade: upgradeGeneratorConfig,
  create(config, init) {
    const originator = originatorOf(config, init.self.id);
    const script = compileConfiguredScript(config, init, ['prevMsg', 'prevMetadata', 'prevMsgType']);
    const queueName = init.queueName ?? config.queueName ?? DEFAULT_QUEUE;
    const delay = config.periodInSeconds * 1000;
    let sent = 0;
    let prev: TbMsg | null = null;
    let lastScheduledTs = 0;
    let timer: NodeJS.Timeout | null = null;
    let stopped = false;

    // Like ThingsBoard: ticks are planned from the previous planned time, so the period does not drift.
    const schedule = () => {
      const now = Date.now();
      if (lastScheduledTs === 0) lastScheduledTs = now;
      lastScheduledTs += delay;
      timer = setTimeout(tick, Math.max(0, lastScheduledTs - now));
    };

    const send = (msg: TbMsg, relation: string) => {
      init.enqueueForTellNext(msg, relation).catch((e: unknown) => {
        init.services.logger.warn(`"${init.self.name}": could not queue a generated message: ${errorText(e)}`);
      });
    };

    const tick = () => {
      timer = null;
      if (stopped || (config.msgCount !== 0 && sent >= config.msgCount)) return;
      prev ??= newMsg({ type: '', originator, queueName, data: '{}' });
      try {
        const changes = msgChangesOf(script.run(prev.data, prev.metaData, prev.type));
        const generated = transformMsg(prev, changes);
        // Each generated message is a new one (new id and time); it becomes the next prevMsg.
        prev = newMsg({ type: generated.type, originator, queueName, metaData: generated.metaData, data: generated.data });
        send(prev, SUCCESS);
      } catch (e) {
        // ThingsBoard sends its (empty) tick message on Failure, with the reason.
        const tickMsg = newMsg({ type: 'GENERATOR_NODE_SELF_MSG', originator: { entityType: 'RULE_NODE', id: init.self.id }, queueName, data: '' });
        send(transformMsg(tickMsg, { metaData: { error: errorText(e) } }), FAILURE);
      }
      sent++;
      if (config.msgCount === 0 || sent < config.msgCount) schedule();
    };

    schedule();
    return {
      // ThingsBoard's UI allows no connection into a generator (inEnabled = false) and the
      // node ignores any message; one that arrives here anyway fails rather than vanish.
      onMsg: (msg) => tellFailure(msg, `"${init.self.name}" is a generator and takes no input messages`),
      destroy() {
        stopped = true;
        if (timer) clearTimeout(timer);
        timer = null;
        script.dispose?.();
      },
    };
  },
});

/** The originator of generated messages; TENANT stands for the system tenant until nodes know their tenant. */
function originatorOf(config: MsgGeneratorConfig, selfId: string): EntityId {
  switch (config.originatorType) {
    case 'RULE_NODE':
      return { entityType: 'RULE_NODE', id: selfId };
    case 'TENANT':
      return { entityType: 'TENANT', id: NULL_UUID };
    default: {
      const id = config.originatorId?.trim() ?? '';
      if (id === '') throw new NodeConfigError('Originator entity must be selected.', '/originatorId');
      return { entityType: config.originatorType, id };
    }
  }
}
