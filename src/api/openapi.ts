// GET /api/openapi.json, generated from the routes as they are registered (onRoute): each route's
// JSON Schemas become its parameters, request body and responses; requireAuth() roles become its
// security requirement. OpenAPI 3.1 takes JSON Schema as is.
import type { FastifyInstance, RouteOptions } from 'fastify';
import { rolesOf } from './auth/require-auth.js';
import type { JsonSchema } from './schemas.js';

// The OpenAPI words a route schema may carry next to its JSON Schemas (fastify ignores them).
declare module 'fastify' {
  interface FastifySchema {
    /** Leave the route out of the document. */
    hide?: boolean;
    tags?: readonly string[];
    summary?: string;
    description?: string;
    operationId?: string;
  }
}

interface RouteDoc {
  readonly method: string;
  readonly path: string;
  readonly schema: Record<string, unknown>;
  readonly roles: readonly string[] | undefined;
}

export interface OpenApiInfo {
  readonly title: string;
  readonly version: string;
  readonly description?: string;
}

const DOCUMENT_PATH = '/api/openapi.json';

export function installOpenApi(app: FastifyInstance, info: OpenApiInfo): void {
  const routes: RouteDoc[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter((m) => m !== 'HEAD' && m !== 'OPTIONS');
    const schema = (route.schema ?? {}) as Record<string, unknown>;
    if (schema.hide === true || route.url === DOCUMENT_PATH) return;
    for (const method of methods) routes.push({ method: method.toLowerCase(), path: openApiPath(route.url), schema, roles: rolesOf(route.onRequest ?? route.preHandler) });
  });
  let cached: unknown;
  app.get(DOCUMENT_PATH, { schema: { hide: true } }, async () => (cached ??= buildDocument(info, routes)));
}

/** `/api/device/:deviceId` → `/api/device/{deviceId}` */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function buildDocument(info: OpenApiInfo, routes: readonly RouteDoc[]): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of [...routes].sort((a, b) => a.path.localeCompare(b.path))) {
    (paths[r.path] ??= {})[r.method] = operation(r);
  }
  return {
    openapi: '3.1.0',
    info,
    paths,
    components: {
      securitySchemes: {
        // ThingsBoard's own header; the standard one is accepted too.
        'X-Authorization': { type: 'apiKey', in: 'header', name: 'X-Authorization', description: 'Bearer <JWT from POST /api/auth/login>' },
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      },
    },
  };
}

function operation(r: RouteDoc): Record<string, unknown> {
  const s = r.schema;
  const op: Record<string, unknown> = {};
  for (const key of ['summary', 'description', 'tags', 'operationId'] as const) if (s[key] !== undefined) op[key] = s[key];
  const parameters = [...parametersOf(s.params, 'path'), ...parametersOf(s.querystring, 'query')];
  if (parameters.length > 0) op.parameters = parameters;
  if (isSchema(s.body)) op.requestBody = { required: true, content: { ['application/json']: { schema: s.body } } };
  op.responses = responsesOf(s.response);
  if (r.roles !== undefined) {
    op.security = [{ 'X-Authorization': [] }, { bearerAuth: [] }];
    op['x-authorities'] = r.roles;
  }
  return op;
}

function parametersOf(schema: unknown, where: 'path' | 'query'): unknown[] {
  if (!isSchema(schema)) return [];
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required ?? []) as string[]);
  return Object.entries(properties).map(([name, prop]) => {
    const { description, ...rest } = prop as { description?: string };
    return { name, in: where, required: where === 'path' || required.has(name), ...(description ? { description } : {}), schema: rest };
  });
}

function responsesOf(response: unknown): Record<string, unknown> {
  if (!isSchema(response)) return { 200: { description: 'OK' } };
  const out: Record<string, unknown> = {};
  for (const [status, schema] of Object.entries(response as Record<string, JsonSchema>)) {
    const description = typeof schema.description === 'string' ? schema.description : Number(status) < 400 ? 'OK' : 'Error (ThingsBoard error envelope)';
    out[status] = schema.type === 'null' ? { description } : { description, content: { 'application/json': { schema } } };
  }
  return out;
}

function isSchema(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
