// CONNECT: the access token is the user name (ThingsBoard). Order as ThingsBoard's
// onValidateDeviceResponse: authenticate → record CONNECT_EVENT → register the session → CONNACK.
// Packets that arrive meanwhile wait (the connection is paused), as ThingsBoard queues them.
import type { IConnackPacket, IConnectPacket } from 'mqtt-packet';
import type { MqttClient } from '../client.js';
import { CONNACK_V3, RC } from '../reason-codes.js';
import { deviceEventMessage } from '../../device-messages.js';
import { MqttDeviceSession } from '../session.js';

export function handleConnect(client: MqttClient, packet: IConnectPacket): void {
  if (client.connectSeen) {
    client.destroy(); // a second CONNECT is a protocol error (MQTT-3.1.0-2)
    return;
  }
  client.connectSeen = true;
  client.setConnect(packet);
  const keepalive = packet.keepalive ?? 0;
  // MQTT-3.1.2-24: one and a half keep-alive periods without a packet → close.
  client.socket.setTimeout(keepalive > 0 ? keepalive * 1500 : 0);
  client.pause();
  connect(client, packet).catch((e: unknown) => {
    client.server.ctx.logger.warn(`mqtt: ${client.who()}: connect failed: ${(e as Error).message}`);
    refuse(client, 'serverUnavailable');
  });
}

async function connect(client: MqttClient, packet: IConnectPacket): Promise<void> {
  const { ctx, auth, sessions, exclusiveSessions, metrics } = client.server;
  const token = packet.username ?? '';
  const device = token === '' ? null : await auth.authenticate(token);
  if (client.closed) return;
  if (!device) {
    metrics.authFailures++;
    ctx.logger.warn(`mqtt: ${client.who()}: ${token === '' ? 'no access token (user name)' : 'unknown access token'}; connection refused`);
    refuse(client, token === '' ? 'badUserNameOrPassword' : 'notAuthorized');
    return;
  }
  const session = new MqttDeviceSession(client, device);
  // A queue that cannot take CONNECT_EVENT refuses the device (ThingsBoard: SERVER_UNAVAILABLE).
  await ctx.toRuleEngine(deviceEventMessage(device, 'CONNECT_EVENT'));
  try {
    await sessions.register(session, { exclusive: exclusiveSessions });
  } catch (e) {
    void session.event('DISCONNECT_EVENT');
    throw e;
  }
  session.open = true;
  if (client.closed) {
    // The device went away while we registered it.
    session.onConnectionClosed();
    return;
  }
  client.session = session;
  const connack: IConnackPacket = { cmd: 'connack', sessionPresent: false };
  if (client.v5) {
    connack.reasonCode = RC.success;
    connack.properties = {
      maximumQoS: 1,
      retainAvailable: false,
      sharedSubscriptionAvailable: false,
      subscriptionIdentifiersAvailable: false,
      topicAliasMaximum: 0,
      maximumPacketSize: ctx.limits.maxPayloadBytes + 8 * 1024,
    };
  } else {
    connack.returnCode = CONNACK_V3.accepted;
  }
  client.write(connack);
  ctx.logger.debug(`mqtt: ${client.who()}: connected (MQTT ${client.v5 ? '5' : client.version === 3 ? '3.1' : '3.1.1'}, session ${session.sessionId})`);
  client.resume();
}

type Refusal = 'badUserNameOrPassword' | 'notAuthorized' | 'serverUnavailable';

/** CONNACK with the refusal in the protocol's own code, then close (ThingsBoard: writeAndFlush + close). */
function refuse(client: MqttClient, why: Refusal): void {
  if (client.closed) return;
  const connack: IConnackPacket = { cmd: 'connack', sessionPresent: false };
  if (client.v5) connack.reasonCode = RC[why];
  else connack.returnCode = CONNACK_V3[why];
  client.write(connack);
  client.end();
}
