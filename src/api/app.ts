// The REST API as a fastify instance, built without listen(): tests and the composition root
// decide where it listens. ThingsBoard's paths and JSON; every error as ThingsBoard's envelope.
import Fastify, { type FastifyReply, LogController, type FastifyInstance } from 'fastify';
import { resolveApiSettings } from './api-settings.js';
import { installAuth } from './auth/require-auth.js';
import { LoginThrottle } from './auth/login-throttle.js';
import type { ApiContext } from './context.js';
import type { ApiDeps } from './deps.js';
import { EntityEvents } from './entity-events.js';
import { installErrorHandling } from './error-handler.js';
import { installOpenApi } from './openapi.js';
import { alarmRoutes } from './routes/alarms.js';
import { authRoutes } from './routes/auth.js';
import { customerRoutes } from './routes/customers.js';
import { deviceProfileRoutes } from './routes/device-profiles.js';
import { deviceRoutes } from './routes/devices.js';
import { relationRoutes } from './routes/relations.js';
import { ruleChainRoutes } from './routes/rule-chains.js';
import { telemetryRoutes } from './routes/telemetry.js';
import { tenantRoutes } from './routes/tenants.js';
import { userRoutes } from './routes/users.js';
import { validatorCompiler } from './validation.js';
import { createServer } from 'node:http';
import { ApiError, badRequest } from './errors.js';
import { jsonTooDeep, MAX_JSON_DEPTH } from '../msg/json-depth.js';

export type { ApiDeps, ApiPlugin } from './deps.js';

/** How long a client may take to send a whole request (Tomcat's connectionTimeout plays this part under ThingsBoard). */
const REQUEST_TIMEOUT_MS = 20_000;

export function buildApiApp(deps: ApiDeps): FastifyInstance {
  const settings = resolveApiSettings(deps.settings);
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: settings.maxBodyBytes,
    // A client that trickles its request (slowloris) is dropped: the whole request must arrive
    // within REQUEST_TIMEOUT_MS (waiting for the answer, e.g. an RPC, is not counted).
    requestTimeout: REQUEST_TIMEOUT_MS,
    serverFactory: (handler) => createServer({ requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 1000 }, handler),
    // Errors the router raises before any route runs answer the envelope too.
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      const status = typeof error.statusCode === 'number' && error.statusCode >= 400 ? error.statusCode : 400;
      void reply.code(status).send(new ApiError('BAD_REQUEST_PARAMS', error.message, { status }).toEnvelope());
    },
    // Errors are logged by the error handler; a line per request is too much at info level.
    logController: new LogController({ disableRequestLogging: true }),
    exposeHeadRoutes: false,
  });
  app.setValidatorCompiler(validatorCompiler);
  // JSON bodies: parsed as fastify does, and refused past ThingsBoard's nesting limit.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(badRequest('Request body is empty'));
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(text) as unknown;
    } catch {
      // ThingsBoard's words, whatever the parser's complaint.
      done(badRequest('Invalid request body'));
      return;
    }
    if (jsonTooDeep(value)) done(badRequest(`Invalid request body: nested deeper than ${MAX_JSON_DEPTH} levels`));
    else done(null, value);
  });
  // Response schemas document the API (OpenAPI); serializing through them would silently drop
  // any field a schema does not list, so plain JSON.stringify it is.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  installErrorHandling(app);
  // One Redis read per request: a deleted user's token must stop working at once.
  installAuth(app, deps.jwt, async (user) => (await deps.store.users.get(user.tenantId, user.userId)) !== null);
  // Before any route: the onRoute hook must see them all, the extra plugins' too.
  installOpenApi(app, {
    title: 'rpc-chains REST API',
    version: '1',
    description: "ThingsBoard's REST paths and JSON. Errors: {status, message, errorCode, timestamp}.",
  });

  const ctx: ApiContext = {
    deps,
    settings,
    events: new EntityEvents(deps.toRuleEngine, deps.logger),
    throttle: new LoginThrottle(deps.store.redis, deps.store.keys, {
      maxFailures: settings.loginMaxFailures,
      windowMs: settings.loginFailureWindowMs,
      lockMs: settings.loginLockMs,
    }),
  };
  for (const routes of [authRoutes, tenantRoutes, customerRoutes, userRoutes, deviceRoutes, deviceProfileRoutes, relationRoutes, ruleChainRoutes, telemetryRoutes, alarmRoutes]) {
    app.register(routes(ctx));
  }
  for (const extra of deps.plugins ?? []) app.register(extra.plugin);
  return app;
}
