// Typed store errors: the API maps them to HTTP statuses, callers can tell a conflict from a bug.
import type { EntityType } from '../msg/entity.js';

export class StoreError extends Error {
  override name = 'StoreError';
}

/** A uniqueness rule refused the write; `field` names the conflicting property. */
export class DuplicateError extends StoreError {
  override name = 'DuplicateError';
  constructor(
    readonly entityType: EntityType,
    readonly field: string,
    readonly value: string,
    message: string,
  ) {
    super(message);
  }
}

export class NotFoundError extends StoreError {
  override name = 'NotFoundError';
  constructor(
    readonly entityType: EntityType,
    readonly id: string,
  ) {
    super(`${entityType} ${id} not found`);
  }
}

/** Input the store refuses (bad value, forbidden operation such as deleting the root chain). */
export class StoreValidationError extends StoreError {
  override name = 'StoreValidationError';
}

/** An optimistic write lost to concurrent writers too many times in a row. */
export class ConcurrentUpdateError extends StoreError {
  override name = 'ConcurrentUpdateError';
}
