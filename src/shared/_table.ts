/**
 * The shared dictionary's table: a fixed-capacity hash table in one
 * `SharedArrayBuffer`, readable and writable from every thread that holds
 * the buffer.
 *
 * Reads take no lock: each slot carries a version (a seqlock), odd while a
 * writer fills it, and a read copies the slot and checks that the version
 * did not move; the index has a version of its own, bumped around a
 * rebuild. Writes take one lock word holding the writer's token; a write
 * is synchronous (never held across a yield), so a live writer holds it
 * for microseconds. Everything but the slots (the index, the free list,
 * the count) can be derived from the slots, so a lock left by a thread
 * that died mid-write is recovered by {@linkcode Table.recover}: slots
 * left odd are dropped and the rest is rebuilt.
 *
 * @module
 */

import {
  createBuffer,
  EMPTY,
  type Entry,
  fnv1a,
  FREE,
  H_COUNT,
  H_FREE,
  H_INDEX_SEQ,
  H_LOCK,
  H_TOMBS,
  L_CLOCK,
  L_SINCE,
  LIVE,
  S_HASH,
  S_KLEN,
  S_NEXT,
  S_STATE,
  S_TYPE,
  S_VER,
  S_VLEN,
  SLOT_INTS,
  T_BYTES,
  T_NUMBER,
  T_STRING,
  type TableSizes,
  TOMB,
  type Value,
  type Views,
  viewsOf,
} from "./_layout.ts";
import { check, rebuild, reindex, repair } from "./_table_repair.ts";

export type { Entry, TableSizes, Value };

const REPAIRING = -1;
/** A lock held this long by a writer nobody vouches for is taken over. */
const LEASE_MS = 2000;
const READ_RETRIES = 64;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One thread's view of a shared table. */
export class Table {
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  readonly #token: number;
  #v: Views;
  #key = new Uint8Array(0);
  #scratch = new Uint8Array(0);

  /** Lays out a new table of `sizes`. */
  static create(sizes: TableSizes, token: number): Table {
    const table = new Table(createBuffer(sizes), token);
    rebuild(table.#v);
    return table;
  }

  /**
   * Opens a table laid out by {@linkcode Table.create}, writing with
   * `token` (a nonzero number unique to this writer).
   */
  constructor(buffer: SharedArrayBuffer, token: number) {
    if (!Number.isInteger(token) || token <= 0) throw new RangeError("shared: bad writer token");
    this.buffer = buffer;
    this.#token = token;
    this.#v = viewsOf(buffer);
    this.capacity = this.#v.capacity;
    this.maxKeyBytes = this.#v.maxKeyBytes;
    this.maxValueBytes = this.#v.maxValueBytes;
  }

  // Encodes `key` into the key scratch; returns its byte length.
  #encodeKey(key: string): number {
    if (typeof key !== "string") throw new TypeError("shared: keys are strings");
    if (this.#key.length < key.length * 3) this.#key = new Uint8Array(key.length * 3 + 16);
    const n = encoder.encodeInto(key, this.#key).written;
    if (n > this.maxKeyBytes) {
      throw new RangeError(`shared: key of ${n} bytes is longer than ${this.maxKeyBytes}`);
    }
    if (n === 0) throw new RangeError("shared: empty key");
    return n;
  }

  // The slot of the key in the key scratch, or -1; `at` receives the
  // index position of the hit (or of the first reusable position).
  #find(n: number, hash: number, at: Int32Array): number {
    const index = this.#v.index, meta = this.#v.meta;
    let reuse = -1;
    for (
      let p = hash & this.#v.mask, probes = 0;
      probes <= this.#v.mask;
      p = (p + 1) & this.#v.mask
    ) {
      probes++;
      const e = Atomics.load(index, p);
      if (e === EMPTY) {
        at[0] = reuse >= 0 ? reuse : p;
        return -1;
      }
      if (e === TOMB) {
        if (reuse < 0) reuse = p;
        continue;
      }
      const s = e - 1, m = s * SLOT_INTS;
      if (meta[m + S_HASH] !== hash || meta[m + S_KLEN] !== n) continue;
      if (this.#sameKey(s, n)) {
        at[0] = p;
        return s;
      }
    }
    at[0] = reuse;
    return -1;
  }

  #at = new Int32Array(1);

  // Whether slot `s` holds the `n`-byte key in the key scratch.
  #sameKey(s: number, n: number): boolean {
    const keys = this.#v.keys, key = this.#key;
    for (let i = 0, o = s * this.maxKeyBytes; i < n; i++) if (keys[o + i] !== key[i]) return false;
    return true;
  }

  /** The value of `key`, or `undefined`. Takes no lock. */
  get(key: string, now: number = Date.now()): Value | undefined {
    const n = this.#encodeKey(key);
    const hash = fnv1a(this.#key, n);
    const h = this.#v.h, meta = this.#v.meta;
    for (let attempt = 0; attempt < READ_RETRIES; attempt++) {
      const seq = Atomics.load(h, H_INDEX_SEQ);
      if (seq & 1) continue;
      const s = this.#find(n, hash, this.#at);
      if (s < 0) {
        if (Atomics.load(h, H_INDEX_SEQ) === seq) return undefined;
        continue;
      }
      const m = s * SLOT_INTS;
      const v1 = Atomics.load(meta, m + S_VER);
      if (v1 & 1) continue;
      const live = meta[m + S_STATE] === LIVE && meta[m + S_HASH] === hash &&
        meta[m + S_KLEN] === n && this.#sameKey(s, n);
      const expires = this.#v.expires[s];
      const type = meta[m + S_TYPE], len = meta[m + S_VLEN];
      let value: Value | undefined;
      if (live) {
        if (type === T_NUMBER) value = this.#v.nums[s];
        else {
          const o = s * this.maxValueBytes;
          value = this.#v.vals.slice(o, o + Math.min(len, this.maxValueBytes));
        }
      }
      if (Atomics.load(meta, m + S_VER) !== v1) continue;
      if (!live || (expires !== 0 && expires <= now)) return undefined;
      Atomics.store(this.#v.used, s, Atomics.add(this.#v.l, L_CLOCK, 1n));
      if (type === T_STRING) return decoder.decode(value as Uint8Array);
      return value;
    }
    // Only a writer stuck mid-slot keeps a read retrying this long.
    this.#withLock(() => {});
    return this.get(key, now);
  }

  /** Sets `key` (with `ttl` ms to live, 0 for none); `onlyIfAbsent`: add. */
  set(key: string, value: Value, ttl = 0, onlyIfAbsent = false, now: number = Date.now()): boolean {
    const n = this.#encodeKey(key);
    const bytes = this.#valueBytes(value);
    return this.#withLock(() => {
      const hash = fnv1a(this.#key, n);
      let s = this.#find(n, hash, this.#at);
      if (s >= 0 && this.#expired(s, now)) {
        this.#remove(s, this.#at[0]);
        s = -1;
      }
      if (s >= 0 && onlyIfAbsent) return false;
      if (s < 0) s = this.#insert(n, hash, now);
      this.#write(s, value, bytes, ttl > 0 ? now + ttl : 0);
      return true;
    });
  }

  /** Adds `by` to the number at `key` (absent: 0) and returns the sum. */
  incr(key: string, by: number, ttl = 0, now: number = Date.now()): number {
    const n = this.#encodeKey(key);
    if (typeof by !== "number" || !Number.isFinite(by)) {
      throw new TypeError("shared: incr by a finite number");
    }
    return this.#withLock(() => {
      const hash = fnv1a(this.#key, n);
      let s = this.#find(n, hash, this.#at);
      if (s >= 0 && this.#expired(s, now)) {
        this.#remove(s, this.#at[0]);
        s = -1;
      }
      let base = 0, expires = ttl > 0 ? now + ttl : 0;
      if (s >= 0) {
        const m = s * SLOT_INTS, type = this.#v.meta[m + S_TYPE];
        if (type === T_NUMBER) base = this.#v.nums[s];
        else {
          const text = type === T_STRING ? this.#stringAt(s) : "";
          base = /^\s*[-+]?\d+(\.\d+)?\s*$/.test(text) ? Number(text) : NaN;
          if (Number.isNaN(base)) {
            throw new TypeError(`shared: incr ${JSON.stringify(key)}: the value is not a number`);
          }
        }
        expires = this.#v.expires[s];
      } else s = this.#insert(n, hash, now);
      const sum = base + by;
      this.#write(s, sum, undefined, expires);
      return sum;
    });
  }

  /** Removes `key`; `true` when it was there. */
  delete(key: string, now: number = Date.now()): boolean {
    const n = this.#encodeKey(key);
    return this.#withLock(() => {
      const s = this.#find(n, fnv1a(this.#key, n), this.#at);
      if (s < 0) return false;
      const live = !this.#expired(s, now);
      this.#remove(s, this.#at[0]);
      return live;
    });
  }

  /** Every live key with its expiry, least recently used first. Takes no lock. */
  entries(now: number = Date.now()): Entry[] {
    const out: { key: string; expires: number; used: bigint }[] = [];
    const meta = this.#v.meta;
    for (let s = 0; s < this.capacity; s++) {
      for (let attempt = 0; attempt < READ_RETRIES; attempt++) {
        const m = s * SLOT_INTS, v1 = Atomics.load(meta, m + S_VER);
        if (v1 & 1) continue;
        if (meta[m + S_STATE] !== LIVE) break;
        const o = s * this.maxKeyBytes;
        const key = this.#v.keys.slice(o, o + Math.min(meta[m + S_KLEN], this.maxKeyBytes));
        const expires = this.#v.expires[s], used = this.#v.used[s];
        if (Atomics.load(meta, m + S_VER) !== v1) continue;
        if (expires === 0 || expires > now) out.push({ key: decoder.decode(key), expires, used });
        break;
      }
    }
    out.sort((a, b) => (a.used < b.used ? -1 : a.used > b.used ? 1 : 0));
    return out.map(({ key, expires }) => ({ key, expires }));
  }

  /** Removes every entry. */
  clear(): void {
    this.#withLock(() => {
      for (let s = 0; s < this.capacity; s++) {
        const m = s * SLOT_INTS;
        if (this.#v.meta[m + S_STATE] !== LIVE) continue;
        Atomics.add(this.#v.meta, m + S_VER, 1);
        this.#v.meta[m + S_STATE] = FREE;
        Atomics.add(this.#v.meta, m + S_VER, 1);
      }
      rebuild(this.#v);
    });
  }

  /**
   * Recovers the table from a writer that died: when `token` (or, with no
   * token, a writer holding the lock past the lease) holds the lock, drops
   * the slots it left half-written, rebuilds the rest and frees the lock.
   * Returns whether there was anything to recover.
   */
  recover(token?: number): boolean {
    const h = this.#v.h;
    const holder = Atomics.load(h, H_LOCK);
    if (holder === 0 || holder === REPAIRING) return false;
    if (token !== undefined && holder !== token) return false;
    if (token === undefined && Date.now() - Number(Atomics.load(this.#v.l, L_SINCE)) < LEASE_MS) {
      return false;
    }
    if (Atomics.compareExchange(h, H_LOCK, holder, REPAIRING) !== holder) return false;
    try {
      repair(this.#v);
    } finally {
      Atomics.store(h, H_LOCK, 0);
      Atomics.notify(h, H_LOCK);
    }
    return true;
  }

  /** Checks the table's invariants; returns what is wrong (empty when sound). */
  check(): string[] {
    return check(this.#v);
  }

  #valueBytes(value: Value): Uint8Array | undefined {
    let bytes: Uint8Array;
    if (typeof value === "number") return undefined;
    if (typeof value === "string") {
      if (this.#scratch.length < value.length * 3) {
        this.#scratch = new Uint8Array(value.length * 3 + 16);
      }
      bytes = this.#scratch.subarray(0, encoder.encodeInto(value, this.#scratch).written);
    } else if (value instanceof Uint8Array) bytes = value;
    else throw new TypeError("shared: values are strings, Uint8Arrays or numbers");
    if (bytes.length > this.maxValueBytes) {
      throw new RangeError(
        `shared: value of ${bytes.length} bytes is longer than ${this.maxValueBytes}`,
      );
    }
    return bytes;
  }

  #expired(s: number, now: number): boolean {
    const e = this.#v.expires[s];
    return e !== 0 && e <= now;
  }

  #stringAt(s: number): string {
    const o = s * this.maxValueBytes;
    return decoder.decode(this.#v.vals.slice(o, o + this.#v.meta[s * SLOT_INTS + S_VLEN]));
  }

  // Under the lock: takes a free slot for the key in the key scratch
  // (evicting when full), fills its key and indexes it.
  #insert(n: number, hash: number, now: number): number {
    const h = this.#v.h, meta = this.#v.meta;
    if (h[H_COUNT] >= this.capacity) this.#evict(now);
    const s = h[H_FREE] - 1;
    h[H_FREE] = meta[s * SLOT_INTS + S_NEXT];
    const m = s * SLOT_INTS;
    Atomics.add(meta, m + S_VER, 1);
    meta[m + S_STATE] = LIVE;
    meta[m + S_HASH] = hash;
    meta[m + S_KLEN] = n;
    meta[m + S_VLEN] = 0;
    meta[m + S_TYPE] = T_NUMBER;
    this.#v.nums[s] = 0;
    this.#v.expires[s] = 0;
    this.#v.keys.set(this.#key.subarray(0, n), s * this.maxKeyBytes);
    Atomics.add(meta, m + S_VER, 1);
    h[H_COUNT]++;
    // Probe again: an eviction or a rebuild may have moved the position.
    this.#find(n, hash, this.#at);
    const at = this.#at[0];
    if (this.#v.index[at] === TOMB) h[H_TOMBS]--;
    Atomics.store(this.#v.index, at, s + 1);
    return s;
  }

  #write(s: number, value: Value, bytes: Uint8Array | undefined, expires: number): void {
    const meta = this.#v.meta, m = s * SLOT_INTS;
    Atomics.add(meta, m + S_VER, 1);
    if (typeof value === "number") {
      meta[m + S_TYPE] = T_NUMBER;
      meta[m + S_VLEN] = 0;
      this.#v.nums[s] = value;
    } else {
      meta[m + S_TYPE] = typeof value === "string" ? T_STRING : T_BYTES;
      meta[m + S_VLEN] = bytes!.length;
      this.#v.vals.set(bytes!, s * this.maxValueBytes);
    }
    this.#v.expires[s] = expires;
    Atomics.store(this.#v.used, s, Atomics.add(this.#v.l, L_CLOCK, 1n));
    Atomics.add(meta, m + S_VER, 1);
  }

  // Under the lock: frees slot `s`, indexed at position `at`.
  #remove(s: number, at: number): void {
    const h = this.#v.h, meta = this.#v.meta, m = s * SLOT_INTS;
    Atomics.store(this.#v.index, at, TOMB);
    h[H_TOMBS]++;
    Atomics.add(meta, m + S_VER, 1);
    meta[m + S_STATE] = FREE;
    meta[m + S_NEXT] = h[H_FREE];
    Atomics.add(meta, m + S_VER, 1);
    h[H_FREE] = s + 1;
    h[H_COUNT]--;
    if (h[H_TOMBS] > (this.#v.mask + 1) >> 2) reindex(this.#v);
  }

  // Under the lock: frees an expired entry if there is one, else the
  // least recently used.
  #evict(now: number): void {
    let victim = -1, oldest = 0n;
    for (let s = 0; s < this.capacity; s++) {
      if (this.#v.meta[s * SLOT_INTS + S_STATE] !== LIVE) continue;
      if (this.#expired(s, now)) {
        victim = s;
        break;
      }
      const used = this.#v.used[s];
      if (victim < 0 || used < oldest) {
        victim = s;
        oldest = used;
      }
    }
    const hash = this.#v.meta[victim * SLOT_INTS + S_HASH];
    for (let p = hash & this.#v.mask;; p = (p + 1) & this.#v.mask) {
      if (this.#v.index[p] === victim + 1) {
        this.#remove(victim, p);
        break;
      }
    }
  }

  #withLock<T>(fn: () => T): T {
    const h = this.#v.h, token = this.#token;
    for (let spins = 0;; spins++) {
      const holder = Atomics.compareExchange(h, H_LOCK, 0, token);
      if (holder === 0) break;
      if (holder === token) throw new Error("shared: re-entered a write");
      if (spins > 100) {
        if ((spins & 1023) === 0) this.recover();
        Atomics.wait(h, H_LOCK, holder, 1);
      }
    }
    Atomics.store(this.#v.l, L_SINCE, BigInt(Date.now()));
    try {
      return fn();
    } finally {
      Atomics.store(h, H_LOCK, 0);
      Atomics.notify(h, H_LOCK, 1);
    }
  }
}
