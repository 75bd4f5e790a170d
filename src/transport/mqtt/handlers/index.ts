// One handler per packet type (aedes' lib/handlers shape); this is the whole dispatch.
import type { Packet } from 'mqtt-packet';
import type { MqttClient } from '../client.js';
import { handleConnect } from './connect.js';
import { handleDisconnect } from './disconnect.js';
import { handlePingreq } from './pingreq.js';
import { handlePuback } from './puback.js';
import { handlePublish } from './publish.js';
import { handlePubrel } from './pubrel.js';
import { handleSubscribe } from './subscribe.js';
import { handleUnsubscribe } from './unsubscribe.js';

export function dispatch(client: MqttClient, packet: Packet): void {
  if (client.closed) return;
  if (packet.cmd === 'connect') {
    handleConnect(client, packet);
    return;
  }
  const session = client.session;
  if (!session) {
    // Anything before a successful CONNECT is a protocol error (MQTT-3.1.0-1).
    client.destroy();
    return;
  }
  switch (packet.cmd) {
    case 'publish':
      return handlePublish(client, session, packet);
    case 'puback':
      return handlePuback(session, packet);
    case 'pubrel':
      return handlePubrel(client, packet);
    case 'subscribe':
      return handleSubscribe(client, session, packet);
    case 'unsubscribe':
      return handleUnsubscribe(client, session, packet);
    case 'pingreq':
      return handlePingreq(client, session);
    case 'disconnect':
      return handleDisconnect(client);
    default:
      // pubrec/pubcomp: the server never publishes QoS 2; auth: enhanced authentication is not offered.
      return;
  }
}
