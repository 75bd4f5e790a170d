// A shared-attribute update as a device receives it (MQTT, HTTP, CoAP), in ThingsBoard's
// JsonConverter form: changed keys as `{"key": value, ...}`, deletions as `"deleted": ["key", ...]`.
import type { AttributeUpdate } from './transport-api.js';

/** The update's JSON text; null when it carries nothing (no change, no deletion). */
export function attributeUpdateBody(update: AttributeUpdate): string | null {
  const body: Record<string, unknown> = { ...(update.shared ?? {}) };
  if (update.deleted && update.deleted.length > 0) body.deleted = [...update.deleted];
  return Object.keys(body).length === 0 ? null : JSON.stringify(body);
}
