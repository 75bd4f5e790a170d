import { MSG_TYPES, type MsgTypeInfo } from './msg-types-data.js';

export { MSG_TYPES, type MsgTypeInfo };

const byType = new Map<string, MsgTypeInfo>(MSG_TYPES.map((t) => [t.type, t]));

/** The relation name the message type switch uses; custom and unknown types go to "Other". */
export function switchRelationOf(msgType: string): string {
  return byType.get(msgType)?.switchRelation ?? 'Other';
}

export function isKnownMsgType(msgType: string): boolean {
  return byType.has(msgType);
}

/** Message types rpc-chains itself creates, named once so that no string is typed twice. */
export const MsgType = {
  POST_TELEMETRY_REQUEST: 'POST_TELEMETRY_REQUEST',
  POST_ATTRIBUTES_REQUEST: 'POST_ATTRIBUTES_REQUEST',
  TO_SERVER_RPC_REQUEST: 'TO_SERVER_RPC_REQUEST',
  RPC_CALL_FROM_SERVER_TO_DEVICE: 'RPC_CALL_FROM_SERVER_TO_DEVICE',
  CONNECT_EVENT: 'CONNECT_EVENT',
  DISCONNECT_EVENT: 'DISCONNECT_EVENT',
  ACTIVITY_EVENT: 'ACTIVITY_EVENT',
  INACTIVITY_EVENT: 'INACTIVITY_EVENT',
  ENTITY_CREATED: 'ENTITY_CREATED',
  ENTITY_UPDATED: 'ENTITY_UPDATED',
  ATTRIBUTES_UPDATED: 'ATTRIBUTES_UPDATED',
  ATTRIBUTES_DELETED: 'ATTRIBUTES_DELETED',
  ALARM_CLEAR: 'ALARM_CLEAR',
} as const;
