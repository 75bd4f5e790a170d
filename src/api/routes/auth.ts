// POST /api/auth/login, POST /api/auth/token (refresh), GET /api/auth/user.
import type { FastifyPluginAsync } from 'fastify';
import { requireAuth, currentUser } from '../auth/require-auth.js';
import type { ApiContext } from '../context.js';
import { authenticationFailed, ErrorMessage, tooManyRequests } from '../errors.js';
import { errorResponses } from '../schemas.js';
import { userSchema } from './users.js';

const tokenPair = {
  type: 'object',
  properties: { token: { type: 'string', description: 'Access token (JWT, HS512)' }, refreshToken: { type: 'string' } },
} as const;

export function authRoutes(ctx: ApiContext): FastifyPluginAsync {
  const { store, jwt } = ctx.deps;
  const { throttle } = ctx;
  return async (app) => {
    app.post<{ Body: { username: string; password: string } }>(
      '/api/auth/login',
      {
        schema: {
          tags: ['auth'],
          summary: 'Log in with e-mail and password; get a JWT pair',
          description: `After ${throttle.maxFailures} wrong passwords within ${throttle.windowMs / 1000} s a user name is locked for ${throttle.lockMs / 1000} s: 429 with Retry-After, even for the right password.`,
          body: {
            type: 'object',
            required: ['username', 'password'],
            properties: { username: { type: 'string', minLength: 1, maxLength: 255 }, password: { type: 'string', maxLength: 1024 } },
          },
          response: { 200: tokenPair, ...errorResponses(400, 401, 429) },
        },
      },
      async (request) => {
        const { username, password } = request.body;
        const locked = await throttle.beginAttempt(username);
        if (locked > 0) throw lockedOut(locked);
        const user = await store.users.authenticate(username, password);
        if (user === null) {
          const lock = await throttle.recordFailure(username);
          if (lock > 0) throw lockedOut(lock);
          throw authenticationFailed(ErrorMessage.BAD_CREDENTIALS);
        }
        await throttle.recordSuccess(username);
        return jwt.issue(user);
      },
    );

    app.post<{ Body: { refreshToken: string } }>(
      '/api/auth/token',
      {
        schema: {
          tags: ['auth'],
          summary: 'Exchange a refresh token for a new JWT pair',
          body: { type: 'object', required: ['refreshToken'], properties: { refreshToken: { type: 'string', minLength: 1 } } },
          response: { 200: tokenPair, ...errorResponses(400, 401) },
        },
      },
      async (request) => {
        const subject = await jwt.verifyRefresh(request.body.refreshToken);
        // The user may have been deleted since: no new tokens for them.
        const user = await store.users.findByEmail(subject.email);
        if (user === null || user.id.id !== subject.userId) throw authenticationFailed();
        return jwt.issue(user);
      },
    );

    app.get(
      '/api/auth/user',
      {
        onRequest: requireAuth(),
        schema: { tags: ['auth'], summary: 'The user the token belongs to', response: { 200: userSchema, ...errorResponses(401) } },
      },
      async (request) => {
        const me = currentUser(request);
        const user = await store.users.get(me.tenantId, me.userId);
        if (user === null) throw authenticationFailed();
        return user;
      },
    );
  };
}

function lockedOut(ms: number) {
  return tooManyRequests(`Too many failed login attempts; try again in ${Math.ceil(ms / 1000)} s`, ms);
}
