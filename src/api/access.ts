// Who may touch what, as ThingsBoard's AccessValidator and permission checkers decide: entities
// of another tenant do not exist for the caller (404); a customer user reaches only their
// customer's devices and their customer (403 otherwise); tenant data is not the system
// administrator's (403).
import type { EntityId } from '../msg/entity.js';
import type { Alarm } from '../store/alarms.js';
import type { Customer } from '../store/customers.js';
import type { Device } from '../store/devices.js';
import { NULL_UUID } from '../store/ids.js';
import type { Store } from '../store/store.js';
import type { AuthUser } from './auth/auth-user.js';
import { itemNotFound, permissionDenied } from './errors.js';

/** The caller's tenant; a system administrator has none and is refused tenant data. */
export function tenantOf(user: AuthUser): string {
  if (user.authority === 'SYS_ADMIN' || user.tenantId === NULL_UUID) throw permissionDenied();
  return user.tenantId;
}

export function isCustomerUser(user: AuthUser): boolean {
  return user.authority === 'CUSTOMER_USER';
}

/** A device the caller may use, or the envelope error (404 unknown/other tenant, 403 not their customer's). */
export async function loadDevice(store: Store, user: AuthUser, deviceId: string): Promise<Device> {
  const device = await store.devices.findById(tenantOf(user), deviceId);
  if (device === null) throw itemNotFound('Device', deviceId);
  if (isCustomerUser(user) && device.customerId.id !== user.customerId) throw permissionDenied();
  return device;
}

export async function loadCustomer(store: Store, user: AuthUser, customerId: string): Promise<Customer> {
  const customer = await store.customers.get(tenantOf(user), customerId);
  if (customer === null) throw itemNotFound('Customer', customerId);
  if (isCustomerUser(user) && customer.id.id !== user.customerId) throw permissionDenied();
  return customer;
}

export async function loadAlarm(store: Store, user: AuthUser, alarmId: string): Promise<Alarm> {
  const alarm = await store.alarms.get(tenantOf(user), alarmId);
  if (alarm === null) throw itemNotFound('Alarm', alarmId);
  if (isCustomerUser(user)) await checkEntity(store, user, alarm.originator);
  return alarm;
}

/**
 * Any entity named in a path or a relation (telemetry, attributes, relations, alarms).
 * Types the store does not keep (assets, dashboards, ...) cannot be checked for existence:
 * a tenant administrator may use their ids, a customer user may not.
 */
export async function checkEntity(store: Store, user: AuthUser, entity: EntityId): Promise<void> {
  const tenantId = tenantOf(user);
  const customer = isCustomerUser(user);
  switch (entity.entityType) {
    case 'DEVICE':
      await loadDevice(store, user, entity.id);
      return;
    case 'CUSTOMER':
      await loadCustomer(store, user, entity.id);
      return;
    case 'TENANT':
      if (entity.id !== tenantId) throw itemNotFound('Tenant', entity.id);
      if (customer) throw permissionDenied();
      return;
    case 'USER': {
      const found = await store.users.get(tenantId, entity.id);
      if (found === null) throw itemNotFound('User', entity.id);
      if (customer && found.id.id !== user.userId) throw permissionDenied();
      return;
    }
    case 'DEVICE_PROFILE':
      if ((await store.deviceProfiles.get(tenantId, entity.id)) === null) throw itemNotFound('Device profile', entity.id);
      if (customer) throw permissionDenied();
      return;
    case 'RULE_CHAIN':
      if ((await store.ruleChains.get(tenantId, entity.id)) === null) throw itemNotFound('Rule chain', entity.id);
      if (customer) throw permissionDenied();
      return;
    case 'ALARM':
      await loadAlarm(store, user, entity.id);
      return;
    default:
      if (customer) throw permissionDenied();
  }
}

/** ThingsBoard's plain-text answers of the RPC access check (spec/rpc.md §2.2). */
export type DeviceAccess =
  | { readonly ok: true; readonly device: Device }
  | { readonly ok: false; readonly status: 403 | 404; readonly message: string };

/**
 * The RPC endpoints' device check: no throw, so the caller can answer with ThingsBoard's bare
 * status and plain-text body instead of the JSON envelope.
 */
export async function deviceAccessForRpc(store: Store, user: AuthUser, deviceId: string): Promise<DeviceAccess> {
  if (user.authority === 'SYS_ADMIN') return { ok: false, status: 403, message: 'System administrator is not allowed to perform this operation!' };
  const device = await store.devices.findById(user.tenantId, deviceId);
  if (device === null) return { ok: false, status: 404, message: "Device with requested id wasn't found!" };
  if (isCustomerUser(user) && device.customerId.id !== user.customerId) {
    return { ok: false, status: 403, message: "You don't have permission to perform this operation!" };
  }
  return { ok: true, device };
}
