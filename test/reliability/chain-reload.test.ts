// With the roles in separate processes (beyond-thingsboard #5), a rule chain imported through the
// REST API of the api process must be what the rule-engine processes run from then on, without a
// restart (the api process tells them over the service bus).
import { expect } from 'chai';
import { RawMqttDevice } from '../../scripts/reliability/lib/mqtt-device.js';
import { startNode, type NodeHandle } from '../../scripts/reliability/lib/node.js';
import { startFaultRedis, type FaultRedis } from '../../scripts/reliability/lib/redis.js';
import { RestClient } from '../../scripts/reliability/lib/rest.js';
import { eventually } from '../../scripts/reliability/lib/util.js';
import { seedWorld, shippedRootChain } from '../../scripts/reliability/lib/world.js';
import { Store } from '../../src/store/store.js';

describe('reliability: a chain imported through the API reaches the rule-engine processes', function () {
  this.timeout(60_000);
  let redis: FaultRedis | undefined;
  const nodes: NodeHandle[] = [];
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await redis?.stop();
  });

  it('POST /api/ruleChain/import?root=true on the api process changes what the rule-engine process runs', async () => {
    redis = await startFaultRedis();
    const world = await seedWorld(redis.url, { devices: 1, prefix: 'cr' });
    nodes.push(
      ...(await Promise.all([
        startNode({ redisUrl: redis.url, serviceId: 'cr-api', roles: ['api'] }),
        startNode({ redisUrl: redis.url, serviceId: 'cr-transport', roles: ['transport'] }),
        startNode({ redisUrl: redis.url, serviceId: 'cr-engine', roles: ['rule-engine'] }),
      ])),
    );
    const [api, transport] = nodes as [NodeHandle, NodeHandle, NodeHandle];
    const rest = new RestClient(`http://127.0.0.1:${api.httpPort}`);
    await rest.login(world.adminEmail);
    // The new root chain marks every telemetry message before saving it.
    const chain = (await shippedRootChain()) as { ruleChain: { name: string }; metadata: { nodes: unknown[]; connections: { fromIndex: number; toIndex: number; type: string }[] } };
    chain.ruleChain.name = 'Marking root chain';
    const mark = chain.metadata.nodes.length;
    chain.metadata.nodes.push({
      type: 'org.thingsboard.rule.engine.transform.TbTransformMsgNode',
      name: 'mark',
      configuration: { scriptLang: 'JS', jsScript: 'msg.marked = 1; return {msg: msg, metadata: metadata, msgType: msgType};', tbelScript: 'return {msg: msg, metadata: metadata, msgType: msgType};' },
    });
    const post = chain.metadata.connections.find((c) => c.type === 'Post telemetry') as { fromIndex: number; toIndex: number; type: string };
    const save = post.toIndex;
    post.toIndex = mark;
    chain.metadata.connections.push({ fromIndex: mark, toIndex: save, type: 'Success' });
    const imported = await rest.call('POST', '/api/ruleChain/import?root=true', chain);
    expect(imported.status, imported.text).to.equal(200);

    const device = world.devices[0] as (typeof world.devices)[number];
    const dev = await RawMqttDevice.connect({ port: transport.mqttPort as number, token: device.token });
    try {
      expect(await dev.publish('v1/devices/me/telemetry', JSON.stringify({ t: 1 }), 1)).to.equal(0);
    } finally {
      await dev.end();
    }
    const store = new Store(redis.client);
    const entity = { entityType: 'DEVICE' as const, id: device.id };
    expect(await eventually(async () => Object.keys(await store.timeseries.getLatest(entity)).includes('t'), 10_000), 'telemetry stored').to.equal(true);
    const latest = Object.keys(await store.timeseries.getLatest(entity));
    expect(latest, 'the rule engine ran the chain it loaded at start, not the one imported through the API').to.include('marked');
  });
});
