// Password hashes: scrypt with a random salt, stored as `scrypt$N$r$p$salt$hash` (base64 salt/hash),
// compared in constant time.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const N = 16384;
const R = 8;
const P = 1;
const KEY_LENGTH = 64;
const SALT_BYTES = 16;

function derive(password: string, salt: Buffer, opts: ScryptOptions, keyLength: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // maxmem above the 128*N*r the parameters need (the default 32 MiB is too tight for N > 16384).
    scrypt(password.normalize('NFKC'), salt, keyLength, { ...opts, maxmem: 256 * (opts.N ?? N) * (opts.r ?? R) + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, { N, r: R, p: P }, KEY_LENGTH);
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** False for a wrong password and for a stored value that is not a hash we wrote. */
export async function verifyPasswordHash(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [n, r, p] = parts.slice(1, 4).map(Number);
  // Bounds keep a tampered record from making us burn memory/CPU.
  if (!isPow2(n) || n > 1 << 20 || !inRange(r, 1, 32) || !inRange(p, 1, 16)) return false;
  const salt = Buffer.from(parts[4] ?? '', 'base64');
  const expected = Buffer.from(parts[5] ?? '', 'base64');
  if (expected.length === 0) return false;
  const actual = await derive(password, salt, { N: n, r, p }, expected.length);
  return timingSafeEqual(actual, expected);
}

/** Burns the same time as a real check, so "no such user" and "wrong password" look alike. */
export async function dummyPasswordCheck(password: string): Promise<false> {
  await derive(password, Buffer.alloc(SALT_BYTES), { N, r: R, p: P }, KEY_LENGTH);
  return false;
}

function isPow2(n: number | undefined): n is number {
  return n !== undefined && Number.isInteger(n) && n > 1 && (n & (n - 1)) === 0;
}

function inRange(x: number | undefined, lo: number, hi: number): x is number {
  return x !== undefined && Number.isInteger(x) && x >= lo && x <= hi;
}
