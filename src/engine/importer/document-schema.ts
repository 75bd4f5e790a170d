import type { SchemaObject } from 'ajv';

// The shape of ThingsBoard's rule-chain export (spec/rule-chains.md §1). Unknown keys are
// allowed everywhere, as ThingsBoard's own RuleNode class ignores them.

const nullable = (type: string) => ({ type: [type, 'null'] });

export const nodeSchema: SchemaObject = {
  type: 'object',
  required: ['type'],
  properties: {
    type: { type: 'string', minLength: 1 },
    name: nullable('string'),
    debugMode: nullable('boolean'),
    debugSettings: nullable('object'),
    singletonMode: nullable('boolean'),
    queueName: nullable('string'),
    configurationVersion: { type: ['integer', 'null'], minimum: 0 },
    configuration: nullable('object'),
    additionalInfo: nullable('object'),
  },
};

export const connectionSchema: SchemaObject = {
  type: 'object',
  required: ['fromIndex', 'toIndex', 'type'],
  properties: {
    fromIndex: { type: 'integer', minimum: 0 },
    toIndex: { type: 'integer', minimum: 0 },
    type: { type: 'string', minLength: 1 },
  },
};

/** The legacy (<= 3.0) link to another chain, turned into a TbRuleChainInputNode on import. */
export const ruleChainConnectionSchema: SchemaObject = {
  type: 'object',
  required: ['fromIndex', 'targetRuleChainId', 'type'],
  properties: {
    fromIndex: { type: 'integer', minimum: 0 },
    targetRuleChainId: {
      type: 'object',
      required: ['id'],
      properties: { id: { type: 'string', minLength: 1 }, entityType: { const: 'RULE_CHAIN' } },
    },
    type: { type: 'string', minLength: 1 },
    additionalInfo: nullable('object'),
  },
};

export const metadataSchema: SchemaObject = {
  type: 'object',
  required: ['nodes'],
  properties: {
    firstNodeIndex: { type: ['integer', 'null'], minimum: 0 },
    nodes: { type: 'array', items: nodeSchema },
    connections: { type: ['array', 'null'], items: connectionSchema },
    ruleChainConnections: { type: ['array', 'null'], items: ruleChainConnectionSchema },
  },
};

export const ruleChainSchema: SchemaObject = {
  type: 'object',
  required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1 },
    type: { enum: ['CORE', 'EDGE', null] },
    root: nullable('boolean'),
    debugMode: nullable('boolean'),
    additionalInfo: nullable('object'),
  },
};
