// The messages ThingsBoard's store nodes put on the rule engine after a change (TbContext's
// entityActionMsg / attributesUpdatedActionMsg / alarmActionMsg): a NEW message from the changed
// entity, to the originator's root chain, with the node that made it in metadata.ruleNodeId. They
// let a root chain react to what another chain did, as it reacts to API changes.
import type { NodeInit } from '../../engine/node-api.js';
import { entityActionMsg, type EntityAction } from '../../msg/entity-action-msg.js';
import type { Alarm } from '../../store/alarms.js';

/**
 * Enqueues the action message and resolves once the queue has it, so the node goes on only
 * after (ThingsBoard: ctx.enqueue(msg, onSuccess, onFailure)); a rejection becomes the node's
 * Failure. Runs without a rule-engine queue (in-memory `rpc-chains run`) skip it.
 */
export async function enqueueEntityAction(init: NodeInit, action: EntityAction): Promise<void> {
  const toRuleEngine = init.services.toRuleEngine;
  if (!toRuleEngine) return;
  await toRuleEngine(entityActionMsg({ ...action, metaData: { ruleNodeId: init.self.id, ...action.metaData } }));
}

/** ThingsBoard's alarmActionMsg: the alarm's JSON, from the alarm's originator (as the API's alarm events). */
export function enqueueAlarmAction(init: NodeInit, type: string, alarm: Alarm): Promise<void> {
  return enqueueEntityAction(init, { type, originator: alarm.originator, tenantId: alarm.tenantId.id, customerId: alarm.customerId.id, data: alarm });
}
