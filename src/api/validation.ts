// Request validation with two ajv instances: the query string and path are text, so they are
// coerced ("10" → 10); bodies are JSON and keep their types, so {"name": 5} is refused, not "5".
import { Ajv, type Options } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function newAjv(coerceTypes: Options['coerceTypes']): Ajv {
  // verbose: the failing value travels with the error ("Invalid UUID string: x").
  // strict off: route schemas carry OpenAPI words (example, description) next to JSON Schema.
  const ajv = new Ajv({ coerceTypes, useDefaults: true, removeAdditional: false, allErrors: false, verbose: true, strict: false });
  ajv.addFormat('uuid', UUID);
  ajv.addFormat('email', /^[^\s@]+@[^\s@]+$/);
  return ajv;
}

const textParts = newAjv('array');
const jsonParts = newAjv(false);

export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? jsonParts : textParts).compile(schema);
