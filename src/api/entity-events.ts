// The messages the API puts on the rule engine when a user changes something, as ThingsBoard's
// entity actions do: ENTITY_CREATED/UPDATED/DELETED/ASSIGNED/UNASSIGNED, ATTRIBUTES_UPDATED/DELETED,
// TIMESERIES_UPDATED, RELATION_ADD_OR_UPDATE/DELETED, ALARM_ACK/CLEAR. The originator is the entity,
// the data its JSON, the metadata names the user.
import type { FastifyBaseLogger } from 'fastify';
import type { EntityId } from '../msg/entity.js';
import { entityActionMsg } from '../msg/entity-action-msg.js';
import type { TbMsg } from '../msg/tb-msg.js';
import type { AuthUser } from './auth/auth-user.js';

export interface EntityEvent {
  readonly type: string;
  readonly tenantId: string;
  readonly originator: EntityId;
  /** The entity's customer, when it has one. */
  readonly customerId?: string | null;
  readonly data: unknown;
  readonly user: AuthUser;
  readonly metaData?: Readonly<Record<string, string>>;
}

export class EntityEvents {
  constructor(
    private readonly toRuleEngine: (msg: TbMsg) => Promise<void>,
    private readonly logger: FastifyBaseLogger,
  ) {}

  /**
   * Never fails the request: the change is already stored, and answering 500 would make the
   * client retry a write that succeeded. A lost event is logged as an error instead.
   */
  async emit(event: EntityEvent): Promise<void> {
    const msg = entityActionMsg({
      ...event,
      metaData: {
        userId: event.user.userId,
        userName: event.user.email,
        userFirstName: event.user.firstName,
        userLastName: event.user.lastName,
        ...event.metaData,
      },
    });
    try {
      await this.toRuleEngine(msg);
    } catch (err) {
      this.logger.error({ err, msgType: event.type, originator: event.originator }, 'could not enqueue entity event for the rule engine');
    }
  }
}
