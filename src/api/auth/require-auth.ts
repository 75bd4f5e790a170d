// The onRequest hook that guards a route (before body parsing and validation, so a caller without
// a token learns nothing of the route and costs no parsing): a valid access token (X-Authorization or Authorization,
// "Bearer <jwt>") and one of the allowed authorities, as ThingsBoard's @PreAuthorize.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authenticationFailed, permissionDenied } from '../errors.js';
import type { AuthUser, Authority } from './auth-user.js';
import type { JwtService } from './jwt.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Verifies access tokens for requireAuth(); decorated by buildApiApp. */
    readonly apiJwt: JwtService;
    /** Whether the token's user still exists: a deleted user's token stops at once. */
    readonly apiUserExists: (user: AuthUser) => Promise<boolean>;
  }
}

export const ALL_AUTHORITIES: readonly Authority[] = ['SYS_ADMIN', 'TENANT_ADMIN', 'CUSTOMER_USER'];

export interface AuthPreHandler {
  (request: FastifyRequest): Promise<void>;
  /** The authorities let in (the OpenAPI document lists them). */
  readonly roles: readonly Authority[];
}

const guards = new WeakSet<object>();

/** `onRequest: requireAuth(['TENANT_ADMIN', 'CUSTOMER_USER'])`; then `currentUser(request)`. */
export function requireAuth(roles: readonly Authority[] = ALL_AUTHORITIES): AuthPreHandler {
  const allowed = [...roles];
  const guard = async function requireAuthGuard(request: FastifyRequest): Promise<void> {
    const token = bearerToken(request);
    if (token === undefined) throw authenticationFailed();
    const user = await request.server.apiJwt.verifyAccess(token);
    if (!(await request.server.apiUserExists(user))) throw authenticationFailed();
    if (!allowed.includes(user.authority)) throw permissionDenied();
    request.user = user;
  };
  const handler = Object.assign(guard, { roles: allowed });
  guards.add(handler);
  return handler;
}

/** The authorities of a route's requireAuth() preHandler(s), if it has one. */
export function rolesOf(preHandler: unknown): readonly Authority[] | undefined {
  const list: unknown[] = Array.isArray(preHandler) ? preHandler : [preHandler];
  const guard = list.find((h): h is AuthPreHandler => typeof h === 'function' && guards.has(h));
  return guard?.roles;
}

/** The caller of a route guarded by requireAuth(). */
export function currentUser(request: FastifyRequest): AuthUser {
  if (request.user === null) throw authenticationFailed();
  return request.user;
}

/** Decorates the instance so requireAuth() guards can find the verifier, and `request.user`. */
export function installAuth(app: FastifyInstance, jwt: JwtService, userExists: (user: AuthUser) => Promise<boolean>): void {
  app.decorate('apiJwt', jwt);
  app.decorate('apiUserExists', userExists);
  app.decorateRequest('user', null);
}

function bearerToken(request: FastifyRequest): string | undefined {
  for (const header of [request.headers['x-authorization'], request.headers.authorization]) {
    const value = Array.isArray(header) ? header[0] : header;
    if (value === undefined) continue;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
    // A header present but blank or malformed is a failed authentication, not "try the next one".
    return match?.[1];
  }
  return undefined;
}
