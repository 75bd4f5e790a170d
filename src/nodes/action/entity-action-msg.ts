// The messages ThingsBoard's store nodes put on the rule engine after a change (TbContext's
// entityActionMsg / attributesUpdatedActionMsg / alarmActionMsg): a NEW message whose originator
// is the changed entity, data its JSON, metadata the node that made it, to the originator's root
// chain. They let a root chain react to what another chain did, as it reacts to API changes.
import type { NodeInit } from '../../engine/node-api.js';
import type { EntityId } from '../../msg/entity.js';
import { newMsg, type TbMsg } from '../../msg/tb-msg.js';
import type { Alarm } from '../../store/alarms.js';
import { isNullUuid } from '../../store/ids.js';

export interface EntityAction {
  readonly type: string;
  readonly originator: EntityId;
  readonly tenantId: string;
  readonly customerId?: string | null;
  readonly data: unknown;
  readonly metaData?: Readonly<Record<string, string>>;
}

/**
 * Enqueues the action message and resolves once the queue has it, so the node goes on only
 * after (ThingsBoard: ctx.enqueue(msg, onSuccess, onFailure)); a rejection becomes the node's
 * Failure. Runs without a rule-engine queue (in-memory `rpc-chains run`) skip it.
 */
export async function enqueueEntityAction(init: NodeInit, action: EntityAction): Promise<void> {
  const toRuleEngine = init.services.toRuleEngine;
  if (!toRuleEngine) return;
  await toRuleEngine(entityActionMsg(init, action));
}

export function entityActionMsg(init: NodeInit, action: EntityAction): TbMsg {
  const customerId = action.customerId && !isNullUuid(action.customerId) ? action.customerId : null;
  return newMsg({
    type: action.type,
    originator: { entityType: action.originator.entityType, id: action.originator.id },
    tenantId: action.tenantId,
    customerId,
    data: JSON.stringify(action.data ?? {}),
    metaData: { ruleNodeId: init.self.id, ...action.metaData },
  });
}

/** ThingsBoard's alarmActionMsg: the alarm's JSON, from the alarm's originator (as the API's alarm events). */
export function enqueueAlarmAction(init: NodeInit, type: string, alarm: Alarm): Promise<void> {
  return enqueueEntityAction(init, { type, originator: alarm.originator, tenantId: alarm.tenantId.id, customerId: alarm.customerId.id, data: alarm });
}
