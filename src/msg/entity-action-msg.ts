// The message ThingsBoard puts on the rule engine after an entity changed (its entityActionMsg):
// originator the entity, data its JSON, customer when it has one. Who made the change goes in the
// metadata: the API names the user, a rule node names itself.
import type { EntityId } from './entity.js';
import { newMsg, type TbMsg } from './tb-msg.js';
import { isNullUuid } from '../store/ids.js';

export interface EntityAction {
  readonly type: string;
  readonly originator: EntityId;
  readonly tenantId: string;
  /** The entity's customer, when it has one (a null UUID counts as none). */
  readonly customerId?: string | null;
  readonly data: unknown;
  /** Null or undefined values are left out, as TbMsgMetaData holds none. */
  readonly metaData?: Readonly<Record<string, string | null | undefined>>;
}

export function entityActionMsg(action: EntityAction): TbMsg {
  const customerId = action.customerId && !isNullUuid(action.customerId) ? action.customerId : null;
  return newMsg({
    type: action.type,
    originator: { entityType: action.originator.entityType, id: action.originator.id },
    tenantId: action.tenantId,
    customerId,
    data: JSON.stringify(action.data ?? {}),
    metaData: { ...action.metaData },
  });
}
