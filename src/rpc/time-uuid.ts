// A time-based (version 1) UUID, as ThingsBoard's Uuids.timeBased() gives a rule-made RPC without a
// requestUUID (spec/rpc.md §1). Random node and clock sequence; unique within a process by a counter.
import { randomBytes } from 'node:crypto';

// 100 ns intervals between 1582-10-15 and 1970-01-01.
const GREGORIAN_OFFSET = 122_192_928_000_000_000n;
const node = randomBytes(6);
node[0] |= 0x01; // multicast bit: a random node, not a MAC address
const clockSeq = randomBytes(2).readUInt16BE(0) & 0x3fff;
let lastMs = 0;
let sub = 0;

export function timeBasedUuid(now: number = Date.now()): string {
  if (now === lastMs) sub++;
  else {
    lastMs = now;
    sub = 0;
  }
  const t = BigInt(now) * 10_000n + BigInt(sub % 10_000) + GREGORIAN_OFFSET;
  const timeLow = Number(t & 0xffffffffn);
  const timeMid = Number((t >> 32n) & 0xffffn);
  const timeHi = Number((t >> 48n) & 0x0fffn) | 0x1000;
  const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
  return `${hex(timeLow, 8)}-${hex(timeMid, 4)}-${hex(timeHi, 4)}-${hex(clockSeq | 0x8000, 4)}-${node.toString('hex')}`;
}
