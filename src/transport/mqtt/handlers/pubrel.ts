import type { IPubrelPacket } from 'mqtt-packet';
import type { MqttClient } from '../client.js';

/**
 * PUBREL ends a QoS 2 publish the device sent: the message was handed on when it arrived (QoS 2
 * is served as 1, as ThingsBoard does), so only the handshake is completed.
 */
export function handlePubrel(client: MqttClient, packet: IPubrelPacket): void {
  if (packet.messageId !== undefined) client.writeAck(0x70, packet.messageId);
}
