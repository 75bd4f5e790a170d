// Java's Integer.parseInt / Long.parseLong / Boolean.parseBoolean, as the RPC nodes read metadata:
// the same values pass, the same fail, with NumberFormatException's message.

export class NumberFormatError extends Error {
  constructor(text: string) {
    super(`For input string: "${text}"`);
    this.name = 'NumberFormatError';
  }
}

const INTEGER = /^[-+]?\d+$/;

export function parseJavaInt(text: string): number {
  if (!INTEGER.test(text)) throw new NumberFormatError(text);
  const n = Number(text);
  if (n < -2147483648 || n > 2147483647) throw new NumberFormatError(text);
  return n;
}

export function parseJavaLong(text: string): number {
  if (!INTEGER.test(text)) throw new NumberFormatError(text);
  const n = BigInt(text);
  if (n < -(2n ** 63n) || n >= 2n ** 63n) throw new NumberFormatError(text);
  return Number(n);
}

/** "true" in any case; everything else (absent included) is false. */
export function parseJavaBoolean(text: string | undefined): boolean {
  return text !== undefined && text.toLowerCase() === 'true';
}
