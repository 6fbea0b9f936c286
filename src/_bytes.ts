/**
 * Joins byte chunks into one array (the chunk itself when there is only
 * one).
 *
 * @param parts The chunks, in order.
 * @returns One array holding them all.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { concat } from "./_bytes.ts";
 * deepStrictEqual(concat([new Uint8Array([1]), new Uint8Array([2, 3])]), new Uint8Array([1, 2, 3]));
 * const one = new Uint8Array([4]);
 * if (concat([one]) !== one) throw new Error("a single chunk is returned as is");
 * ```
 */
export function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
