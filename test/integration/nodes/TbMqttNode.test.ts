// TbMqttNode against a real broker: Debian's mosquitto, started on free ports for this suite.
// Without /usr/sbin/mosquitto (apt-get install mosquitto) the broker tests are skipped.
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectAsync, type MqttClient } from 'mqtt';
import { FAILURE, NodeConfigError, SUCCESS, type NodeOutput, type RuleNode } from '../../../src/engine/node-api.js';
import { prepareNodeConfig } from '../../../src/engine/importer/node-config.js';
import { TbMqttNode } from '../../../src/nodes/external/TbMqttNode.js';
import { freePort } from '../../../src/redis/free-port.js';
import { createNode, relationsOf, runNode, testMsg, testServices } from '../../helpers/node-harness.js';

const MOSQUITTO = '/usr/sbin/mosquitto';

interface Broker {
  /** Anonymous clients allowed. */
  readonly port: number;
  /** Only alice / s3cret. */
  readonly authPort: number;
  stop(): Promise<void>;
}

function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = tcpConnect({ port, host: '127.0.0.1' });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > until) reject(new Error(`mosquitto did not listen on ${port}`));
        else setTimeout(attempt, 20);
      });
    };
    attempt();
  });
}

async function startMosquitto(): Promise<Broker> {
  const dir = await mkdtemp(join(tmpdir(), 'rpc-chains-mosquitto-'));
  const [port, authPort] = [await freePort(), await freePort()];
  const passwords = join(dir, 'passwords');
  const made = spawnSync('mosquitto_passwd', ['-b', '-c', passwords, 'alice', 's3cret']);
  if (made.status !== 0) throw new Error(`mosquitto_passwd failed: ${made.stderr.toString()}`);
  const conf = join(dir, 'mosquitto.conf');
  // "user root": run as root, mosquitto would switch to its own user, which cannot read our temp dir.
  await writeFile(
    conf,
    [
      'user root',
      'persistence false',
      'per_listener_settings true',
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      `listener ${authPort} 127.0.0.1`,
      'allow_anonymous false',
      `password_file ${passwords}`,
      '',
    ].join('\n'),
  );
  const proc: ChildProcess = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
  try {
    await Promise.all([waitForPort(port, 5000), waitForPort(authPort, 5000)]);
  } catch (e) {
    proc.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    port,
    authPort,
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((resolve) => proc.once('exit', resolve));
        proc.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const errorOf = (outputs: NodeOutput[]) => (outputs[0]?.kind === 'tell' ? outputs[0].error : undefined);

describe('TbMqttNode', () => {
  const nodes: RuleNode[] = [];
  const mqttNode = (config: Record<string, unknown>, configurationVersion?: number) => {
    const { node } = createNode(TbMqttNode, { ...config }, { configurationVersion, services: testServices({ serviceId: 'svc-1' }) });
    nodes.push(node);
    return node;
  };
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.destroy?.();
  });

  it('has the identity of ThingsBoard and its default configuration', () => {
    expect(TbMqttNode.type).to.equal('org.thingsboard.rule.engine.mqtt.TbMqttNode');
    expect(TbMqttNode.category).to.equal('EXTERNAL');
    expect(TbMqttNode.uiName).to.equal('mqtt');
    expect(TbMqttNode.version).to.equal(2);
    expect(TbMqttNode.relations).to.deep.equal([SUCCESS, FAILURE]);
    expect(TbMqttNode.defaultConfig).to.deep.equal({
      topicPattern: 'my-topic',
      port: 1883,
      connectTimeoutSec: 10,
      appendClientIdSuffix: false,
      retainedMessage: false,
      cleanSession: true,
      ssl: false,
      parseToPlainText: false,
      protocolVersion: 'MQTT_3_1_1',
      credentials: { type: 'anonymous' },
    });
  });

  it('upgrades a version 0 configuration: parseToPlainText false, MQTT 3.1 (what old nodes spoke)', () => {
    // The node of ThingsBoard's msa test MqttRuleNodeTestMetadata.json.
    const v0 = { topicPattern: 'tb/mqtt/device', host: 'broker', port: 1883, connectTimeoutSec: 10, clientId: null, cleanSession: true, retainedMessage: false, ssl: false, credentials: { type: 'anonymous' } };
    const prepared = prepareNodeConfig(TbMqttNode, v0, 0);
    expect(prepared).to.deep.equal({
      ok: true,
      config: {
        topicPattern: 'tb/mqtt/device',
        host: 'broker',
        port: 1883,
        connectTimeoutSec: 10,
        cleanSession: true,
        retainedMessage: false,
        ssl: false,
        credentials: { type: 'anonymous' },
        parseToPlainText: false,
        protocolVersion: 'MQTT_3_1',
        appendClientIdSuffix: false,
      },
    });
  });

  it('refuses a configuration that cannot work', () => {
    expect(() => mqttNode({ ...TbMqttNode.defaultConfig })).to.throw(NodeConfigError).with.property('pointer', '/host');
    const longId = { ...TbMqttNode.defaultConfig, host: 'localhost', clientId: 'a-client-id-of-24-chars!', protocolVersion: 'MQTT_3_1' };
    expect(() => mqttNode(longId)).to.throw(NodeConfigError, 'The length of Client ID cannot be longer than 23, but current length is 24.');
    expect(() => mqttNode({ ...longId, protocolVersion: 'MQTT_3_1_1' })).to.not.throw();
    expect(() => mqttNode({ ...TbMqttNode.defaultConfig, host: 'localhost', credentials: { type: 'cert.PEM' } })).to.throw(NodeConfigError, /cert\.PEM/);
  });

  it('fails the message when the broker cannot be reached', async () => {
    const port = await freePort();
    const node = mqttNode({ ...TbMqttNode.defaultConfig, host: '127.0.0.1', port, connectTimeoutSec: 2 });
    const result = await runNode(node, testMsg());
    expect(relationsOf(result)).to.deep.equal([FAILURE]);
    expect(errorOf(result.outputs)).to.match(new RegExp(`^Failed to connect to MQTT broker at 127\\.0\\.0\\.1:${port}\\.`));
  });

  const withBroker = existsSync(MOSQUITTO) ? describe : describe.skip;
  withBroker(`with mosquitto (skipped without ${MOSQUITTO}; Debian: apt-get install mosquitto)`, () => {
    let broker: Broker | undefined;
    let subscriber: MqttClient | undefined;
    const received: { topic: string; payload: string; retain: boolean }[] = [];

    before(async () => {
      broker = await startMosquitto();
      subscriber = await connectAsync({ host: '127.0.0.1', port: broker.port, reconnectPeriod: 0 });
      subscriber.on('message', (topic, payload, packet) => received.push({ topic, payload: payload.toString('utf8'), retain: packet.retain }));
      await subscriber.subscribeAsync('tb/#', { qos: 1 });
    });
    after(async () => {
      await subscriber?.endAsync(true);
      await broker?.stop();
    });
    beforeEach(() => {
      received.length = 0;
    });

    const waitReceived = async (n: number) => {
      const until = Date.now() + 3000;
      while (received.length < n && Date.now() < until) await sleep(10);
      expect(received).to.have.length(n);
    };
    const config = (extra: Record<string, unknown> = {}) => ({ ...TbMqttNode.defaultConfig, host: '127.0.0.1', port: broker?.port ?? 0, ...extra });

    it('publishes the data on the topic made from the pattern, Success once the broker acknowledged it', async () => {
      const node = mqttNode(config({ topicPattern: 'tb/${deviceName}/$[kind]' }));
      const msg = testMsg({ data: { kind: 'telemetry', temperature: 25 } });
      const result = await runNode(node, msg);
      expect(relationsOf(result)).to.deep.equal([SUCCESS]);
      expect(result.outputs[0]?.msg).to.equal(msg);
      await waitReceived(1);
      expect(received[0]).to.deep.equal({ topic: 'tb/Thermostat/telemetry', payload: '{"kind":"telemetry","temperature":25}', retain: false });
      // The client is kept: a second message goes through the same connection.
      expect(relationsOf(await runNode(node, testMsg()))).to.deep.equal([SUCCESS]);
      await waitReceived(2);
    });

    it('speaks MQTT 3.1 and 5, sends plain text and retained messages', async () => {
      const v31 = mqttNode(config({ topicPattern: 'tb/v31', protocolVersion: 'MQTT_3_1', clientId: 'rpc-chains', appendClientIdSuffix: true }));
      const v5 = mqttNode(config({ topicPattern: 'tb/v5', protocolVersion: 'MQTT_5', parseToPlainText: true }));
      expect(relationsOf(await runNode(v31, testMsg()))).to.deep.equal([SUCCESS]);
      expect(relationsOf(await runNode(v5, testMsg({ data: '"hello"' })))).to.deep.equal([SUCCESS]);
      await waitReceived(2);
      expect(received.find((r) => r.topic === 'tb/v5')?.payload).to.equal('hello');

      const retained = mqttNode(config({ topicPattern: 'tb/retained', retainedMessage: true }));
      expect(relationsOf(await runNode(retained, testMsg({ data: { on: true } })))).to.deep.equal([SUCCESS]);
      const late = await connectAsync({ host: '127.0.0.1', port: broker?.port ?? 0, reconnectPeriod: 0 });
      try {
        const got = new Promise<string>((resolve) => late.on('message', (_t, payload) => resolve(payload.toString('utf8'))));
        await late.subscribeAsync('tb/retained', { qos: 1 });
        expect(await got).to.equal('{"on":true}');
      } finally {
        await late.endAsync(true);
      }
    });

    it('logs in with basic credentials; wrong ones fail with the refusal code', async () => {
      const port = broker?.authPort ?? 0;
      const good = mqttNode(config({ port, topicPattern: 'tb/auth', credentials: { type: 'basic', username: 'alice', password: 's3cret' } }));
      expect(relationsOf(await runNode(good, testMsg()))).to.deep.equal([SUCCESS]);

      const bad = mqttNode(config({ port, topicPattern: 'tb/auth', credentials: { type: 'basic', username: 'alice', password: 'wrong' } }));
      const result = await runNode(bad, testMsg());
      expect(relationsOf(result)).to.deep.equal([FAILURE]);
      expect(errorOf(result.outputs)).to.equal(`Failed to connect to MQTT broker at 127.0.0.1:${port}. Result code is: CONNECTION_REFUSED_NOT_AUTHORIZED`);
    });
  });
});
