// Every failure leaves the API as the ThingsBoard envelope: thrown ApiErrors, store errors,
// fastify's own (validation, body limits, parse errors), unknown routes, and bugs (logged, 500).
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorObject } from 'ajv';
import { ENTITY_TYPES } from '../msg/entity.js';
import { ConcurrentUpdateError, DuplicateError, NotFoundError, StoreValidationError } from '../store/errors.js';
import { ApiError, ErrorMessage, itemNotFound } from './errors.js';

/** Installs the error and not-found handlers on the root instance (plugins inherit them). */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const apiError = toApiError(error);
    if (apiError === undefined) {
      request.log.error({ err: error }, 'unhandled error');
      return send(reply, new ApiError('GENERAL', 'Internal server error'));
    }
    if (apiError.status >= 500) request.log.error({ err: error }, apiError.message);
    return send(reply, apiError);
  });
  app.setNotFoundHandler((request, reply) => {
    send(reply, new ApiError('ITEM_NOT_FOUND', `No route for ${request.method} ${request.url.split('?')[0] ?? ''}`));
  });
}

function send(reply: FastifyReply, error: ApiError): FastifyReply {
  return reply.code(error.status).headers(error.headers).type('application/json; charset=utf-8').send(error.toEnvelope());
}

/** The envelope-ready form of a known error, or undefined for a bug. */
export function toApiError(error: unknown): ApiError | undefined {
  if (error instanceof ApiError) return error;
  if (error instanceof NotFoundError) return itemNotFound(ENTITY_TYPES[error.entityType] ?? error.entityType, error.id);
  if (error instanceof DuplicateError || error instanceof StoreValidationError) return new ApiError('BAD_REQUEST_PARAMS', error.message);
  if (error instanceof ConcurrentUpdateError) return new ApiError('VERSION_CONFLICT', error.message);
  if (!isFastifyError(error)) return undefined;
  if (error.validation) return new ApiError('BAD_REQUEST_PARAMS', describeValidation(error.validation, error.validationContext ?? 'body'));
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('BAD_REQUEST_PARAMS', 'Payload size exceeds the limit', { status: 413 });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('BAD_REQUEST_PARAMS', error.message, { status: 415 });
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('BAD_REQUEST_PARAMS', ErrorMessage.INVALID_BODY);
  }
  const status = error.statusCode ?? 500;
  // fastify's remaining client errors (bad content length, ...) keep their status.
  return status >= 400 && status < 500 ? new ApiError('BAD_REQUEST_PARAMS', error.message, { status }) : undefined;
}

function isFastifyError(error: unknown): error is FastifyError {
  return error instanceof Error && typeof (error as Partial<FastifyError>).code === 'string';
}

/**
 * One sentence naming the field: "body.name is required", "querystring.pageSize must be >= 1",
 * or ThingsBoard's "Invalid UUID string: x" for an id in the path.
 */
export function describeValidation(errors: readonly Partial<ErrorObject>[], context: string): string {
  const e = errors[0];
  if (e === undefined) return `Invalid ${context}`;
  const path = (e.instancePath ?? '').split('/').filter((p) => p !== '').join('.');
  const field = path === '' ? context : `${context}.${path}`;
  const params = (e.params ?? {}) as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return `${field}.${String(params.missingProperty)} is required`;
    case 'format':
      if (params.format === 'uuid') return `Invalid UUID string: ${String(e.data ?? '')}`.trimEnd();
      break;
    case 'enum':
      return `${field} must be one of ${(params.allowedValues as unknown[] | undefined)?.map(String).join(', ') ?? ''}`;
    case 'additionalProperties':
      return `${field}.${String(params.additionalProperty)} is not allowed`;
  }
  return `${field} ${e.message ?? 'is invalid'}`;
}
