/**
 * Password hashing with scrypt, the memory-hard KDF of the runtime's
 * `node:crypto` (computed off the event loop). A hash is stored as
 * `scrypt$N$r$p$salt$key` (salt and key in base64), so the cost can rise
 * later without breaking older hashes.
 *
 * @module
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";

/** scrypt cost: N = 2^14, r = 8, p = 1 (16 MiB), a 64-byte key. */
const N = 16384, R = 8, P = 1, KEYLEN = 64;

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEYLEN, { N: n, r, p, maxmem: 256 * n * r }, (err, key) => {
      if (err) reject(err);
      else resolve(key);
    });
  });
}

/**
 * Hashes `password` with a fresh random salt.
 *
 * @example
 * ```ts
 * import { hashPassword, verifyPassword } from "./password.ts";
 * const stored = await hashPassword("jakejake");
 * if (!(await verifyPassword("jakejake", stored))) throw new Error("must verify");
 * if (await verifyPassword("wrong", stored)) throw new Error("must not verify");
 * ```
 */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, N, R, P);
  return `scrypt$${N}$${R}$${P}$${salt.toString("base64")}$${key.toString("base64")}`;
}

/**
 * True when `password` matches `stored` (a {@linkcode hashPassword}
 * result); compares in constant time.
 *
 * @example
 * ```ts
 * import { verifyPassword } from "./password.ts";
 * if (await verifyPassword("x", "not a hash")) throw new Error("malformed hashes never match");
 * ```
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [n, r, p] = parts.slice(1, 4).map(Number);
  if (![n, r, p].every((x) => Number.isInteger(x) && x > 0)) return false;
  const expected = Buffer.from(parts[5], "base64");
  const key = await derive(password, Buffer.from(parts[4], "base64"), n, r, p);
  return key.length === expected.length && timingSafeEqual(key, expected);
}
