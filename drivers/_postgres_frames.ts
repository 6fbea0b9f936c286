/**
 * The bytes of PostgreSQL's frontend/backend protocol 3.0: a buffer that
 * builds frontend messages, and the readers of backend message fields.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

/**
 * Frontend messages built back to back into one growing buffer, taken
 * out whole for a socket write.
 *
 * @example
 * ```ts ignore
 * const out = new FrameWriter();
 * out.begin(0x51).cstring("SELECT 1").end(); // Query
 * conn.write(out.take());
 * ```
 */
export class FrameWriter {
  #buf = new Uint8Array(4096);
  #view = new DataView(this.#buf.buffer);
  #len = 0;
  #start = -1;

  /** Bytes waiting to be taken. */
  get length(): number {
    return this.#len;
  }

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  /** Starts a message of type `type` (a byte; 0: the untyped startup and cancel messages). */
  begin(type: number): this {
    this.#room(5);
    if (type !== 0) this.#buf[this.#len++] = type;
    this.#start = this.#len;
    this.#len += 4;
    return this;
  }

  /** Ends the message begun last, writing its length. */
  end(): this {
    this.#view.setInt32(this.#start, this.#len - this.#start);
    return this;
  }

  byte(b: number): this {
    this.#room(1);
    this.#buf[this.#len++] = b;
    return this;
  }

  int16(n: number): this {
    this.#room(2);
    this.#view.setInt16(this.#len, n);
    this.#len += 2;
    return this;
  }

  int32(n: number): this {
    this.#room(4);
    this.#view.setInt32(this.#len, n);
    this.#len += 4;
    return this;
  }

  /** `s` as UTF-8, without a terminator. */
  text(s: string): this {
    this.#room(s.length * 3);
    this.#len += encoder.encodeInto(s, this.#buf.subarray(this.#len)).written;
    return this;
  }

  /** `s` as UTF-8 and a NUL; a NUL inside `s` is refused. */
  cstring(s: string): this {
    if (s.includes("\0")) throw new TypeError("postgres: text sent to the server holds a NUL byte");
    return this.text(s).byte(0);
  }

  bytes(b: Uint8Array): this {
    this.#room(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
    return this;
  }

  /** A length-prefixed value: text, bytes, or NULL (-1). */
  value(v: string | Uint8Array | null): this {
    if (v === null) return this.int32(-1);
    const at = this.#len;
    this.int32(0);
    if (typeof v === "string") this.text(v);
    else this.bytes(v);
    this.#view.setInt32(at, this.#len - at - 4);
    return this;
  }

  /** Drops what was written since `mark` (a {@linkcode length} read before). */
  rewind(mark: number): void {
    this.#len = mark;
  }

  /** The bytes written so far, as a copy; the writer starts empty again. */
  take(): Uint8Array {
    const out = this.#buf.slice(0, this.#len);
    this.#len = 0;
    return out;
  }
}

/**
 * Reads fields of one backend message in place.
 *
 * @example
 * ```ts ignore
 * const r = new FrameReader(bytes, 0, bytes.length);
 * const name = r.cstring();
 * ```
 */
export class FrameReader {
  buf: Uint8Array;
  pos: number;
  end: number;

  constructor(buf: Uint8Array, pos: number, end: number) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  int16(): number {
    const b = this.buf, p = this.pos;
    this.pos += 2;
    return ((b[p] << 8) | b[p + 1]) << 16 >> 16;
  }

  int32(): number {
    const b = this.buf, p = this.pos;
    this.pos += 4;
    return (b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3];
  }

  /** The text up to the next NUL, which it skips. */
  cstring(): string {
    const b = this.buf;
    let i = this.pos;
    while (i < this.end && b[i] !== 0) i++;
    const s = textOf(b, this.pos, i);
    this.pos = i + 1;
    return s;
  }

  /** `n` bytes as UTF-8 text. */
  text(n: number): string {
    const s = textOf(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  /** `n` bytes, copied. */
  bytes(n: number): Uint8Array {
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/** UTF-8 text of `b[start, end)`; short ASCII is read without the decoder. */
function textOf(b: Uint8Array, start: number, end: number): string {
  if (end - start <= 24) {
    let ascii = true;
    for (let i = start; i < end; i++) {
      if (b[i] > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      return String.fromCharCode.apply(null, b.subarray(start, end) as unknown as number[]);
    }
  }
  return decoder.decode(b.subarray(start, end));
}
