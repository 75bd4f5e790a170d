// What other components use of the REST API: the app builder, the guard for their own routes,
// the caller's identity, the error registry and the device access check.
export { buildApiApp } from './app.js';
export type { ApiDeps, ApiPlugin } from './deps.js';
export { DEFAULT_API_SETTINGS, resolveApiSettings, type ApiSettings } from './api-settings.js';
export type { AuthUser, Authority } from './auth/auth-user.js';
export { ALL_AUTHORITIES, currentUser, requireAuth, type AuthPreHandler } from './auth/require-auth.js';
export { JwtService, type JwtOptions, type TokenPair } from './auth/jwt.js';
export { createJwtService } from './auth/create-jwt-service.js';
export {
  ApiError,
  ERROR_CODES,
  ErrorMessage,
  authenticationFailed,
  badRequest,
  errorEnvelopeSchema,
  itemNotFound,
  permissionDenied,
  tokenExpired,
  tooManyRequests,
  type ErrorEnvelope,
  type ErrorKind,
} from './errors.js';
export { toApiError } from './error-handler.js';
export { deviceAccessForRpc, loadDevice, tenantOf, type DeviceAccess } from './access.js';
export { errorResponses, uuidParams, type JsonSchema } from './schemas.js';
