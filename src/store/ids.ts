// Entity ids as ThingsBoard writes them in JSON: {entityType, id}.
import { randomUUID } from 'node:crypto';
import type { EntityId, EntityType } from '../msg/entity.js';

/** ThingsBoard's "no entity" UUID (system tenant, unassigned customer). */
export const NULL_UUID = '13814000-1dd2-11b2-8080-808080808080';

export interface IdOf<T extends EntityType> extends EntityId {
  readonly entityType: T;
}

export function idOf<T extends EntityType>(entityType: T, id: string): IdOf<T> {
  return { entityType, id };
}

export function newId<T extends EntityType>(entityType: T): IdOf<T> {
  return idOf(entityType, randomUUID());
}

export function isNullUuid(id: string | undefined | null): boolean {
  return id === undefined || id === null || id === NULL_UUID;
}

export function sameEntity(a: EntityId, b: EntityId): boolean {
  return a.entityType === b.entityType && a.id === b.id;
}

export function entityKey(e: EntityId): string {
  return `${e.entityType}:${e.id}`;
}
