// PUBLISH from a device: size, access and rate checks, then by topic (ThingsBoard's
// processDevicePublish). Outcomes (PUBACK, reason codes, close) are in publish-outcome.ts.
import type { IPublishPacket } from 'mqtt-packet';
import { attributesMessage, DevicePayloadError, parseJsonPayload, telemetryMessages } from '../../device-messages.js';
import { handleAttributeRequest } from '../attribute-request.js';
import type { MqttClient } from '../client.js';
import { handleClientRpcRequest } from '../client-rpc.js';
import { ack, forward, malformed, refuse } from '../publish-outcome.js';
import { RC } from '../reason-codes.js';
import type { MqttDeviceSession } from '../session.js';
import { parsePublishTopic, parseRequestId } from '../topics.js';

export function handlePublish(client: MqttClient, session: MqttDeviceSession, packet: IPublishPacket): void {
  const { ctx, limiter } = client.server;
  const now = Date.now();
  session.touch(now);
  const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
  if (payload.length > ctx.limits.maxPayloadBytes) {
    // Same outcome as a frame the guard stopped: the limit is the transport's packet limit.
    client.server.metrics.dropped.tooLarge++;
    ctx.logger.warn(`mqtt: ${client.who()}: payload of ${payload.length} bytes is over the limit of ${ctx.limits.maxPayloadBytes} bytes; closing`);
    client.disconnect(RC.packetTooLarge, `payload over ${ctx.limits.maxPayloadBytes} bytes`);
    return;
  }
  const topic = parsePublishTopic(packet.topic);
  if (topic.kind === 'foreign') {
    refuse(client, packet, RC.notAuthorized, 'notAuthorized', 'publish outside its own v1/devices/me and v2 topics is not allowed');
    return;
  }
  const overLimit = limiter.acquire(session.device);
  if (overLimit === 'device') {
    refuse(client, packet, RC.quotaExceeded, 'deviceRateLimit', `over the device limit of ${ctx.limits.deviceMsgsPerSecond} messages/s; message dropped`);
    return;
  }
  if (overLimit === 'tenant') {
    refuse(client, packet, RC.quotaExceeded, 'tenantRateLimit', `over the tenant limit of ${ctx.limits.tenantMsgsPerSecond} messages/s; message dropped`);
    return;
  }
  const device = session.device;
  try {
    switch (topic.kind) {
      case 'telemetry':
        forward(client, session, packet, telemetryMessages(device, parseJsonPayload(payload.toString('utf8')), now));
        return;
      case 'attributes':
        forward(client, session, packet, [attributesMessage(device, parseJsonPayload(payload.toString('utf8')))]);
        return;
      case 'rpcResponse': {
        const id = parseRequestId(topic.id);
        if (id === null) return malformed(client, packet, `RPC response topic needs an integer request id, got "${topic.id}"`);
        // Any bytes: passed on as text, unchecked (ThingsBoard processToDeviceRpcResponseMsg).
        // Acknowledged once it is stored or handed on; refused otherwise, as a publish the queue
        // refused (MQTT 5: PUBACK 0x80; 3.1.1: connection closed), so the device sends it again.
        session.beginInflight();
        ctx.rpc.onRpcResponse(session, id, payload.toString('utf8')).then(
          () => {
            session.endInflight();
            ack(client, packet);
          },
          (e: unknown) => {
            session.endInflight();
            refuse(client, packet, RC.unspecifiedError, 'queueFailed', `the RPC reply could not be handed on: ${(e as Error).message}`);
          },
        );
        return;
      }
      case 'rpcRequest':
        handleClientRpcRequest(client, session, packet, payload, topic.variant, topic.id);
        return;
      case 'attributesRequest':
        handleAttributeRequest(client, session, packet, payload, topic.variant, topic.id);
        return;
      case 'unsupported':
        refuse(client, packet, RC.payloadFormatInvalid, 'unsupported', 'protobuf (/p) topics are not supported; use JSON');
        return;
      case 'unknown':
        // ThingsBoard acknowledges publishes to topics it does not know and drops them.
        ack(client, packet);
        return;
    }
  } catch (e) {
    if (e instanceof DevicePayloadError) return malformed(client, packet, e.message);
    throw e;
  }
}
