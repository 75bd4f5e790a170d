// A stored rule chain shown as ThingsBoard shows it: the RuleChain entity, its RuleChainMetaData
// (nodes with ids), and the export document. Node ids are the ones the runtime uses
// (nodeIdOf(chainId, index)), so ids in traces and events match what the API shows.
import { nodeIdOf } from '../engine/importer/import-chain.js';
import { isPlainObject } from '../msg/tb-msg.js';
import type { JsonValue } from '../store/json.js';
import type { RuleChainRecord } from '../store/rule-chains.js';

type Obj = Record<string, unknown>;

/** The parts of the three document forms the importer accepts. */
function partsOf(doc: JsonValue): { ruleChain: Obj; metadata: Obj } {
  if (!isPlainObject(doc)) return { ruleChain: {}, metadata: {} };
  if (isPlainObject(doc.metadata)) return { ruleChain: isPlainObject(doc.ruleChain) ? doc.ruleChain : {}, metadata: doc.metadata };
  if (isPlainObject(doc.metaData) && isPlainObject(doc.entity)) return { ruleChain: doc.entity, metadata: doc.metaData };
  return { ruleChain: {}, metadata: doc };
}

function arrayOf(value: unknown): Obj[] {
  return Array.isArray(value) ? value.filter(isPlainObject) : [];
}

function firstNodeIndexOf(metadata: Obj): number | null {
  return typeof metadata.firstNodeIndex === 'number' ? metadata.firstNodeIndex : null;
}

/** ThingsBoard's RuleChain JSON. */
export function ruleChainJson(record: RuleChainRecord): Obj {
  const { ruleChain, metadata } = partsOf(record.document);
  const first = firstNodeIndexOf(metadata);
  return {
    id: record.id,
    createdTime: record.createdTime,
    additionalInfo: ruleChain.additionalInfo ?? null,
    tenantId: record.tenantId,
    name: record.name,
    type: record.type,
    firstRuleNodeId: first === null ? null : { entityType: 'RULE_NODE', id: nodeIdOf(record.id.id, first) },
    root: record.root,
    debugMode: ruleChain.debugMode === true,
    configuration: ruleChain.configuration ?? null,
    externalId: null,
  };
}

/** ThingsBoard's RuleChainMetaData JSON: nodes carry their ids and the chain id. */
export function ruleChainMetaData(record: RuleChainRecord): Obj {
  const { metadata } = partsOf(record.document);
  const chainId = { entityType: 'RULE_CHAIN', id: record.id.id };
  return {
    ruleChainId: chainId,
    firstNodeIndex: firstNodeIndexOf(metadata),
    nodes: arrayOf(metadata.nodes).map((node, index) => ({
      id: { entityType: 'RULE_NODE', id: nodeIdOf(record.id.id, index) },
      createdTime: record.createdTime,
      ruleChainId: chainId,
      type: node.type,
      name: node.name ?? null,
      debugMode: node.debugMode === true,
      singletonMode: node.singletonMode === true,
      queueName: node.queueName ?? null,
      configurationVersion: node.configurationVersion ?? 0,
      configuration: node.configuration ?? null,
      additionalInfo: node.additionalInfo ?? null,
      externalId: null,
    })),
    connections: arrayOf(metadata.connections),
    ruleChainConnections: Array.isArray(metadata.ruleChainConnections) ? metadata.ruleChainConnections : null,
  };
}

/** The export document (`{"ruleChain", "metadata"}`), importable here and into ThingsBoard. */
export function ruleChainExport(record: RuleChainRecord): Obj {
  const { ruleChain, metadata } = partsOf(record.document);
  return {
    ruleChain: {
      additionalInfo: ruleChain.additionalInfo ?? null,
      name: record.name,
      type: record.type,
      firstRuleNodeId: null,
      root: false,
      debugMode: ruleChain.debugMode === true,
      configuration: ruleChain.configuration ?? null,
    },
    metadata: {
      firstNodeIndex: firstNodeIndexOf(metadata),
      nodes: arrayOf(metadata.nodes).map(({ id: _id, ruleChainId: _chain, createdTime: _created, ...node }) => node),
      connections: arrayOf(metadata.connections),
      ruleChainConnections: Array.isArray(metadata.ruleChainConnections) ? metadata.ruleChainConnections : null,
    },
  };
}
