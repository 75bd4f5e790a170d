import { expect } from 'chai';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importChainFiles } from '../../../src/engine/chain-files.js';
import { formatIssue, type ImportIssue } from '../../../src/engine/importer/chain-model.js';
import { importChain, type ImportResult } from '../../../src/engine/importer/import-chain.js';
import { linkChains } from '../../../src/engine/importer/link-chains.js';
import { NodeRegistry } from '../../../src/engine/registry.js';
import type { RuleNodeDefinition } from '../../../src/engine/node-api.js';
import { TbMsgTypeSwitchNode } from '../../../src/nodes/filter/TbMsgTypeSwitchNode.js';
import { TbRuleChainInputNode } from '../../../src/nodes/flow/TbRuleChainInputNode.js';
import { TbRuleChainOutputNode } from '../../../src/nodes/flow/TbRuleChainOutputNode.js';
import { chainDoc } from '../../helpers/chain-builder.js';

const registry = new NodeRegistry([TbMsgTypeSwitchNode, TbRuleChainInputNode, TbRuleChainOutputNode] as RuleNodeDefinition<unknown>[]);
const SWITCH = 'org.thingsboard.rule.engine.filter.TbMsgTypeSwitchNode';
const INPUT = 'org.thingsboard.rule.engine.flow.TbRuleChainInputNode';

function imp(doc: unknown): ImportResult {
  return importChain(doc, { source: 'chain.json', registry });
}

function issuesOf(doc: unknown): string[] {
  const r = imp(doc);
  if (r.ok) throw new Error('expected the import to fail');
  return r.issues.map(formatIssue);
}

function ok(doc: unknown) {
  const r = imp(doc);
  if (!r.ok) throw new Error(r.issues.map(formatIssue).join('\n'));
  return r.chain;
}

describe('importChain', () => {
  describe('document forms', () => {
    it('imports the UI export form {ruleChain, metadata}', () => {
      const chain = ok(chainDoc('Root', [{ type: SWITCH, name: 'switch' }], []));
      expect(chain.name).to.equal('Root');
      expect(chain.type).to.equal('CORE');
      expect(chain.nodes[0].configuration).to.deep.equal({ version: 0 });
    });

    it('imports a bare metadata document, named by the fallback', () => {
      const r = importChain({ firstNodeIndex: 0, nodes: [{ type: SWITCH, name: 's', configuration: { version: 0 } }], connections: [], ruleChainConnections: null }, { source: 'm.json', registry, fallbackName: 'm' });
      expect(r.ok && r.chain.name).to.equal('m');
    });

    it('imports the entity export form {entity, metaData} and remembers the original id', () => {
      const chain = ok({ entityType: 'RULE_CHAIN', entity: { id: { entityType: 'RULE_CHAIN', id: 'orig-1' }, name: 'E' }, metaData: { firstNodeIndex: null, nodes: [] }, relations: [] });
      expect(chain.name).to.equal('E');
      expect(chain.originalId).to.equal('orig-1');
    });

    it('ignores unknown top-level keys (version, externalId) and a missing ruleChain type', () => {
      const doc = chainDoc('X', [], [], null) as Record<string, unknown>;
      const rc = doc.ruleChain as Record<string, unknown>;
      delete rc.type;
      rc.externalId = null;
      const chain = ok({ version: 1, ...doc });
      expect(chain.type).to.equal('CORE');
    });

    it('imports an empty chain with connections null and firstNodeIndex null', () => {
      const chain = ok({ ruleChain: { name: 'Empty' }, metadata: { firstNodeIndex: null, nodes: [], connections: null, ruleChainConnections: null } });
      expect(chain.nodes).to.have.length(0);
      expect(chain.firstNodeIndex).to.equal(null);
    });
  });

  describe('legacy forms', () => {
    it('runs the upgrade steps when configurationVersion is missing (means 0)', () => {
      const doc = chainDoc('c', [{ type: INPUT, name: 'Other', configuration: { ruleChainId: 'abc' } }], []);
      const chain = ok(doc);
      expect(chain.nodes[0].configuration).to.deep.equal({ ruleChainId: 'abc', forwardMsgToDefaultRuleChain: false });
      expect(chain.nodes[0].configurationVersion).to.equal(1);
    });

    it('turns ruleChainConnections into rule chain nodes, linked to the target by the id map and named after it', () => {
      const target = ok(chainDoc('Thermostat Alarms', [{ type: SWITCH, name: 's' }], []));
      const legacy = {
        ruleChain: { name: 'Legacy root', firstRuleNodeId: null, root: false },
        metadata: {
          firstNodeIndex: 0,
          nodes: [{ type: SWITCH, name: 'switch', configuration: { version: 0 } }],
          connections: [],
          ruleChainConnections: [
            { fromIndex: 0, targetRuleChainId: { entityType: 'RULE_CHAIN', id: 'old-uuid' }, additionalInfo: { layoutX: 1, layoutY: 2, ruleChainNodeId: 'rule-chain-node-3' }, type: 'Post telemetry' },
          ],
        },
      };
      const chain = ok(legacy);
      expect(chain.nodes).to.have.length(2);
      expect(chain.nodes[1].type).to.equal(INPUT);
      expect(chain.nodes[1].name).to.equal('Rule Chain Input');
      expect(chain.connections).to.deep.equal([{ fromIndex: 0, toIndex: 1, type: 'Post telemetry' }]);
      const linked = linkChains([chain], { known: [target], idMap: { 'old-uuid': target.id } });
      expect(linked.issues).to.deep.equal([]);
      expect(linked.chains[0].nodes[1].configuration.ruleChainId).to.equal(target.id);
      expect(linked.chains[0].nodes[1].name).to.equal('Thermostat Alarms');
    });

    it('links a rule chain node by its name when the id is from another system', () => {
      const target = ok(chainDoc('Sub', [], [], null));
      const chain = ok(chainDoc('c', [{ type: INPUT, name: 'Sub', configuration: { ruleChainId: 'f00' }, configurationVersion: 1 }], []));
      expect(linkChains([chain, target]).chains[0].nodes[0].configuration.ruleChainId).to.equal(target.id);
    });

    it('reports a link it cannot resolve, naming the node and the id', () => {
      const chain = ok(chainDoc('c', [{ type: INPUT, name: 'Gone', configuration: { ruleChainId: 'f00' }, configurationVersion: 1 }], []));
      const { issues } = linkChains([chain]);
      expect(issues.map(formatIssue)).to.deep.equal([
        'chain.json: /metadata/nodes/0/configuration/ruleChainId (node #0 "Gone"): rule chain f00 is not known here: import it together with this chain, or give an id map',
      ]);
    });

    it('maps debugMode and debugSettings, and treats null config values as missing', () => {
      const chain = ok(
        chainDoc('c', [
          { type: SWITCH, name: 'a', debugMode: true, configuration: { version: null } },
          { type: SWITCH, name: 'b', debugSettings: { failuresEnabled: false, allEnabled: false } },
        ], []),
      );
      expect(chain.nodes.map((n) => n.debugMode)).to.deep.equal([true, false]);
      expect(chain.nodes[0].configuration).to.deep.equal({ version: 0 });
    });

    it('accepts the short class name as node type', () => {
      expect(ok(chainDoc('c', [{ type: 'TbMsgTypeSwitchNode', name: 's' }], [])).nodes[0].type).to.equal(SWITCH);
    });
  });

  describe('errors', () => {
    const cases: [string, unknown, RegExp][] = [
      ['a document that is not an object', [1, 2], /chain\.json: \/: a rule-chain document must be a JSON object/],
      ['a document of another kind', { hello: 'world' }, /not a rule-chain export/],
      ['a ruleChain without a name', { ruleChain: {}, metadata: { nodes: [] } }, /\/ruleChain: missing required key "name"/],
      ['metadata without nodes', { ruleChain: { name: 'x' }, metadata: {} }, /\/metadata: missing required key "nodes"/],
      ['a node without a type', chainDoc('c', [{ name: 'n' } as never], []), /\/metadata\/nodes\/0: missing required key "type"/],
      ['an unknown node type', chainDoc('c', [{ type: 'com.example.MyNode', name: 'mine' }], []), /\/metadata\/nodes\/0\/type \(node #0 "mine"\): unknown node type: com\.example\.MyNode/],
      ['a PE-only node', chainDoc('c', [{ type: 'org.thingsboard.rule.engine.transform.TbDuplicateMsgToGroupNode', name: 'dup' }], []), /ThingsBoard PE only: org\.thingsboard\.rule\.engine\.transform\.TbDuplicateMsgToGroupNode/],
      ['an edge-only node', chainDoc('c', [{ type: 'org.thingsboard.rule.engine.edge.TbMsgPushToCloudNode', name: 'cloud' }], []), /edge only: /],
      ['a node not run yet', chainDoc('c', [{ type: 'org.thingsboard.rule.engine.filter.TbAssetTypeSwitchNode', name: 'state?' }], []), /\(node #0 "state\?"\): not supported yet: org\.thingsboard\.rule\.engine\.filter\.TbAssetTypeSwitchNode/],
      ['a config value of the wrong type', chainDoc('c', [{ type: INPUT, name: 'in', configuration: { ruleChainId: 5 }, configurationVersion: 1 }], []), /\/metadata\/nodes\/0\/configuration\/ruleChainId \(node #0 "in"\): must be string/],
      ['a missing required config key', chainDoc('c', [{ type: INPUT, name: 'in', configuration: {}, configurationVersion: 1 }], []), /\/metadata\/nodes\/0\/configuration \(node #0 "in"\): missing required key "ruleChainId"/],
      ['a configuration that is not an object', chainDoc('c', [{ type: SWITCH, name: 's', configuration: 'x' as never }], []), /\/metadata\/nodes\/0\/configuration: must be object/],
      ['a configurationVersion newer than the node', chainDoc('c', [{ type: SWITCH, name: 's', configurationVersion: 7 }], []), /configurationVersion 7 is newer than this node's version 0/],
      ['a connection to a missing node', chainDoc('c', [{ type: SWITCH, name: 's' }], [[0, 4, 'Other']]), /\/metadata\/connections\/0\/toIndex: no node with index 4 \(the chain has 1\)/],
      ['a connection of a node to itself', chainDoc('c', [{ type: SWITCH, name: 's' }], [[0, 0, 'Other']]), /\/metadata\/connections\/0 \(node #0\): a node cannot be connected to itself/],
      ['a connection without a type', { ruleChain: { name: 'c' }, metadata: { nodes: [], connections: [{ fromIndex: 0, toIndex: 1 }] } }, /\/metadata\/connections\/0: missing required key "type"/],
      ['connections that form a loop', chainDoc('c', [{ type: SWITCH, name: 'a' }, { type: SWITCH, name: 'b' }], [[0, 1, 'Other'], [1, 0, 'Other']]), /connections form a loop \(circling relations\): #0 "a" → #1 "b" → #0 "a"/],
      ['a firstNodeIndex out of range', chainDoc('c', [{ type: SWITCH, name: 's' }], [], 3), /\/metadata\/firstNodeIndex: no node with index 3/],
    ];
    for (const [what, doc, expected] of cases) {
      it(`names the problem for ${what}`, () => {
        expect(issuesOf(doc).join('\n')).to.match(expected);
      });
    }

    it('reports every problem of a document at once', () => {
      const doc = chainDoc('c', [{ type: 'x.A', name: 'a' }, { type: 'x.B', name: 'b' }], [[0, 9, 'S']]);
      expect(issuesOf(doc)).to.have.length(3);
    });

    it('names the file for JSON that does not parse, and for a file that cannot be read', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'rc-import-'));
      const bad = join(dir, 'bad.json');
      await writeFile(bad, '{"ruleChain": ');
      const results = await importChainFiles([bad, join(dir, 'missing.json')], registry);
      const messages = results.flatMap((r) => r.issues.map((i: ImportIssue) => formatIssue(i)));
      expect(messages[0]).to.match(/bad\.json: \/: not valid JSON/);
      expect(messages[1]).to.match(/missing\.json: \/: cannot read: ENOENT/);
    });
  });
});
