import { hostname } from 'node:os';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import {
  defineNode,
  errorText,
  FAILURE,
  type JsonObject,
  NodeConfigError,
  SUCCESS,
  tellFailure,
  tellSuccess,
} from '../../engine/node-api.js';
import { processPattern } from '../../engine/patterns.js';
import { toPlainText } from './TbRestApiCallNode.js';

export type MqttProtocolVersion = 'MQTT_3_1' | 'MQTT_3_1_1' | 'MQTT_5';

/** ThingsBoard's ClientCredentials as the MQTT node uses them ("sas" belongs to the Azure IoT Hub node). */
export type MqttCredentials =
  | { type: 'anonymous' }
  | { type: 'basic'; username?: string; password?: string }
  | { type: 'cert.PEM'; caCert?: string; cert?: string; privateKey?: string; password?: string };

export interface MqttNodeConfig {
  topicPattern: string;
  host?: string;
  port: number;
  connectTimeoutSec: number;
  clientId?: string;
  appendClientIdSuffix: boolean;
  retainedMessage: boolean;
  cleanSession: boolean;
  ssl: boolean;
  parseToPlainText: boolean;
  protocolVersion: MqttProtocolVersion;
  credentials: MqttCredentials;
}

const PROTOCOL_LEVELS: Record<MqttProtocolVersion, 3 | 4 | 5> = { MQTT_3_1: 3, MQTT_3_1_1: 4, MQTT_5: 5 };

/** Netty's names of the MQTT 3 CONNACK refusal codes, as ThingsBoard prints them. */
const CONNACK_CODES: Record<number, string> = {
  1: 'CONNECTION_REFUSED_UNACCEPTABLE_PROTOCOL_VERSION',
  2: 'CONNECTION_REFUSED_IDENTIFIER_REJECTED',
  3: 'CONNECTION_REFUSED_SERVER_UNAVAILABLE',
  4: 'CONNECTION_REFUSED_BAD_USER_NAME_OR_PASSWORD',
  5: 'CONNECTION_REFUSED_NOT_AUTHORIZED',
};

/** ThingsBoard's upgrade: 0→1 adds parseToPlainText false; 1→2 adds protocolVersion MQTT_3_1 (what old nodes spoke). */
export function upgradeMqttConfig(fromVersion: number, config: JsonObject): JsonObject {
  const out: JsonObject = { ...config };
  if (fromVersion === 0 && !('parseToPlainText' in out)) out.parseToPlainText = false;
  if (fromVersion === 1 && !('protocolVersion' in out)) out.protocolVersion = 'MQTT_3_1';
  return out;
}

/**
 * "mqtt": publishes the message data to an external broker on the topic made from
 * topicPattern, with QoS 1 (AT_LEAST_ONCE). Success when the broker acknowledged the
 * publish, Failure with the reason otherwise. One client per node, connected at the first
 * message rather than at creation (so that loading or validating a chain opens no
 * connection) and kept: it reconnects by itself. A connection that is refused or not made
 * within connectTimeoutSec fails the message, and the next message connects afresh.
 * Closed when the node is destroyed.
 */
export const TbMqttNode = defineNode<MqttNodeConfig>({
  type: 'org.thingsboard.rule.engine.mqtt.TbMqttNode',
  category: 'EXTERNAL',
  uiName: 'mqtt',
  version: 2,
  relations: [SUCCESS, FAILURE],
  configSchema: {
    type: 'object',
    properties: {
      topicPattern: { type: 'string', default: 'my-topic' },
      host: { type: 'string' },
      port: { type: 'integer', minimum: 1, maximum: 65535, default: 1883 },
      connectTimeoutSec: { type: 'integer', minimum: 1, maximum: 200, default: 10 },
      clientId: { type: 'string' },
      appendClientIdSuffix: { type: 'boolean', default: false },
      retainedMessage: { type: 'boolean', default: false },
      cleanSession: { type: 'boolean', default: true },
      ssl: { type: 'boolean', default: false },
      parseToPlainText: { type: 'boolean', default: false },
      protocolVersion: { type: 'string', enum: ['MQTT_3_1', 'MQTT_3_1_1', 'MQTT_5'], default: 'MQTT_3_1_1' },
      credentials: {
        type: 'object',
        required: ['type'],
        properties: {
          type: { type: 'string', enum: ['anonymous', 'basic', 'cert.PEM'] },
          username: { type: 'string' },
          password: { type: 'string' },
          caCert: { type: 'string' },
          cert: { type: 'string' },
          privateKey: { type: 'string' },
        },
        default: { type: 'anonymous' },
      },
    },
  },
  defaultConfig: {
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
  },
  upgrade: upgradeMqttConfig,
  create(config, init) {
    const host = config.host?.trim() ?? '';
    if (host === '') throw new NodeConfigError('host of the MQTT broker is required', '/host');
    if (config.credentials.type === 'cert.PEM') {
      throw new NodeConfigError('cert.PEM credentials (client certificates) are not supported yet', '/credentials/type');
    }
    const hostPort = `${host}:${config.port}`;
    const options: IClientOptions = {
      host,
      port: config.port,
      protocol: config.ssl ? 'mqtts' : 'mqtt',
      protocolVersion: PROTOCOL_LEVELS[config.protocolVersion],
      // MQTT 3.1 names its protocol MQIsdp in CONNECT.
      ...(config.protocolVersion === 'MQTT_3_1' ? { protocolId: 'MQIsdp' as const } : {}),
      clean: config.cleanSession,
      connectTimeout: config.connectTimeoutSec * 1000,
      reconnectPeriod: 1000,
    };
    if (config.clientId) options.clientId = clientIdOf(config, init.services.serviceId ?? hostname());
    if (config.credentials.type === 'basic') {
      options.username = config.credentials.username;
      options.password = config.credentials.password;
    }

    let client: MqttClient | null = null;
    let lastLogged = '';

    const clientNow = (): MqttClient => {
      if (client) return client;
      const c = connect(options);
      // Without an 'error' listener an emitter throws; log each new kind of error once.
      c.on('error', (e) => {
        const text = errorText(e);
        if (text !== lastLogged) init.services.logger.warn(`"${init.self.name}": MQTT broker ${hostPort}: ${text}`);
        lastLogged = text;
      });
      c.on('connect', () => {
        lastLogged = '';
      });
      client = c;
      return c;
    };

    const connected = (c: MqttClient): Promise<void> => {
      if (c.connected) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const done = (error: Error | null) => {
          clearTimeout(timer);
          c.off('connect', onConnect);
          c.off('error', onError);
          if (error) reject(error);
          else resolve();
        };
        const onConnect = () => done(null);
        const onError = (e: Error & { code?: unknown }) => {
          const code = typeof e.code === 'number' ? (CONNACK_CODES[e.code] ?? String(e.code)) : null;
          done(new Error(`Failed to connect to MQTT broker at ${hostPort}. ${code === null ? e.message : `Result code is: ${code}`}`));
        };
        const timer = setTimeout(() => done(new Error(`Failed to connect to MQTT broker at ${hostPort}.`)), config.connectTimeoutSec * 1000);
        c.on('connect', onConnect);
        c.on('error', onError);
      });
    };

    return {
      async onMsg(msg) {
        try {
          const topic = processPattern(config.topicPattern, msg);
          const payload = Buffer.from(config.parseToPlainText ? toPlainText(msg.data) : msg.data, 'utf8');
          const c = clientNow();
          try {
            await connected(c);
          } catch (e) {
            // A refused or timed-out connection is dropped; the next message tries afresh.
            if (client === c) {
              client = null;
              c.end(true);
            }
            throw e;
          }
          await c.publishAsync(topic, payload, { qos: 1, retain: config.retainedMessage });
          return tellSuccess(msg);
        } catch (e) {
          return tellFailure(msg, e);
        }
      },
      async destroy() {
        const c = client;
        client = null;
        // Forced: a publish still waiting for its PUBACK fails instead of holding the unload.
        if (c) await c.endAsync(true);
      },
    };
  },
});

/** The client id, with "_<serviceId>" when appendClientIdSuffix; too long for the protocol → NodeConfigError (ThingsBoard's text). */
function clientIdOf(config: MqttNodeConfig, serviceId: string): string {
  const base = config.clientId ?? '';
  const clientId = config.appendClientIdSuffix ? `${base}_${serviceId}` : base;
  const max = config.protocolVersion === 'MQTT_3_1' ? 23 : 256;
  if (clientId.length > max) {
    throw new NodeConfigError(`The length of Client ID cannot be longer than ${max}, but current length is ${clientId.length}.`, '/clientId');
  }
  return clientId;
}
