import { expect } from 'chai';
import { Redis } from 'ioredis';
import { NodeConfigError, type NodeOutput } from '../../../src/engine/node-api.js';
import type { EntityId } from '../../../src/msg/entity.js';
import type { TbMsg } from '../../../src/msg/tb-msg.js';
import { NEW_ORIGINATOR_NOT_FOUND, TbChangeOriginatorNode } from '../../../src/nodes/transform/TbChangeOriginatorNode.js';
import { Store } from '../../../src/store/store.js';
import { createNode, runNode, testServices } from '../../helpers/node-harness.js';
import { startStoreFixture, type StoreFixture } from '../../helpers/store-harness.js';

type Tell = Extract<NodeOutput, { kind: 'tell' }>;

function only(outputs: NodeOutput[]): Tell {
  expect(outputs).to.have.length(1);
  const out = outputs[0] as NodeOutput;
  if (out.kind !== 'tell') throw new Error(`expected a tell, got ${out.kind}`);
  return out;
}

describe('TbChangeOriginatorNode (store)', () => {
  let fx: StoreFixture;
  let n = 0;

  before(async () => {
    fx = await startStoreFixture();
  });
  after(() => fx.close());

  const newDevice = async (name = `dev-${++n}`) => (await fx.store.devices.create(fx.tenant.id.id, { name })).id;
  const relate = (from: EntityId, to: EntityId, type = 'Contains') => fx.store.relations.save(fx.tenant.id.id, { from, to, type });

  async function run(config: Record<string, unknown>, msg: TbMsg = fx.msg()) {
    const { node } = createNode(TbChangeOriginatorNode, config, { services: fx.services });
    return { msg, out: only((await runNode(node, msg)).outputs) };
  }

  /** Success with only the originator changed (same id, data, metadata). */
  function expectMovedTo(result: { msg: TbMsg; out: Tell }, originator: EntityId): void {
    expect(result.out.relations).to.deep.equal(['Success']);
    expect(result.out.msg).to.deep.equal({ ...result.msg, originator });
  }

  function expectFailure(result: { msg: TbMsg; out: Tell }, error: string | RegExp): void {
    expect(result.out.relations).to.deep.equal(['Failure']);
    expect(result.out.msg).to.equal(result.msg);
    if (typeof error === 'string') expect(result.out.error).to.equal(error);
    else expect(result.out.error).to.match(error);
  }

  it('has the catalogue definition and defaults (v0)', () => {
    const defaults = {
      originatorSource: 'CUSTOMER',
      relationsQuery: { direction: 'FROM', maxLevel: 1, filters: [{ relationType: 'Contains', entityTypes: [] }], fetchLastLevelOnly: false },
    };
    expect(TbChangeOriginatorNode.type).to.equal('org.thingsboard.rule.engine.transform.TbChangeOriginatorNode');
    expect(TbChangeOriginatorNode.category).to.equal('TRANSFORMATION');
    expect(TbChangeOriginatorNode.uiName).to.equal('change originator');
    expect(TbChangeOriginatorNode.version).to.equal(0);
    expect(TbChangeOriginatorNode.relations).to.deep.equal(['Success', 'Failure']);
    expect(TbChangeOriginatorNode.defaultConfig).to.deep.equal(defaults);
    expect(createNode(TbChangeOriginatorNode, {}, { services: fx.services }).config).to.deep.equal(defaults);
  });

  describe('CUSTOMER', () => {
    it('a device or user → its customer; a customer stays itself', async () => {
      expectMovedTo(await run({}), fx.customer.id);
      expectMovedTo(await run({}, fx.msg({ originator: fx.customer.id })), fx.customer.id);
      const user = await fx.store.users.create({ email: 'u1@example.com', authority: 'CUSTOMER_USER', tenantId: fx.tenant.id.id, customerId: fx.customer.id.id });
      expectMovedTo(await run({ originatorSource: 'CUSTOMER' }, fx.msg({ originator: user.id })), fx.customer.id);
    });

    it('unassigned, unknown or customer-less originators → Failure "Failed to find new originator!"', async () => {
      const unassigned = await newDevice();
      expectFailure(await run({}, fx.msg({ originator: unassigned })), NEW_ORIGINATOR_NOT_FOUND);
      expectFailure(await run({}, fx.msg({ originator: { entityType: 'DEVICE', id: '00000000-0000-4000-8000-00000000dead' } })), NEW_ORIGINATOR_NOT_FOUND);
      expectFailure(await run({}, fx.msg({ originator: fx.tenant.id })), NEW_ORIGINATOR_NOT_FOUND);
      expectFailure(await run({}, fx.msg({ originator: { entityType: 'ASSET', id: '00000000-0000-4000-8000-00000000beef' } })), /ASSET entities are not kept/);
    });
  });

  it('TENANT → the message\'s tenant', async () => {
    expectMovedTo(await run({ originatorSource: 'TENANT' }), fx.tenant.id);
  });

  describe('RELATED', () => {
    const related = (q: Record<string, unknown> = {}) => ({
      originatorSource: 'RELATED',
      relationsQuery: { direction: 'FROM', maxLevel: 1, filters: [{ relationType: 'Contains', entityTypes: [] }], fetchLastLevelOnly: false, ...q },
    });

    it('several matches: the entity of the oldest relation, every time (deterministic)', async () => {
      const origin = await newDevice();
      const asset: EntityId = { entityType: 'ASSET', id: '0a0a0a0a-0000-4000-8000-00000000000a' };
      const second = await newDevice();
      const third = await newDevice();
      await relate(origin, asset);
      await relate(origin, second);
      await relate(origin, third);
      for (let i = 0; i < 3; i++) expectMovedTo(await run(related(), fx.msg({ originator: origin })), asset);
      expectMovedTo(await run(related({ filters: [{ relationType: 'Contains', entityTypes: ['DEVICE'] }] }), fx.msg({ originator: origin })), second);
      await fx.store.relations.delete(fx.tenant.id.id, origin, asset, 'Contains');
      expectMovedTo(await run(related(), fx.msg({ originator: origin })), second);
    });

    it('TO takes the relation\'s from; deeper levels with maxLevel', async () => {
      const top = await newDevice();
      const middle = await newDevice();
      const origin = await newDevice();
      await relate(top, middle);
      await relate(middle, origin);
      expectMovedTo(await run(related({ direction: 'TO' }), fx.msg({ originator: origin })), middle);
      expectMovedTo(await run(related({ direction: 'TO', maxLevel: 2, fetchLastLevelOnly: true }), fx.msg({ originator: origin })), top);
    });

    it('no match → Failure "Failed to find new originator!"', async () => {
      const origin = await newDevice();
      await relate(origin, await newDevice(), 'Manages');
      expectFailure(await run(related(), fx.msg({ originator: origin })), NEW_ORIGINATOR_NOT_FOUND);
    });
  });

  describe('ALARM_ORIGINATOR', () => {
    it('an alarm of the store → its originator', async () => {
      const { alarm } = await fx.store.alarms.createOrUpdateActive(fx.tenant.id.id, { type: 'Leak', originator: fx.device.id, severity: 'MAJOR' });
      const msg = fx.msg({ originator: alarm.id, type: 'ALARM', data: alarm });
      expectMovedTo(await run({ originatorSource: 'ALARM_ORIGINATOR' }, msg), fx.device.id);
    });

    it('an alarm the store does not have → the originator in the alarm JSON of the data', async () => {
      const alarmId: EntityId = { entityType: 'ALARM', id: '0c0c0c0c-0000-4000-8000-00000000000c' };
      const msg = fx.msg({ originator: alarmId, data: { id: alarmId, type: 'X', originator: fx.customer.id } });
      expectMovedTo(await run({ originatorSource: 'ALARM_ORIGINATOR' }, msg), fx.customer.id);
      expectFailure(await run({ originatorSource: 'ALARM_ORIGINATOR' }, fx.msg({ originator: alarmId, data: { type: 'X' } })), NEW_ORIGINATOR_NOT_FOUND);
    });

    it('an originator that is not an alarm → Failure', async () => {
      expectFailure(await run({ originatorSource: 'ALARM_ORIGINATOR' }), 'Unexpected originator EntityType DEVICE');
    });
  });

  describe('ENTITY', () => {
    it('DEVICE by name (patterns from metadata and data), CUSTOMER by title, USER by e-mail', async () => {
      const target = await newDevice('Valve 7');
      const msg = fx.msg({ data: { valve: 7 }, metaData: { kind: 'Valve' } });
      expectMovedTo(await run({ originatorSource: 'ENTITY', entityType: 'DEVICE', entityNamePattern: '${kind} $[valve]' }, msg), target);
      expectMovedTo(await run({ originatorSource: 'ENTITY', entityType: 'CUSTOMER', entityNamePattern: 'Test customer' }), fx.customer.id);
      const user = await fx.store.users.create({ email: 'admin@example.com', authority: 'TENANT_ADMIN', tenantId: fx.tenant.id.id });
      expectMovedTo(await run({ originatorSource: 'ENTITY', entityType: 'USER', entityNamePattern: 'admin@example.com' }), user.id);
    });

    it('looks only in the message\'s tenant', async () => {
      const other = await fx.store.tenants.create({ title: 'Other tenant' });
      await fx.store.devices.create(other.id.id, { name: 'Foreign' });
      await fx.store.users.create({ email: 'foreign@example.com', authority: 'TENANT_ADMIN', tenantId: other.id.id });
      expectFailure(await run({ originatorSource: 'ENTITY', entityType: 'DEVICE', entityNamePattern: 'Foreign' }), "Failed to find device with name 'Foreign'!");
      expectFailure(await run({ originatorSource: 'ENTITY', entityType: 'USER', entityNamePattern: 'foreign@example.com' }), "Failed to find user with name 'foreign@example.com'!");
    });

    it('not found → Failure with ThingsBoard\'s text; ASSET/ENTITY_VIEW/EDGE → Failure "not supported"', async () => {
      expectFailure(await run({ originatorSource: 'ENTITY', entityType: 'CUSTOMER', entityNamePattern: 'Nobody' }), "Failed to find customer with name 'Nobody'!");
      expectFailure(await run({ originatorSource: 'ENTITY', entityType: 'ASSET', entityNamePattern: 'A1' }), /Entity type ASSET is not supported/);
    });

    it('refuses a missing entity type, an empty name pattern and other entity types', () => {
      const make = (cfg: Record<string, unknown>) => () => createNode(TbChangeOriginatorNode, { originatorSource: 'ENTITY', ...cfg }, { services: fx.services });
      expect(make({ entityNamePattern: 'x' })).to.throw(NodeConfigError, "Entity type should be specified if 'Entity by name pattern' source is selected.");
      expect(make({ entityType: 'DEVICE', entityNamePattern: '' })).to.throw(NodeConfigError, "Name pattern should be specified if 'Entity by name pattern' source is selected.");
      expect(make({ entityType: 'TENANT', entityNamePattern: 'x' })).to.throw(NodeConfigError, 'Unexpected entity type TENANT');
      expect(make({ entityType: 'THING', entityNamePattern: 'x' })).to.throw(NodeConfigError, 'Unexpected entity type THING');
      // Other sources ignore these keys.
      expect(() => createNode(TbChangeOriginatorNode, { originatorSource: 'TENANT', entityType: 'THING' }, { services: fx.services })).not.to.throw();
    });
  });

  it('refuses an unknown originatorSource', () => {
    expect(() => createNode(TbChangeOriginatorNode, { originatorSource: 'PARENT' }, { services: fx.services })).to.throw(/originatorSource.*must be one of/);
  });

  it('a message without tenantId → Failure', async () => {
    expectFailure(await run({ originatorSource: 'TENANT' }, fx.msg({ tenantId: null })), /no tenantId/);
  });

  it('a store error → Failure with its text', async () => {
    const closed = new Redis({ lazyConnect: true });
    closed.disconnect();
    const { node } = createNode(TbChangeOriginatorNode, {}, { services: testServices({ store: new Store(closed) }) });
    const out = only((await runNode(node, fx.msg())).outputs);
    expect(out.relations).to.deep.equal(['Failure']);
    expect(out.error).to.equal('Connection is closed.');
  });
});
