// The REST API as a fastify instance, built without listen(): tests and the composition root
// decide where it listens. ThingsBoard's paths and JSON; every error as ThingsBoard's envelope.
import Fastify, { LogController, type FastifyInstance } from 'fastify';
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

export type { ApiDeps, ApiPlugin } from './deps.js';

export function buildApiApp(deps: ApiDeps): FastifyInstance {
  const settings = resolveApiSettings(deps.settings);
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: settings.maxBodyBytes,
    // Errors are logged by the error handler; a line per request is too much at info level.
    logController: new LogController({ disableRequestLogging: true }),
    exposeHeadRoutes: false,
  });
  app.setValidatorCompiler(validatorCompiler);
  // Response schemas document the API (OpenAPI); serializing through them would silently drop
  // any field a schema does not list, so plain JSON.stringify it is.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  installErrorHandling(app);
  installAuth(app, deps.jwt);
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
