// Alarms: GET /api/alarm/{entityType}/{entityId} (page of an originator's alarms),
// POST /api/alarm/{alarmId}/ack, POST /api/alarm/{alarmId}/clear.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { EntityType } from '../../msg/entity.js';
import type { AlarmQuery, AlarmResult, AlarmSearchStatus, AlarmStatus } from '../../store/alarms.js';
import { idOf } from '../../store/ids.js';
import { checkEntity, loadAlarm, tenantOf } from '../access.js';
import { currentUser, requireAuth } from '../auth/require-auth.js';
import type { ApiContext } from '../context.js';
import { badRequest } from '../errors.js';
import { entityIdSchema, entityJson, entityTypeSchema, errorResponses, pageDataSchema, pageQuerySchema, uuid, uuidParams, type PageQuery } from '../schemas.js';

export const alarmSchema = entityJson("ThingsBoard's Alarm", {
  tenantId: entityIdSchema('TENANT'),
  customerId: entityIdSchema('CUSTOMER'),
  type: { type: 'string' },
  name: { type: 'string' },
  originator: entityIdSchema(),
  severity: { type: 'string', enum: ['CRITICAL', 'MAJOR', 'MINOR', 'WARNING', 'INDETERMINATE'] },
  acknowledged: { type: 'boolean' },
  cleared: { type: 'boolean' },
  status: { type: 'string', enum: ['ACTIVE_UNACK', 'ACTIVE_ACK', 'CLEARED_UNACK', 'CLEARED_ACK'] },
  startTs: { type: 'integer' },
  endTs: { type: 'integer' },
  ackTs: { type: 'integer' },
  clearTs: { type: 'integer' },
  details: {},
});

type ListQuery = PageQuery & { searchStatus?: AlarmSearchStatus; status?: AlarmStatus };

export function alarmRoutes(ctx: ApiContext): FastifyPluginAsync {
  const { store } = ctx.deps;

  async function act(request: FastifyRequest<{ Params: { alarmId: string } }>, action: 'ack' | 'clear') {
    const me = currentUser(request);
    const tenantId = tenantOf(me);
    const alarm = await loadAlarm(store, me, request.params.alarmId);
    const result: AlarmResult = action === 'ack' ? await store.alarms.acknowledge(tenantId, alarm.id.id) : await store.alarms.clear(tenantId, alarm.id.id);
    // ThingsBoard 3.5+: acknowledging or clearing twice is an error.
    if (!result.modified) throw badRequest(action === 'ack' ? 'Alarm was already acknowledged!' : 'Alarm was already cleared!');
    await ctx.events.emit({
      type: action === 'ack' ? 'ALARM_ACK' : 'ALARM_CLEAR',
      tenantId,
      originator: result.alarm.originator,
      customerId: result.alarm.customerId.id,
      data: result.alarm,
      user: me,
    });
    return result.alarm;
  }

  return async (app) => {
    app.get<{ Params: { entityType: EntityType; entityId: string }; Querystring: ListQuery }>(
      '/api/alarm/:entityType/:entityId',
      {
        onRequest: requireAuth(['TENANT_ADMIN', 'CUSTOMER_USER']),
        schema: {
          tags: ['alarm'],
          summary: "Page of an entity's alarms, newest first",
          params: { type: 'object', required: ['entityType', 'entityId'], properties: { entityType: entityTypeSchema, entityId: uuid } },
          querystring: pageQuerySchema(['createdTime', 'startTs', 'endTs', 'severity', 'type'], {
            searchStatus: { type: 'string', enum: ['ANY', 'ACTIVE', 'CLEARED', 'ACK', 'UNACK'] },
            status: { type: 'string', enum: ['ACTIVE_UNACK', 'ACTIVE_ACK', 'CLEARED_UNACK', 'CLEARED_ACK'] },
          }),
          response: { 200: pageDataSchema(alarmSchema), ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const me = currentUser(request);
        const originator = idOf(request.params.entityType, request.params.entityId);
        await checkEntity(store, me, originator);
        const query: AlarmQuery = request.query;
        return store.alarms.listByOriginator(tenantOf(me), originator, query);
      },
    );

    for (const action of ['ack', 'clear'] as const) {
      app.post<{ Params: { alarmId: string } }>(
        `/api/alarm/:alarmId/${action}`,
        {
          onRequest: requireAuth(['TENANT_ADMIN', 'CUSTOMER_USER']),
          schema: {
            tags: ['alarm'],
            summary: action === 'ack' ? 'Acknowledge an alarm' : 'Clear an alarm',
            params: uuidParams('alarmId'),
            response: { 200: alarmSchema, ...errorResponses(400, 401, 403, 404) },
          },
        },
        async (request) => act(request, action),
      );
    }
  };
}
