import type { MqttClient } from '../client.js';

/** DISCONNECT from the device: close our side (no will messages: ThingsBoard has none). */
export function handleDisconnect(client: MqttClient): void {
  client.end();
}
