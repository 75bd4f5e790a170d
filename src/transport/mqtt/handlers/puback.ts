import type { IPubackPacket } from 'mqtt-packet';
import type { MqttDeviceSession } from '../session.js';

/** PUBACK of a server publish: a QoS 1 command becomes DELIVERED. */
export function handlePuback(session: MqttDeviceSession, packet: IPubackPacket): void {
  if (packet.messageId !== undefined) session.onPuback(packet.messageId);
}
