/**
 * The wire format between the SQLite driver and its worker threads.
 *
 * Both sides share one growable `SharedArrayBuffer` per worker (64 KiB,
 * growable to 1 GiB). It starts with a 32-byte header of eight `Int32`
 * slots, of which five are used: {@linkcode REQ} (sequence number of the
 * latest request batch), {@linkcode RES} (sequence number of the latest
 * answered batch), {@linkcode STOP} (1 once the main thread stops the
 * worker), {@linkcode COUNT} (requests in the batch, and so responses in
 * the reply) and {@linkcode PARKED} (1 while the main thread waits for a
 * doorbell). The message follows from byte {@linkcode HEADER}: a batch of
 * `COUNT` requests, which the worker overwrites with `COUNT` responses in
 * the same order.
 *
 * The main thread writes a batch, stores `REQ` and wakes the worker with
 * `Atomics.notify`. The worker answers the whole batch, stores `RES` and,
 * only when `PARKED` is set (the main thread stopped spinning for the
 * reply), rings with a one-number `postMessage`.
 *
 * Integers are little-endian; a string is a `u32` byte length and its
 * UTF-8 bytes.
 *
 * - Request: an `u8` op, then for `OP_OPEN` the path (string), read-only
 *   (`u8`, 1 or 0) and busy timeout in ms (`u32`); for `OP_ALL`, `OP_ONE`
 *   and `OP_EXEC` the SQL (string), the parameter count (`u32`) and that
 *   many values; for `OP_CLOSE` nothing.
 * - Response: an `u8` tag, then for `R_ROWS` the column count (`u32`),
 *   the column names (strings), the row count (`u32`) and the values row
 *   by row; for `R_EXEC` the changes and the inserted rowid (values, the
 *   rowid `NULL` when the statement inserted nothing); for `R_ERROR` the
 *   message and the code (strings) and the errno (a value, `NULL` when
 *   there is none); for `R_OK` nothing.
 * - Value: an `u8` type tag, then: 0 NULL, 6 TRUE, 7 FALSE: nothing;
 *   1 INT32: an `i32`; 3 INT64: an `i64`; 2 FLOAT64: an `f64`; 4 TEXT: a
 *   string; 5 BYTES: a `u32` length and the bytes.
 *
 * @example
 * ```ts ignore
 * const sab = newSharedBuffer();
 * const enc = new Encoder(sab);
 * enc.reset();
 * enc.value(42);
 * const dec = new Decoder(sab);
 * dec.reset();
 * console.log(dec.value()); // 42
 * ```
 * @module
 */

/** Header slot: sequence number of the latest request. */
export const REQ = 0;
/** Header slot: sequence number of the latest response. */
export const RES = 1;
/** Header slot: set to 1 when the main thread stops the worker. */
export const STOP = 2;
/** Header slot: number of requests in the message (and of responses in the reply). */
export const COUNT = 3;
/** Header slot: 1 while the main thread sleeps, so the worker rings its doorbell (a message). */
export const PARKED = 4;
/** Bytes before the message. */
export const HEADER = 32;

/** Request: open the database. */
export const OP_OPEN = 1;
/** Request: run a statement, return all rows. */
export const OP_ALL = 2;
/** Request: run a statement, return the first row. */
export const OP_ONE = 3;
/** Request: run a statement, return changes and the inserted rowid. */
export const OP_EXEC = 4;
/** Request: close the database. */
export const OP_CLOSE = 5;

/** Response: column names and rows. */
export const R_ROWS = 1;
/** Response: changes and inserted rowid. */
export const R_EXEC = 2;
/** Response: done, nothing to return. */
export const R_OK = 3;
/** Response: an error (message, code). */
export const R_ERROR = 4;

const T_NULL = 0, T_I32 = 1, T_F64 = 2, T_I64 = 3, T_STR = 4, T_BYTES = 5, T_TRUE = 6, T_FALSE = 7;
const MAX_BYTES = 1 << 30;
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER), MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_I32 = -(1n << 31n), MAX_I32 = (1n << 31n) - 1n;
const MIN_I64 = -(1n << 63n), MAX_I64 = (1n << 63n) - 1n;
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/**
 * A new channel buffer: 64 KiB, growable to 1 GiB.
 *
 * @example
 * ```ts ignore
 * const sab = newSharedBuffer();
 * console.log(sab.byteLength, sab.growable); // 65536 true
 * ```
 */
export function newSharedBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(64 * 1024, { maxByteLength: MAX_BYTES });
}

/**
 * Writes one message into the shared buffer, growing it as needed.
 *
 * @example
 * ```ts ignore
 * const enc = new Encoder(newSharedBuffer());
 * enc.reset();
 * enc.str("SELECT 1");
 * ```
 */
export class Encoder {
  #sab: SharedArrayBuffer;
  #u8: Uint8Array;
  #dv: DataView;
  #pos = HEADER;

  /** @param sab the channel buffer */
  constructor(sab: SharedArrayBuffer) {
    this.#sab = sab;
    this.#u8 = new Uint8Array(sab);
    this.#dv = new DataView(sab);
  }

  /** Starts a new message. */
  reset(): void {
    this.#pos = HEADER;
  }

  /** Bytes written after the header. */
  get length(): number {
    return this.#pos - HEADER;
  }

  /** Drops what was written after `length` bytes (to undo a request that failed to encode). */
  truncate(length: number): void {
    this.#pos = HEADER + length;
  }

  #ensure(n: number): void {
    const need = this.#pos + n;
    if (need <= this.#sab.byteLength) return;
    if (need > MAX_BYTES) throw new RangeError("sqlite: message larger than 1 GiB");
    let size = this.#sab.byteLength;
    while (size < need) size *= 2;
    this.#sab.grow(Math.min(size, MAX_BYTES));
  }

  /** Writes one byte. */
  u8(v: number): void {
    this.#ensure(1);
    this.#u8[this.#pos++] = v;
  }

  /** Writes an unsigned 32-bit integer. */
  u32(v: number): void {
    this.#ensure(4);
    this.#dv.setUint32(this.#pos, v, true);
    this.#pos += 4;
  }

  /** Writes a string as length-prefixed UTF-8. */
  str(s: string): void {
    this.#ensure(4 + s.length * 3);
    const start = this.#pos + 4;
    let n = 0;
    if (s.length < 64) {
      for (; n < s.length; n++) {
        const c = s.charCodeAt(n);
        if (c > 0x7f) break;
        this.#u8[start + n] = c;
      }
    }
    if (n < s.length) n = utf8.encodeInto(s, this.#u8.subarray(start)).written;
    this.#dv.setUint32(this.#pos, n, true);
    this.#pos = start + n;
  }

  /** Writes a TEXT value from its UTF-8 bytes. */
  text(utf8Bytes: Uint8Array): void {
    this.#bytes(T_STR, utf8Bytes);
  }

  /** Writes one SQL value; throws `TypeError` for a value SQLite cannot store. */
  value(v: unknown): void {
    switch (typeof v) {
      case "number":
        if ((v | 0) === v) {
          this.u8(T_I32);
          this.#ensure(4);
          this.#dv.setInt32(this.#pos, v, true);
          this.#pos += 4;
        } else if (Number.isSafeInteger(v)) {
          this.#i64(BigInt(v));
        } else {
          this.u8(T_F64);
          this.#ensure(8);
          this.#dv.setFloat64(this.#pos, v, true);
          this.#pos += 8;
        }
        return;
      case "string":
        this.u8(T_STR);
        this.str(v);
        return;
      case "bigint":
        if (v >= MIN_I32 && v <= MAX_I32) return this.value(Number(v));
        if (v < MIN_I64 || v > MAX_I64) throw new TypeError(`sqlite: ${v} does not fit in 64 bits`);
        this.#i64(v);
        return;
      case "boolean":
        this.u8(v ? T_TRUE : T_FALSE);
        return;
    }
    if (v === null) return this.u8(T_NULL);
    if (v instanceof Uint8Array) return this.#bytes(T_BYTES, v);
    if (v instanceof Date) {
      this.u8(T_STR);
      this.str(v.toISOString());
      return;
    }
    throw new TypeError(`sqlite: cannot bind a value of type ${Object.prototype.toString.call(v)}`);
  }

  #bytes(tag: number, v: Uint8Array): void {
    this.u8(tag);
    this.u32(v.byteLength);
    this.#ensure(v.byteLength);
    this.#u8.set(v, this.#pos);
    this.#pos += v.byteLength;
  }

  #i64(v: bigint): void {
    this.u8(T_I64);
    this.#ensure(8);
    this.#dv.setBigInt64(this.#pos, v, true);
    this.#pos += 8;
  }
}

/**
 * Reads one message from the shared buffer.
 *
 * @example
 * ```ts ignore
 * const dec = new Decoder(sab);
 * dec.reset();
 * const text = dec.str();
 * ```
 */
export class Decoder {
  #u8: Uint8Array;
  #dv: DataView;
  #pos = HEADER;

  /** @param sab the channel buffer */
  constructor(sab: SharedArrayBuffer) {
    this.#u8 = new Uint8Array(sab);
    this.#dv = new DataView(sab);
  }

  /** Starts reading a new message. */
  reset(): void {
    this.#pos = HEADER;
  }

  /** Reads one byte. */
  u8(): number {
    return this.#u8[this.#pos++];
  }

  /** Reads an unsigned 32-bit integer. */
  u32(): number {
    const v = this.#dv.getUint32(this.#pos, true);
    this.#pos += 4;
    return v;
  }

  /**
   * Reads a length-prefixed UTF-8 string. Short ASCII strings are made in
   * one call (adding characters one by one makes a rope from 13 on, which
   * costs time and memory); the rest go through `TextDecoder`.
   */
  str(): string {
    const n = this.u32();
    const u8 = this.#u8;
    const start = this.#pos;
    const end = start + n;
    this.#pos = end;
    if (n < 64) {
      let i = start;
      while (i < end && u8[i] < 0x80) i++;
      if (i === end) {
        return String.fromCharCode.apply(null, u8.subarray(start, end) as unknown as number[]);
      }
    }
    return utf8Decoder.decode(u8.subarray(start, end));
  }

  /**
   * Reads one SQL value. Integers come back as numbers when exact and as
   * bigints otherwise; `bigints` keeps every 64-bit integer a bigint (the
   * worker side, for binding as INTEGER).
   */
  value(bigints = false): unknown {
    const tag = this.#u8[this.#pos++];
    switch (tag) {
      case T_NULL:
        return null;
      case T_I32: {
        const v = this.#dv.getInt32(this.#pos, true);
        this.#pos += 4;
        return bigints ? BigInt(v) : v;
      }
      case T_F64: {
        const v = this.#dv.getFloat64(this.#pos, true);
        this.#pos += 8;
        return v;
      }
      case T_I64: {
        const v = this.#dv.getBigInt64(this.#pos, true);
        this.#pos += 8;
        return bigints || v < MIN_SAFE || v > MAX_SAFE ? v : Number(v);
      }
      case T_STR:
        return this.str();
      case T_BYTES: {
        const n = this.u32();
        const out = this.#u8.slice(this.#pos, this.#pos + n);
        this.#pos += n;
        return out;
      }
      case T_TRUE:
        return bigints ? 1n : true;
      case T_FALSE:
        return bigints ? 0n : false;
    }
    throw new Error(`sqlite: corrupt message (value tag ${tag})`);
  }
}
