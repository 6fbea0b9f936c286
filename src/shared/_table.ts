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

/** A stored value. */
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

const MAGIC = 0x4c4e5344;
// Header words (Int32).
const H_MAGIC = 0, H_CAP = 1, H_KEY = 2, H_VAL = 3, H_INDEX = 4, H_LOCK = 5, H_COUNT = 6;
const H_FREE = 7, H_TOMBS = 8, H_INDEX_SEQ = 9;
/** The header word holding the writer lock. */
export { H_LOCK };
const HEADER_INTS = 16;
// Header longs (BigInt64): the LRU clock and when the lock was taken.
const L_CLOCK = 0, L_SINCE = 1;
// Slot words (Int32), 8 per slot.
const S_VER = 0, S_STATE = 1, S_HASH = 2, S_KLEN = 3, S_VLEN = 4, S_TYPE = 5, S_NEXT = 6;
/** Int32 words per slot: version, state, hash, key length, value length, type, next. */
export const SLOT_INTS = 8;
const FREE = 0, LIVE = 1;
const T_STRING = 0, T_BYTES = 1, T_NUMBER = 2;
const EMPTY = 0, TOMB = -1;
const REPAIRING = -1;
/** A lock held this long by a writer nobody vouches for is taken over. */
const LEASE_MS = 2000;
const READ_RETRIES = 64;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function pow2(n: number): number {
  let p = 8;
  while (p < n) p *= 2;
  return p;
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

function fnv1a(b: Uint8Array, n: number): number {
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
  const header = HEADER_INTS * 4;
  const longs = header;
  const index = longs + 16;
  const meta = align8(index + t * 4);
  const expires = align8(meta + c * SLOT_INTS * 4);
  const nums = expires + c * 8;
  const used = nums + c * 8;
  const keys = used + c * 8;
  const vals = keys + c * k;
  return { t, longs, index, meta, expires, nums, used, keys, vals, size: align8(vals + c * v) };
}

/** A stored entry as read by {@linkcode Table.entries}. */
export interface Entry {
  /** The key. */
  key: string;
  /** Expiry (epoch ms), or 0 for none. */
  expires: number;
}

/** One thread's view of a shared table. */
export class Table {
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  readonly #token: number;
  #h: Int32Array;
  #l: BigInt64Array;
  #index: Int32Array;
  #meta: Int32Array;
  #expires: Float64Array;
  #nums: Float64Array;
  #used: BigInt64Array;
  #keys: Uint8Array;
  #vals: Uint8Array;
  #mask: number;
  #key = new Uint8Array(0);
  #scratch = new Uint8Array(0);

  /** Lays out a new table of `sizes`. */
  static create(sizes: TableSizes, token: number): Table {
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
    const table = new Table(buffer, token);
    table.#rebuild();
    return table;
  }

  /**
   * Opens a table laid out by {@linkcode Table.create}, writing with
   * `token` (a nonzero number unique to this writer).
   */
  constructor(buffer: SharedArrayBuffer, token: number) {
    const h = new Int32Array(buffer, 0, HEADER_INTS);
    if (h[H_MAGIC] !== MAGIC) throw new TypeError("shared: not a shared dictionary buffer");
    if (!Number.isInteger(token) || token <= 0) throw new RangeError("shared: bad writer token");
    this.buffer = buffer;
    this.#token = token;
    this.capacity = h[H_CAP];
    this.maxKeyBytes = h[H_KEY];
    this.maxValueBytes = h[H_VAL];
    const l = layout(this);
    const c = this.capacity;
    this.#h = h;
    this.#l = new BigInt64Array(buffer, l.longs, 2);
    this.#index = new Int32Array(buffer, l.index, l.t);
    this.#meta = new Int32Array(buffer, l.meta, c * SLOT_INTS);
    this.#expires = new Float64Array(buffer, l.expires, c);
    this.#nums = new Float64Array(buffer, l.nums, c);
    this.#used = new BigInt64Array(buffer, l.used, c);
    this.#keys = new Uint8Array(buffer, l.keys, c * this.maxKeyBytes);
    this.#vals = new Uint8Array(buffer, l.vals, c * this.maxValueBytes);
    this.#mask = l.t - 1;
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
    const index = this.#index, meta = this.#meta;
    let reuse = -1;
    for (let p = hash & this.#mask, probes = 0; probes <= this.#mask; p = (p + 1) & this.#mask) {
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
    const keys = this.#keys, key = this.#key;
    for (let i = 0, o = s * this.maxKeyBytes; i < n; i++) if (keys[o + i] !== key[i]) return false;
    return true;
  }

  /** The value of `key`, or `undefined`. Takes no lock. */
  get(key: string, now: number = Date.now()): Value | undefined {
    const n = this.#encodeKey(key);
    const hash = fnv1a(this.#key, n);
    const h = this.#h, meta = this.#meta;
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
      const expires = this.#expires[s];
      const type = meta[m + S_TYPE], len = meta[m + S_VLEN];
      let value: Value | undefined;
      if (live) {
        if (type === T_NUMBER) value = this.#nums[s];
        else {
          const o = s * this.maxValueBytes;
          value = this.#vals.slice(o, o + Math.min(len, this.maxValueBytes));
        }
      }
      if (Atomics.load(meta, m + S_VER) !== v1) continue;
      if (!live || (expires !== 0 && expires <= now)) return undefined;
      Atomics.store(this.#used, s, Atomics.add(this.#l, L_CLOCK, 1n));
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
        const m = s * SLOT_INTS, type = this.#meta[m + S_TYPE];
        if (type === T_NUMBER) base = this.#nums[s];
        else {
          const text = type === T_STRING ? this.#stringAt(s) : "";
          base = /^\s*[-+]?\d+(\.\d+)?\s*$/.test(text) ? Number(text) : NaN;
          if (Number.isNaN(base)) {
            throw new TypeError(`shared: incr ${JSON.stringify(key)}: the value is not a number`);
          }
        }
        expires = this.#expires[s];
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
    const meta = this.#meta;
    for (let s = 0; s < this.capacity; s++) {
      for (let attempt = 0; attempt < READ_RETRIES; attempt++) {
        const m = s * SLOT_INTS, v1 = Atomics.load(meta, m + S_VER);
        if (v1 & 1) continue;
        if (meta[m + S_STATE] !== LIVE) break;
        const o = s * this.maxKeyBytes;
        const key = this.#keys.slice(o, o + Math.min(meta[m + S_KLEN], this.maxKeyBytes));
        const expires = this.#expires[s], used = this.#used[s];
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
        if (this.#meta[m + S_STATE] !== LIVE) continue;
        Atomics.add(this.#meta, m + S_VER, 1);
        this.#meta[m + S_STATE] = FREE;
        Atomics.add(this.#meta, m + S_VER, 1);
      }
      this.#rebuild();
    });
  }

  /**
   * Recovers the table from a writer that died: when `token` (or, with no
   * token, a writer holding the lock past the lease) holds the lock, drops
   * the slots it left half-written, rebuilds the rest and frees the lock.
   * Returns whether there was anything to recover.
   */
  recover(token?: number): boolean {
    const h = this.#h;
    const holder = Atomics.load(h, H_LOCK);
    if (holder === 0 || holder === REPAIRING) return false;
    if (token !== undefined && holder !== token) return false;
    if (token === undefined && Date.now() - Number(Atomics.load(this.#l, L_SINCE)) < LEASE_MS) {
      return false;
    }
    if (Atomics.compareExchange(h, H_LOCK, holder, REPAIRING) !== holder) return false;
    try {
      this.#repair();
    } finally {
      Atomics.store(h, H_LOCK, 0);
      Atomics.notify(h, H_LOCK);
    }
    return true;
  }

  /** Checks the table's invariants; returns what is wrong (empty when sound). */
  check(): string[] {
    const problems: string[] = [];
    let live = 0;
    const indexed = new Set<number>();
    for (let p = 0; p <= this.#mask; p++) {
      const e = this.#index[p];
      if (e <= 0) continue;
      if (indexed.has(e - 1)) problems.push(`slot ${e - 1} indexed twice`);
      indexed.add(e - 1);
    }
    for (let s = 0; s < this.capacity; s++) {
      const m = s * SLOT_INTS;
      if (this.#meta[m + S_VER] & 1) problems.push(`slot ${s} left mid-write`);
      if (this.#meta[m + S_STATE] === LIVE) {
        live++;
        if (!indexed.has(s)) problems.push(`live slot ${s} not indexed`);
      } else if (indexed.has(s)) problems.push(`free slot ${s} indexed`);
    }
    if (live !== this.#h[H_COUNT]) problems.push(`count ${this.#h[H_COUNT]} but ${live} live`);
    if (this.#h[H_LOCK] !== 0) problems.push(`locked by ${this.#h[H_LOCK]}`);
    return problems;
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
    const e = this.#expires[s];
    return e !== 0 && e <= now;
  }

  #stringAt(s: number): string {
    const o = s * this.maxValueBytes;
    return decoder.decode(this.#vals.slice(o, o + this.#meta[s * SLOT_INTS + S_VLEN]));
  }

  // Under the lock: takes a free slot for the key in the key scratch
  // (evicting when full), fills its key and indexes it.
  #insert(n: number, hash: number, now: number): number {
    const h = this.#h, meta = this.#meta;
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
    this.#nums[s] = 0;
    this.#expires[s] = 0;
    this.#keys.set(this.#key.subarray(0, n), s * this.maxKeyBytes);
    Atomics.add(meta, m + S_VER, 1);
    h[H_COUNT]++;
    // Probe again: an eviction or a rebuild may have moved the position.
    this.#find(n, hash, this.#at);
    const at = this.#at[0];
    if (this.#index[at] === TOMB) h[H_TOMBS]--;
    Atomics.store(this.#index, at, s + 1);
    return s;
  }

  #write(s: number, value: Value, bytes: Uint8Array | undefined, expires: number): void {
    const meta = this.#meta, m = s * SLOT_INTS;
    Atomics.add(meta, m + S_VER, 1);
    if (typeof value === "number") {
      meta[m + S_TYPE] = T_NUMBER;
      meta[m + S_VLEN] = 0;
      this.#nums[s] = value;
    } else {
      meta[m + S_TYPE] = typeof value === "string" ? T_STRING : T_BYTES;
      meta[m + S_VLEN] = bytes!.length;
      this.#vals.set(bytes!, s * this.maxValueBytes);
    }
    this.#expires[s] = expires;
    Atomics.store(this.#used, s, Atomics.add(this.#l, L_CLOCK, 1n));
    Atomics.add(meta, m + S_VER, 1);
  }

  // Under the lock: frees slot `s`, indexed at position `at`.
  #remove(s: number, at: number): void {
    const h = this.#h, meta = this.#meta, m = s * SLOT_INTS;
    Atomics.store(this.#index, at, TOMB);
    h[H_TOMBS]++;
    Atomics.add(meta, m + S_VER, 1);
    meta[m + S_STATE] = FREE;
    meta[m + S_NEXT] = h[H_FREE];
    Atomics.add(meta, m + S_VER, 1);
    h[H_FREE] = s + 1;
    h[H_COUNT]--;
    if (h[H_TOMBS] > (this.#mask + 1) >> 2) this.#reindex();
  }

  // Under the lock: frees an expired entry if there is one, else the
  // least recently used.
  #evict(now: number): void {
    let victim = -1, oldest = 0n;
    for (let s = 0; s < this.capacity; s++) {
      if (this.#meta[s * SLOT_INTS + S_STATE] !== LIVE) continue;
      if (this.#expired(s, now)) {
        victim = s;
        break;
      }
      const used = this.#used[s];
      if (victim < 0 || used < oldest) {
        victim = s;
        oldest = used;
      }
    }
    const hash = this.#meta[victim * SLOT_INTS + S_HASH];
    for (let p = hash & this.#mask;; p = (p + 1) & this.#mask) {
      if (this.#index[p] === victim + 1) {
        this.#remove(victim, p);
        break;
      }
    }
  }

  // Under the lock: rebuilds the index from the live slots.
  #reindex(): void {
    const h = this.#h, index = this.#index, meta = this.#meta;
    Atomics.add(h, H_INDEX_SEQ, 1);
    index.fill(EMPTY);
    for (let s = 0; s < this.capacity; s++) {
      const m = s * SLOT_INTS;
      if (meta[m + S_STATE] !== LIVE) continue;
      let p = meta[m + S_HASH] & this.#mask;
      while (index[p] !== EMPTY) p = (p + 1) & this.#mask;
      index[p] = s + 1;
    }
    h[H_TOMBS] = 0;
    Atomics.add(h, H_INDEX_SEQ, 1);
  }

  // Rebuilds the free list, the count and the index from the slots.
  #rebuild(): void {
    const h = this.#h, meta = this.#meta;
    let free = 0, count = 0;
    for (let s = this.capacity - 1; s >= 0; s--) {
      const m = s * SLOT_INTS;
      if (meta[m + S_STATE] === LIVE) count++;
      else {
        meta[m + S_NEXT] = free;
        free = s + 1;
      }
    }
    h[H_FREE] = free;
    h[H_COUNT] = count;
    this.#reindex();
  }

  // Drops the slots a dead writer left odd, then rebuilds.
  #repair(): void {
    const meta = this.#meta;
    for (let s = 0; s < this.capacity; s++) {
      const m = s * SLOT_INTS;
      if ((meta[m + S_VER] & 1) === 0) continue;
      meta[m + S_STATE] = FREE;
      Atomics.add(meta, m + S_VER, 1);
    }
    if (this.#h[H_INDEX_SEQ] & 1) Atomics.add(this.#h, H_INDEX_SEQ, 1);
    this.#rebuild();
  }

  #withLock<T>(fn: () => T): T {
    const h = this.#h, token = this.#token;
    for (let spins = 0;; spins++) {
      const holder = Atomics.compareExchange(h, H_LOCK, 0, token);
      if (holder === 0) break;
      if (holder === token) throw new Error("shared: re-entered a write");
      if (spins > 100) {
        if ((spins & 1023) === 0) this.recover();
        Atomics.wait(h, H_LOCK, holder, 1);
      }
    }
    Atomics.store(this.#l, L_SINCE, BigInt(Date.now()));
    try {
      return fn();
    } finally {
      Atomics.store(h, H_LOCK, 0);
      Atomics.notify(h, H_LOCK, 1);
    }
  }
}
