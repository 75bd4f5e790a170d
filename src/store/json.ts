// JSON values as stored: documents are JSON strings in Redis.
export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** A stored document back to its type: the store wrote it, so the shape is trusted. */
export function parseDoc<T>(text: string): T {
  return JSON.parse(text) as T;
}

export function parseDocOrNull<T>(text: string | null | undefined): T | null {
  return text === null || text === undefined || text === '' ? null : parseDoc<T>(text);
}
