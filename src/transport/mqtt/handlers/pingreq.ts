import type { MqttClient } from '../client.js';
import type { MqttDeviceSession } from '../session.js';

/** PINGREQ → PINGRESP; counts as device activity (ThingsBoard reportActivity). */
export function handlePingreq(client: MqttClient, session: MqttDeviceSession): void {
  client.write({ cmd: 'pingresp' });
  session.touch(Date.now());
}
