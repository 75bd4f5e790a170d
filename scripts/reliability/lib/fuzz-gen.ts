// Input generators for the fuzzers: byte mutations, MQTT topics and packets, device payloads,
// CoAP datagrams, JSON values. Everything is drawn from an Rng, so a seed replays a run.
import { generate as coapGenerate, type Packet as CoapPacket } from 'coap-packet';
import { generate as mqttGenerate, type Packet as MqttPacket, type QoS } from 'mqtt-packet';
import type { Rng } from './rng.js';

// ---- bytes ----------------------------------------------------------------------------------

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x10, 0x30, 0x32, 0x82, 0xc0, 0xe0, 0xf0];

/** 1–8 mutations of a buffer: bit flips, interesting bytes, truncation, insertion, duplication, length bombs. */
export function mutateBytes(rng: Rng, input: Buffer): Buffer {
  let b = Buffer.from(input);
  const rounds = rng.int(1, 8);
  for (let r = 0; r < rounds; r++) {
    const len = b.length;
    switch (rng.int(0, 8)) {
      case 0:
        if (len > 0) b[rng.int(0, len - 1)] ^= 1 << rng.int(0, 7);
        break;
      case 1:
        if (len > 0) b[rng.int(0, len - 1)] = rng.pick(INTERESTING_BYTES);
        break;
      case 2:
        if (len > 1) b = b.subarray(0, rng.int(1, len - 1));
        break;
      case 3: {
        const at = rng.int(0, len);
        b = Buffer.concat([b.subarray(0, at), rng.bytes(rng.int(1, 16)), b.subarray(at)]);
        break;
      }
      case 4: {
        if (len < 2) break;
        const from = rng.int(0, len - 2);
        const to = rng.int(from + 1, len);
        const at = rng.int(0, len);
        b = Buffer.concat([b.subarray(0, at), b.subarray(from, to), b.subarray(at)]);
        break;
      }
      case 5:
        // A remaining-length (varint) claiming a huge packet right after a header byte.
        if (len > 1) {
          const at = rng.int(1, Math.min(len - 1, 4));
          b = Buffer.concat([b.subarray(0, at), Buffer.from(rng.pick([[0xff, 0xff, 0xff, 0x7f], [0xff, 0xff, 0xff, 0xff, 0x01], [0x80, 0x80, 0x80, 0x80], [0x00]])), b.subarray(at)]);
        }
        break;
      case 6:
        if (len > 2) {
          const at = rng.int(0, len - 2);
          b.writeUInt16BE(rng.pick([0, 1, 0x7fff, 0xffff, rng.int(0, 0xffff)]), at);
        }
        break;
      case 7:
        if (len > 0) {
          const at = rng.int(0, len - 1);
          b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
        }
        break;
      default:
        b = Buffer.concat([b, rng.bytes(rng.int(1, 64))]);
    }
  }
  return b;
}

// ---- strings and JSON -----------------------------------------------------------------------

const WEIRD_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\uffff',
  '\ud800',
  '💥',
  'ü',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'null',
  'undefined',
  'NaN',
  '-1',
  '1e309',
  '${7*7}',
  '{{7*7}}',
  '<script>',
  "'; DROP TABLE x;--",
  '../../etc/passwd',
  '%s%s%n',
  'a'.repeat(300),
  '\\',
  '"',
  '\n',
  '\r\n',
];

export function randomString(rng: Rng, max = 40): string {
  switch (rng.int(0, 4)) {
    case 0:
      return rng.pick(WEIRD_STRINGS);
    case 1: {
      let s = '';
      const n = rng.int(0, max);
      for (let i = 0; i < n; i++) s += String.fromCharCode(rng.int(0x20, 0x7e));
      return s;
    }
    case 2: {
      let s = '';
      const n = rng.int(0, max);
      for (let i = 0; i < n; i++) s += String.fromCharCode(rng.int(0, 0xffff));
      return s;
    }
    case 3:
      return rng.pick(['temperature', 'humidity', 'value', 'ts', 'values', 'method', 'params', 'id', 'key', 'k']) + (rng.chance(0.5) ? String(rng.int(0, 9)) : '');
    default:
      return 'x'.repeat(rng.int(0, max * 10));
  }
}

const NUMBERS = [0, -0, 1, -1, 0.5, 1e21, 1e308, -1e308, 5e-324, 2 ** 53, 2 ** 53 + 2, -(2 ** 63), 2 ** 31, 2 ** 32, 65535, 65536, 1.7976931348623157e308];

/** A JSON value, depth-bounded. */
export function randomJson(rng: Rng, depth = 0): unknown {
  const leaf = depth > 4 || rng.chance(0.45);
  if (leaf) {
    switch (rng.int(0, 5)) {
      case 0:
        return rng.pick(NUMBERS);
      case 1:
        return rng.int(-1000, 1000);
      case 2:
        return randomString(rng);
      case 3:
        return rng.chance(0.5);
      case 4:
        return null;
      default:
        return rng.next() * 1000;
    }
  }
  if (rng.chance(0.4)) return Array.from({ length: rng.int(0, 6) }, () => randomJson(rng, depth + 1));
  const o: Record<string, unknown> = {};
  const n = rng.int(0, 6);
  for (let i = 0; i < n; i++) o[randomString(rng, 12)] = randomJson(rng, depth + 1);
  return o;
}

/** JSON text: usually valid, sometimes mutated, sometimes not JSON at all. */
export function randomJsonText(rng: Rng): string {
  const base = JSON.stringify(randomJson(rng)) ?? 'null';
  switch (rng.int(0, 9)) {
    case 0:
      return mutateText(rng, base);
    case 1:
      return rng.pick(['[', '{', '{"a":', '[1,2', 'nul', 'tru', '"unterminated', '{"a":1}}', '{"a":1} x', '1 2', '', ' ', '\u0000', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}']);
    case 2: {
      // Deep nesting: parsers and any recursive walk afterwards.
      const depth = rng.pick([100, 1000, 5000, 20_000]);
      return rng.chance(0.5) ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
    }
    case 3:
      // Big integers that lose precision as doubles, numbers JSON allows but JS does not hold.
      return `{"big":${rng.pick(['123456789012345678901234567890', '1e400', '-1e400', '0.0000000000000000000000000001', '9007199254740993'])}}`;
    default:
      return base;
  }
}

export function mutateText(rng: Rng, s: string): string {
  if (s.length === 0) return randomString(rng, 5);
  const chars = [...s];
  const n = rng.int(1, 4);
  for (let i = 0; i < n; i++) {
    const at = rng.int(0, chars.length - 1);
    switch (rng.int(0, 3)) {
      case 0:
        chars.splice(at, 1);
        break;
      case 1:
        chars.splice(at, 0, rng.pick(['"', '{', '}', '[', ']', ',', ':', '\\', '\u0000', 'e', '-', '.']));
        break;
      case 2:
        chars[at] = String.fromCharCode(rng.int(0, 0x7f));
        break;
      default:
        chars.splice(at, 0, ...randomString(rng, 6));
    }
  }
  return chars.join('');
}

// ---- device payloads ------------------------------------------------------------------------

/** A body a device might send to a telemetry, attributes or RPC endpoint, or nonsense. */
export function devicePayload(rng: Rng): Buffer {
  switch (rng.int(0, 9)) {
    case 0:
      return Buffer.from(JSON.stringify({ [randomString(rng, 10)]: randomJson(rng, 3) }));
    case 1:
      return Buffer.from(JSON.stringify({ ts: rng.pick([Date.now(), 0, -1, 2 ** 53, 1e21, 'x', null]), values: randomJson(rng, 2) }));
    case 2:
      return Buffer.from(JSON.stringify(Array.from({ length: rng.int(0, 5) }, () => ({ ts: Date.now() - rng.int(0, 1e6), values: { [randomString(rng, 8)]: randomJson(rng, 3) } }))));
    case 3:
      return Buffer.from(JSON.stringify({ method: rng.chance(0.7) ? randomString(rng, 20) : randomJson(rng, 3), params: randomJson(rng, 2) }));
    case 4:
      return Buffer.from(JSON.stringify({ clientKeys: randomString(rng, 30), sharedKeys: rng.chance(0.5) ? randomString(rng, 30) : randomJson(rng, 2) }));
    case 5:
      return rng.bytes(rng.int(0, 200));
    case 6:
      // Around the payload limit (65 536 bytes by default) and over it.
      return Buffer.from(JSON.stringify({ big: 'x'.repeat(rng.pick([1000, 65_000, 65_536, 70_000, 200_000])) }));
    default:
      return Buffer.from(randomJsonText(rng));
  }
}

// ---- MQTT -----------------------------------------------------------------------------------

const TOPIC_TEMPLATES = [
  'v1/devices/me/telemetry',
  'v1/devices/me/attributes',
  'v1/devices/me/attributes/request/{id}',
  'v1/devices/me/attributes/response/{id}',
  'v1/devices/me/rpc/request/{id}',
  'v1/devices/me/rpc/response/{id}',
  'v1/devices/me/rpc/request/+',
  'v1/devices/me/rpc/response/+',
  'v1/devices/me/attributes/response/+',
  'v2/t',
  'v2/a',
  'v2/a/req/{id}',
  'v2/a/res/{id}',
  'v2/r/req/{id}',
  'v2/r/res/{id}',
  'v2/r/req/+',
  'v2/j/t',
  'v2/p/t',
  'v2/j/r/req/{id}',
  'v2/p/r/res/{id}',
  'v1/gateway/telemetry',
  'v1/gateway/rpc',
  'v1/gateway/connect',
  'v1/devices/me/claim',
  'v1/devices/me/provision',
  'v1/devices/me/#',
  'v1/devices/+/telemetry',
  '$SYS/broker/uptime',
  '/',
  '#',
  '+',
  '',
];

const IDS = ['0', '1', '-1', '2147483647', '2147483648', '9007199254740993', '1e21', 'abc', '', '١٢', '0x10', ' 1', '1.5', '+', '#', '00001', '99999999999999999999999'];

export function randomTopic(rng: Rng): string {
  let t = rng.pick(TOPIC_TEMPLATES).replace('{id}', () => (rng.chance(0.5) ? String(rng.int(0, 1000)) : rng.pick(IDS)));
  switch (rng.int(0, 7)) {
    case 0:
      t = mutateText(rng, t);
      break;
    case 1:
      t += `/${randomString(rng, 10)}`;
      break;
    case 2:
      t = t.replace(/[a-z]+/, () => randomString(rng, 6));
      break;
    case 3:
      if (rng.chance(0.2)) t = 'v1/devices/me/telemetry/' + 'x/'.repeat(rng.int(100, 5000));
      break;
    default:
  }
  return t;
}

function maybe<T>(rng: Rng, p: number, v: () => T): T | undefined {
  return rng.chance(p) ? v() : undefined;
}

/** A valid (generate() accepts it) MQTT packet of any type, with random fields. */
export function randomMqttPacket(rng: Rng, version: 3 | 4 | 5, token: string): MqttPacket {
  const v5 = version === 5;
  const qos = rng.int(0, 2) as QoS;
  const userProperties = maybe(rng, 0.2, () => ({ [randomString(rng, 6) || 'k']: randomString(rng, 10) }));
  switch (rng.int(0, 11)) {
    case 0:
      return {
        cmd: 'connect',
        protocolId: version === 3 ? 'MQIsdp' : 'MQTT',
        protocolVersion: version,
        clientId: rng.chance(0.8) ? `fz${rng.int(0, 1e6)}` : randomString(rng, 30),
        clean: rng.chance(0.8),
        keepalive: rng.pick([0, 1, 60, 65535]),
        username: rng.chance(0.8) ? token : randomString(rng, 20),
        ...(rng.chance(0.2) ? { password: rng.bytes(rng.int(0, 20)) } : {}),
        ...(rng.chance(0.15) ? { will: { topic: randomTopic(rng), payload: devicePayload(rng), qos, retain: rng.chance(0.5) } } : {}),
        ...(v5 && rng.chance(0.4)
          ? {
              properties: {
                sessionExpiryInterval: maybe(rng, 0.3, () => rng.pick([0, 1, 0xffffffff])),
                receiveMaximum: maybe(rng, 0.3, () => rng.pick([1, 10, 65535])),
                maximumPacketSize: maybe(rng, 0.3, () => rng.pick([1, 20, 100, 1000, 0x7fffffff])),
                topicAliasMaximum: maybe(rng, 0.3, () => rng.pick([0, 1, 10, 65535])),
                requestResponseInformation: maybe(rng, 0.2, () => rng.chance(0.5)),
                requestProblemInformation: maybe(rng, 0.2, () => rng.chance(0.5)),
                userProperties,
              },
            }
          : {}),
      };
    case 1:
    case 2:
    case 3:
      return {
        cmd: 'publish',
        topic: randomTopic(rng),
        payload: devicePayload(rng),
        qos,
        retain: rng.chance(0.1),
        dup: rng.chance(0.1),
        ...(qos > 0 ? { messageId: rng.int(1, 65535) } : {}),
        ...(v5 && rng.chance(0.3)
          ? {
              properties: {
                topicAlias: maybe(rng, 0.3, () => rng.int(1, 20)),
                responseTopic: maybe(rng, 0.2, () => randomTopic(rng)),
                correlationData: maybe(rng, 0.2, () => rng.bytes(8)),
                payloadFormatIndicator: maybe(rng, 0.2, () => rng.chance(0.5)),
                messageExpiryInterval: maybe(rng, 0.2, () => rng.int(0, 100)),
                contentType: maybe(rng, 0.2, () => randomString(rng, 10)),
                userProperties,
              },
            }
          : {}),
      };
    case 4:
    case 5:
      return {
        cmd: 'subscribe',
        messageId: rng.int(1, 65535),
        subscriptions: Array.from({ length: rng.int(1, 4) }, () => ({
          topic: randomTopic(rng),
          qos: rng.int(0, 2) as QoS,
          ...(v5 ? { nl: rng.chance(0.3), rap: rng.chance(0.3), rh: rng.int(0, 2) } : {}),
        })),
        ...(v5 && rng.chance(0.2) ? { properties: { subscriptionIdentifier: rng.int(1, 1000), userProperties } } : {}),
      };
    case 6:
      return { cmd: 'unsubscribe', messageId: rng.int(1, 65535), unsubscriptions: Array.from({ length: rng.int(1, 3) }, () => randomTopic(rng)) };
    case 7:
      return { cmd: rng.pick(['puback', 'pubrec', 'pubcomp'] as const), messageId: rng.int(0, 65535), ...(v5 && rng.chance(0.5) ? { reasonCode: rng.pick([0, 0x10, 0x80, 0x87, 0x91, 0x97]) } : {}) };
    case 8:
      return { cmd: 'pubrel', messageId: rng.int(0, 65535) };
    case 9:
      return { cmd: 'pingreq' };
    case 10:
      return v5 ? { cmd: 'auth', reasonCode: rng.pick([0, 0x18, 0x19]), properties: { authenticationMethod: randomString(rng, 8) || 'm' } } : { cmd: 'pingreq' };
    default:
      return { cmd: 'disconnect', ...(v5 ? { reasonCode: rng.pick([0, 4, 0x80, 0x8e]) } : {}) };
  }
}

export function encodeMqtt(packet: MqttPacket, version: 3 | 4 | 5): Buffer | null {
  try {
    return mqttGenerate(packet, { protocolVersion: version });
  } catch {
    return null;
  }
}

// ---- CoAP -----------------------------------------------------------------------------------

const COAP_CODES = ['GET', 'POST', 'PUT', 'DELETE', 'FETCH', 'PATCH', 'iPATCH', '0.00', '0.08', '0.31', '2.05', '4.04', '5.00', '7.31', '1.00', '3.01'];
const COAP_FEATURES = ['telemetry', 'attributes', 'rpc', 'claim', 'provision', 'firmware', 'software', ''];

/** A CoAP datagram: usually a well-formed request to the device API with random parts, sometimes mutated bytes. */
export function randomCoapDatagram(rng: Rng, tokens: readonly string[]): { bytes: Buffer; kind: string } {
  const kind = rng.int(0, 9);
  if (kind === 0) return { bytes: rng.bytes(rng.int(0, 120)), kind: 'random bytes' };
  const path: string[] = [];
  if (rng.chance(0.85)) {
    path.push(rng.chance(0.9) ? 'api' : randomString(rng, 6), rng.chance(0.9) ? 'v1' : randomString(rng, 4));
    path.push(rng.chance(0.7) ? rng.pick(tokens) : randomString(rng, 24));
    path.push(rng.chance(0.8) ? rng.pick(COAP_FEATURES) : randomString(rng, 10));
    if (rng.chance(0.3)) path.push(rng.chance(0.5) ? String(rng.int(-5, 1000)) : rng.pick(IDS));
    if (rng.chance(0.05)) for (let i = 0, n = rng.int(1, 40); i < n; i++) path.push(randomString(rng, 5));
  } else {
    for (let i = 0, n = rng.int(0, 6); i < n; i++) path.push(randomString(rng, 12));
  }
  const options: { name: string; value: Buffer }[] = path.map((p) => ({ name: 'Uri-Path', value: Buffer.from(p) }));
  const u16 = (n: number) => {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(n & 0xffff);
    return b;
  };
  if (rng.chance(0.2)) options.push({ name: 'Observe', value: rng.pick([Buffer.alloc(0), Buffer.from([1]), Buffer.from([0xff, 0xff, 0xff]), rng.bytes(rng.int(0, 4))]) });
  if (rng.chance(0.3)) options.push({ name: 'Content-Format', value: rng.pick([Buffer.from([50]), Buffer.alloc(0), u16(rng.int(0, 65535)), Buffer.from([0x2a])]) });
  if (rng.chance(0.15)) options.push({ name: 'Accept', value: u16(rng.int(0, 65535)) });
  if (rng.chance(0.2)) options.push({ name: 'Uri-Query', value: Buffer.from(rng.pick(['clientKeys=a,b', 'sharedKeys=', 'timeout=1', `clientKeys=${randomString(rng, 20)}`, randomString(rng, 30)])) });
  if (rng.chance(0.1)) options.push({ name: rng.pick(['Block1', 'Block2']), value: rng.bytes(rng.int(0, 4)) });
  if (rng.chance(0.05)) options.push({ name: 'Size1', value: rng.bytes(rng.int(0, 4)) });
  if (rng.chance(0.05)) options.push({ name: 'Uri-Host', value: Buffer.from(randomString(rng, 20)) });
  if (rng.chance(0.05)) options.push({ name: 'Proxy-Uri', value: Buffer.from(`coap://${randomString(rng, 20)}`) });
  const packet: CoapPacket = {
    code: rng.pick(COAP_CODES),
    messageId: rng.int(0, 65535),
    token: rng.bytes(rng.int(0, 8)),
    confirmable: rng.chance(0.6),
    ack: rng.chance(0.05),
    reset: rng.chance(0.03),
    options: options as CoapPacket['options'],
    payload: rng.chance(0.7) ? devicePayload(rng) : Buffer.alloc(0),
  };
  let bytes: Buffer;
  try {
    bytes = coapGenerate(packet);
  } catch {
    return { bytes: rng.bytes(rng.int(4, 60)), kind: 'random bytes' };
  }
  if (bytes.length > 1400) bytes = bytes.subarray(0, 1400);
  if (kind === 1 || kind === 2) return { bytes: mutateBytes(rng, bytes), kind: 'mutated request' };
  return { bytes, kind: 'request' };
}
