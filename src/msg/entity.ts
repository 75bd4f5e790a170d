/** ThingsBoard's EntityType values with their "normal names" (the originator type switch relations). */
export const ENTITY_TYPES = {
  TENANT: 'Tenant',
  CUSTOMER: 'Customer',
  USER: 'User',
  DASHBOARD: 'Dashboard',
  ASSET: 'Asset',
  DEVICE: 'Device',
  ALARM: 'Alarm',
  RULE_CHAIN: 'Rule chain',
  RULE_NODE: 'Rule node',
  ENTITY_VIEW: 'Entity View',
  WIDGETS_BUNDLE: 'Widgets bundle',
  WIDGET_TYPE: 'Widget type',
  TENANT_PROFILE: 'Tenant profile',
  DEVICE_PROFILE: 'Device profile',
  ASSET_PROFILE: 'Asset profile',
  API_USAGE_STATE: 'Api Usage State',
  TB_RESOURCE: 'TB Resource',
  OTA_PACKAGE: 'OTA package',
  EDGE: 'Edge',
  RPC: 'RPC',
  QUEUE: 'Queue',
  NOTIFICATION_TARGET: 'Notification target',
  NOTIFICATION_TEMPLATE: 'Notification template',
  NOTIFICATION_REQUEST: 'Notification request',
  NOTIFICATION: 'Notification',
  NOTIFICATION_RULE: 'Notification rule',
  QUEUE_STATS: 'Queue stats',
  OAUTH2_CLIENT: 'OAuth2 client',
  DOMAIN: 'Domain',
  MOBILE_APP: 'Mobile app',
  MOBILE_APP_BUNDLE: 'Mobile app bundle',
  CALCULATED_FIELD: 'Calculated field',
  JOB: 'Job',
  ADMIN_SETTINGS: 'Admin settings',
  AI_MODEL: 'AI model',
  API_KEY: 'API key',
} as const;

export type EntityType = keyof typeof ENTITY_TYPES;

export const ENTITY_TYPE_NAMES = Object.keys(ENTITY_TYPES) as EntityType[];

export interface EntityId {
  readonly entityType: EntityType;
  readonly id: string;
}

export function isEntityType(value: unknown): value is EntityType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ENTITY_TYPES, value);
}

export function entityNormalName(type: EntityType): string {
  return ENTITY_TYPES[type];
}
