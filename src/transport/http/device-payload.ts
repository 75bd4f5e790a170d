// Request bodies of the HTTP and CoAP device APIs: bytes → text → JSON, with errors that name
// the problem (the transports answer them with 400 / 4.00).
import { DevicePayloadError, parseJsonPayload } from '../device-messages.js';

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The body as text; an empty or non-UTF-8 body is a DevicePayloadError. */
export function payloadText(bytes: Buffer | undefined): string {
  if (!bytes || bytes.length === 0) throw new DevicePayloadError('payload is empty');
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new DevicePayloadError('payload is not UTF-8 text');
  }
}

export function payloadJson(bytes: Buffer | undefined): unknown {
  return parseJsonPayload(payloadText(bytes));
}

/** Keys of a `clientKeys` / `sharedKeys` query value: comma-separated; empty → none. */
export function queryKeys(value: string | readonly string[] | undefined): string[] {
  const text = typeof value === 'string' ? value : (value ?? []).join(',');
  return text === '' ? [] : text.split(',');
}

/** A device-facing request id (a Java int), or null when the text is not one. */
export function requestIdOf(text: string | undefined): number | null {
  if (text === undefined || !/^-?\d{1,10}$/.test(text)) return null;
  const n = Number(text);
  return n >= -2147483648 && n <= 2147483647 ? n : null;
}

export function isJsonText(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
