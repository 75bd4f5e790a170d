// Rule chains of the caller's tenant: POST /api/ruleChain/import, POST /api/ruleChain/{id}/root,
// GET /api/ruleChain/{id}, /metadata, /export, GET /api/ruleChains.
import type { FastifyPluginAsync } from 'fastify';
import { ChainImportError, formatIssue, type ImportIssue } from '../../engine/importer/chain-model.js';
import { pageInMemory } from '../../store/page.js';
import type { RuleChainRecord } from '../../store/rule-chains.js';
import type { Store } from '../../store/store.js';
import { tenantOf } from '../access.js';
import { currentUser, requireAuth } from '../auth/require-auth.js';
import type { ApiContext } from '../context.js';
import { ApiError, errorEnvelopeSchema, itemNotFound } from '../errors.js';
import { ruleChainExport, ruleChainJson, ruleChainMetaData } from '../rule-chain-json.js';
import { entityIdSchema, entityJson, errorResponses, pageDataSchema, pageQuerySchema, uuidParams, type PageQuery } from '../schemas.js';

export const ruleChainSchema = entityJson("ThingsBoard's RuleChain", {
  tenantId: entityIdSchema('TENANT'),
  name: { type: 'string' },
  type: { type: 'string', enum: ['CORE', 'EDGE'] },
  firstRuleNodeId: { anyOf: [entityIdSchema('RULE_NODE'), { type: 'null' }] },
  root: { type: 'boolean' },
  debugMode: { type: 'boolean' },
  configuration: {},
  additionalInfo: {},
});

const importErrorSchema = {
  ...errorEnvelopeSchema,
  description: 'The document does not import: every problem, by node',
  properties: {
    ...errorEnvelopeSchema.properties,
    errors: {
      type: 'array',
      items: {
        type: 'object',
        properties: { pointer: { type: 'string' }, nodeIndex: { type: 'integer' }, nodeName: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
};

export function ruleChainRoutes(ctx: ApiContext): FastifyPluginAsync {
  const { store, chains } = ctx.deps;
  const chainParams = uuidParams('ruleChainId');
  return async (app) => {
    app.post<{ Body: Record<string, unknown>; Querystring: { root?: boolean } }>(
      '/api/ruleChain/import',
      {
        onRequest: requireAuth(['TENANT_ADMIN']),
        schema: {
          tags: ['rule chain'],
          summary: 'Import a rule-chain export document',
          description:
            'Accepts ThingsBoard\'s export ({"ruleChain","metadata"}), the entity export ({"entity","metaData"}) or a bare metadata document. The chain is checked as the runtime would run it (node types, configurations, scripts compile, links); nothing is stored when it fails.',
          querystring: { type: 'object', properties: { root: { type: 'boolean', default: false, description: "Make it the tenant's root chain" } } },
          body: { type: 'object', description: 'A rule-chain export document' },
          response: { 200: ruleChainSchema, 400: importErrorSchema, ...errorResponses(401, 403) },
        },
      },
      async (request) => {
        const tenantId = tenantOf(currentUser(request));
        try {
          const record = await chains.importChain(tenantId, request.body, { source: 'request body', root: request.query.root === true });
          return ruleChainJson(record);
        } catch (e) {
          if (e instanceof ChainImportError) throw importFailed(e.issues);
          throw e;
        }
      },
    );

    app.post<{ Params: { ruleChainId: string } }>(
      '/api/ruleChain/:ruleChainId/root',
      {
        onRequest: requireAuth(['TENANT_ADMIN']),
        schema: { tags: ['rule chain'], summary: "Make a chain the tenant's root chain", params: chainParams, response: { 200: ruleChainSchema, ...errorResponses(400, 401, 403, 404) } },
      },
      async (request) => {
        const tenantId = tenantOf(currentUser(request));
        await loadChain(store, tenantId, request.params.ruleChainId);
        return ruleChainJson(await chains.setRoot(tenantId, request.params.ruleChainId));
      },
    );

    app.get<{ Params: { ruleChainId: string } }>(
      '/api/ruleChain/:ruleChainId',
      {
        onRequest: requireAuth(['TENANT_ADMIN']),
        schema: { tags: ['rule chain'], summary: 'Get a rule chain', params: chainParams, response: { 200: ruleChainSchema, ...errorResponses(400, 401, 403, 404) } },
      },
      async (request) => ruleChainJson(await loadChain(store, tenantOf(currentUser(request)), request.params.ruleChainId)),
    );

    app.get<{ Params: { ruleChainId: string } }>(
      '/api/ruleChain/:ruleChainId/metadata',
      {
        onRequest: requireAuth(['TENANT_ADMIN']),
        schema: {
          tags: ['rule chain'],
          summary: "A chain's nodes (with ids) and connections: ThingsBoard's RuleChainMetaData",
          params: chainParams,
          response: {
            200: {
              type: 'object',
              properties: {
                ruleChainId: entityIdSchema('RULE_CHAIN'),
                firstNodeIndex: { type: ['integer', 'null'] },
                nodes: { type: 'array', items: { type: 'object' } },
                connections: { type: 'array', items: { type: 'object' } },
                ruleChainConnections: { type: ['array', 'null'] },
              },
            },
            ...errorResponses(400, 401, 403, 404),
          },
        },
      },
      async (request) => ruleChainMetaData(await loadChain(store, tenantOf(currentUser(request)), request.params.ruleChainId)),
    );

    app.get<{ Params: { ruleChainId: string } }>(
      '/api/ruleChain/:ruleChainId/export',
      {
        onRequest: requireAuth(['TENANT_ADMIN']),
        schema: {
          tags: ['rule chain'],
          summary: 'The export document of a chain (importable again)',
          params: chainParams,
          response: { 200: { type: 'object', properties: { ruleChain: { type: 'object' }, metadata: { type: 'object' } } }, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => ruleChainExport(await loadChain(store, tenantOf(currentUser(request)), request.params.ruleChainId)),
    );

    app.get<{ Querystring: PageQuery }>(
      '/api/ruleChains',
      {
        onRequest: requireAuth(['TENANT_ADMIN']),
        schema: {
          tags: ['rule chain'],
          summary: "Page of the tenant's rule chains",
          querystring: pageQuerySchema(['createdTime', 'name', 'root']),
          response: { 200: pageDataSchema(ruleChainSchema), ...errorResponses(400, 401, 403) },
        },
      },
      async (request) => {
        const all = await store.ruleChains.list(tenantOf(currentUser(request)));
        const page = pageInMemory(all, request.query, {
          text: (c) => c.name,
          sortKeys: { createdTime: (c) => c.createdTime, name: (c) => c.name.toLowerCase(), root: (c) => (c.root ? 1 : 0) },
          defaultSort: 'createdTime',
        });
        return { ...page, data: page.data.map(ruleChainJson) };
      },
    );
  };
}

async function loadChain(store: Store, tenantId: string, chainId: string): Promise<RuleChainRecord> {
  const record = await store.ruleChains.get(tenantId, chainId);
  if (record === null) throw itemNotFound('Rule chain', chainId);
  return record;
}

function importFailed(issues: readonly ImportIssue[]): ApiError {
  const first = issues[0];
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  // The issue without its source: the caller knows it sent the request body.
  const where = first ? formatIssue({ ...first, source: '' }).replace(/^: /, '') : '';
  return new ApiError('BAD_REQUEST_PARAMS', first ? `Rule chain import failed: ${where}${more}` : 'Rule chain import failed', {
    details: {
      errors: issues.map((i) => ({
        pointer: i.pointer,
        ...(i.nodeIndex !== undefined ? { nodeIndex: i.nodeIndex } : {}),
        ...(i.nodeName !== undefined ? { nodeName: i.nodeName } : {}),
        message: i.message,
      })),
    },
  });
}
