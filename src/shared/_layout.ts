/**
 * The memory layout of a shared dictionary's table: one
 * `SharedArrayBuffer` holding a header, an open-addressing index and a
 * fixed number of slots (metadata words, expiry, number value, LRU tick,
 * key bytes, value bytes), and the typed views every thread reads it
 * through.
 *
 * @module
 */

/**
 * A stored value: a string, bytes or a number.
 *
 * @example
 * ```ts
 * import type { SharedValue } from "@lunet/lunet/shared";
 * const values: SharedValue[] = ["text", new Uint8Array([1]), 42];
 * ```
 */
export type Value = string | Uint8Array | number;

/** Sizes of a table. */
export interface TableSizes {
  /** Most entries held; past it, the least recently used is evicted. */
  capacity: number;
  /** Longest key, in UTF-8 bytes. */
  maxKeyBytes: number;
  /** Longest string or byte value. */
  maxValueBytes: number;
}

/** A stored entry as read by `Table.entries`. */
export interface Entry {
  /** The key. */
  key: string;
  /** Expiry (epoch ms), or 0 for none. */
  expires: number;
}

const MAGIC = 0x4c4e5344;
/** Header words (Int32). */
export const H_MAGIC = 0, H_CAP = 1, H_KEY = 2, H_VAL = 3, H_INDEX = 4, H_LOCK = 5;
/** Header words (Int32). */
export const H_COUNT = 6, H_FREE = 7, H_TOMBS = 8, H_INDEX_SEQ = 9;
const HEADER_INTS = 16;
/** Header longs (BigInt64): the LRU clock and when the lock was taken. */
export const L_CLOCK = 0, L_SINCE = 1;
/** Slot words (Int32), SLOT_INTS per slot. */
export const S_VER = 0, S_STATE = 1, S_HASH = 2, S_KLEN = 3, S_VLEN = 4, S_TYPE = 5, S_NEXT = 6;
/** Int32 words per slot: version, state, hash, key length, value length, type, next. */
export const SLOT_INTS = 8;
/** Slot states. */
export const FREE = 0, LIVE = 1;
/** Value types. */
export const T_STRING = 0, T_BYTES = 1, T_NUMBER = 2;
/** Index entries (else a slot number + 1). */
export const EMPTY = 0, TOMB = -1;

function pow2(n: number): number {
  let p = 8;
  while (p < n) p *= 2;
  return p;
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/** FNV-1a of the first `n` bytes of `b`. */
export function fnv1a(b: Uint8Array, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < n; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return h | 0;
}

/** Where each part of a table of `sizes` sits in its buffer (byte offsets). */
export function layout(sizes: TableSizes): {
  t: number;
  longs: number;
  index: number;
  meta: number;
  expires: number;
  nums: number;
  used: number;
  keys: number;
  vals: number;
  size: number;
} {
  const { capacity: c, maxKeyBytes: k, maxValueBytes: v } = sizes;
  const t = pow2(c * 2);
  const longs = HEADER_INTS * 4;
  const index = longs + 16;
  const meta = align8(index + t * 4);
  const expires = align8(meta + c * SLOT_INTS * 4);
  const nums = expires + c * 8;
  const used = nums + c * 8;
  const keys = used + c * 8;
  const vals = keys + c * k;
  return { t, longs, index, meta, expires, nums, used, keys, vals, size: align8(vals + c * v) };
}

/** The typed views of one table's buffer. */
export interface Views extends TableSizes {
  h: Int32Array;
  l: BigInt64Array;
  index: Int32Array;
  meta: Int32Array;
  expires: Float64Array;
  nums: Float64Array;
  used: BigInt64Array;
  keys: Uint8Array;
  vals: Uint8Array;
  /** Index size - 1. */
  mask: number;
}

/** A zeroed buffer for a table of `sizes`, its header filled in. */
export function createBuffer(sizes: TableSizes): SharedArrayBuffer {
  for (const [name, n] of Object.entries(sizes)) {
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`shared: ${name} must be a positive integer, got ${n}`);
    }
  }
  const l = layout(sizes);
  const buffer = new SharedArrayBuffer(l.size);
  const h = new Int32Array(buffer, 0, HEADER_INTS);
  h[H_MAGIC] = MAGIC;
  h[H_CAP] = sizes.capacity;
  h[H_KEY] = sizes.maxKeyBytes;
  h[H_VAL] = sizes.maxValueBytes;
  h[H_INDEX] = l.t;
  return buffer;
}

/** The views of a buffer made by {@linkcode createBuffer}. */
export function viewsOf(buffer: SharedArrayBuffer): Views {
  const h = new Int32Array(buffer, 0, HEADER_INTS);
  if (h[H_MAGIC] !== MAGIC) throw new TypeError("shared: not a shared dictionary buffer");
  const sizes = { capacity: h[H_CAP], maxKeyBytes: h[H_KEY], maxValueBytes: h[H_VAL] };
  const l = layout(sizes), c = sizes.capacity;
  return {
    ...sizes,
    h,
    l: new BigInt64Array(buffer, l.longs, 2),
    index: new Int32Array(buffer, l.index, l.t),
    meta: new Int32Array(buffer, l.meta, c * SLOT_INTS),
    expires: new Float64Array(buffer, l.expires, c),
    nums: new Float64Array(buffer, l.nums, c),
    used: new BigInt64Array(buffer, l.used, c),
    keys: new Uint8Array(buffer, l.keys, c * sizes.maxKeyBytes),
    vals: new Uint8Array(buffer, l.vals, c * sizes.maxValueBytes),
    mask: l.t - 1,
  };
}
