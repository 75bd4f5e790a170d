// The one registry of API error codes (ThingsBoard's ThingsboardErrorCode) with their HTTP status,
// the JSON envelope every error answers with, and the error class routes throw.

/** errorCode → default HTTP status, as ThingsBoard's ThingsboardErrorResponseHandler answers. */
export const ERROR_CODES = {
  GENERAL: { errorCode: 2, status: 500 },
  AUTHENTICATION: { errorCode: 10, status: 401 },
  JWT_TOKEN_EXPIRED: { errorCode: 11, status: 401 },
  PERMISSION_DENIED: { errorCode: 20, status: 403 },
  INVALID_ARGUMENTS: { errorCode: 30, status: 400 },
  BAD_REQUEST_PARAMS: { errorCode: 31, status: 400 },
  ITEM_NOT_FOUND: { errorCode: 32, status: 404 },
  TOO_MANY_REQUESTS: { errorCode: 33, status: 429 },
  /** ThingsBoard 3.6+: an optimistic write lost to a concurrent one. */
  VERSION_CONFLICT: { errorCode: 40, status: 409 },
} as const;

export type ErrorKind = keyof typeof ERROR_CODES;

/** Messages ThingsBoard clients compare against; written once here. */
export const ErrorMessage = {
  AUTHENTICATION_FAILED: 'Authentication failed',
  TOKEN_EXPIRED: 'Token has expired',
  BAD_CREDENTIALS: 'Invalid username or password',
  PERMISSION_DENIED: "You don't have permission to perform this operation!",
  INVALID_BODY: 'Invalid request body',
} as const;

/** `{"status","message","errorCode","timestamp"}` plus optional details (e.g. import errors by node). */
export interface ErrorEnvelope {
  readonly status: number;
  readonly message: string;
  readonly errorCode: number;
  readonly timestamp: number;
  readonly [extra: string]: unknown;
}

export interface ApiErrorOptions {
  /** Overrides the kind's status (413 for an oversized body is BAD_REQUEST_PARAMS in ThingsBoard). */
  readonly status?: number;
  /** Extra envelope fields. */
  readonly details?: Readonly<Record<string, unknown>>;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Thrown by routes and hooks; the error handler turns it into the envelope. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly errorCode: number;
  readonly details: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    readonly kind: ErrorKind,
    message: string,
    opts: ApiErrorOptions = {},
  ) {
    super(message);
    this.status = opts.status ?? ERROR_CODES[kind].status;
    this.errorCode = ERROR_CODES[kind].errorCode;
    this.details = opts.details ?? {};
    this.headers = opts.headers ?? {};
  }

  toEnvelope(now: number = Date.now()): ErrorEnvelope {
    return { status: this.status, message: this.message, errorCode: this.errorCode, timestamp: now, ...this.details };
  }
}

export function authenticationFailed(message: string = ErrorMessage.AUTHENTICATION_FAILED): ApiError {
  return new ApiError('AUTHENTICATION', message);
}

export function tokenExpired(): ApiError {
  return new ApiError('JWT_TOKEN_EXPIRED', ErrorMessage.TOKEN_EXPIRED);
}

export function permissionDenied(message: string = ErrorMessage.PERMISSION_DENIED): ApiError {
  return new ApiError('PERMISSION_DENIED', message);
}

export function badRequest(message: string, details?: Record<string, unknown>): ApiError {
  return new ApiError('BAD_REQUEST_PARAMS', message, details ? { details } : {});
}

/** ThingsBoard's wording: "Device with id [<uuid>] is not found". */
export function itemNotFound(entity: string, id: string): ApiError {
  return new ApiError('ITEM_NOT_FOUND', `${entity} with id [${id}] is not found`);
}

export function tooManyRequests(message: string, retryAfterMs: number): ApiError {
  return new ApiError('TOO_MANY_REQUESTS', message, { headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) } });
}

/** The JSON Schema of the envelope (OpenAPI and tests). */
export const errorEnvelopeSchema = {
  $id: 'ErrorEnvelope',
  type: 'object',
  required: ['status', 'message', 'errorCode', 'timestamp'],
  properties: {
    status: { type: 'integer', description: 'HTTP status' },
    message: { type: 'string' },
    errorCode: { type: 'integer', description: 'ThingsBoard errorCode: 2 general, 10 authentication, 11 token expired, 20 permission denied, 30 invalid arguments, 31 bad request params, 32 item not found, 33 too many requests, 40 version conflict' },
    timestamp: { type: 'integer' },
  },
  additionalProperties: true,
} as const;
