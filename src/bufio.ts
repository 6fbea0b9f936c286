/**
 * Buffered I/O over any stream handle: {@linkcode BufReader} reads lines,
 * delimited records and exact byte counts with hard size limits;
 * {@linkcode BufWriter} batches small writes into few large ones.
 *
 * Each method takes `{ timeout, deadline, signal }` as one budget for the
 * whole call. Data that arrived before a timeout stays buffered, so the
 * next call sees it.
 *
 * @example Line protocol over a socket
 * ```ts
 * import { connect, listen } from "@lunet/lunet/socket";
 * import { BufReader, BufWriter } from "@lunet/lunet/bufio";
 * const server = await listen("tcp", "127.0.0.1", 0);
 * const client = await connect("127.0.0.1", server.addr.port);
 * const peer = await server.accept();
 * const out = new BufWriter(client);
 * await out.write("HELLO\r\n");
 * await out.write("WORLD\n");
 * await out.flush();
 * const input = new BufReader(peer);
 * const first = await input.readLine(), second = await input.readLine();
 * if (first !== "HELLO" || second !== "WORLD") throw new Error(`${first} ${second}`);
 * client.close();
 * peer.close();
 * server.close();
 * ```
 * @module
 */
import { ProtocolError } from "./errors.ts";
import { budget, type WaitOptions } from "./_wait.ts";

/**
 * Anything with a lunet-style `read`: a chunk, or `null` at end of stream.
 *
 * @example
 * ```ts
 * import type { Readable } from "@lunet/lunet/bufio";
 * const empty: Readable = { read: () => Promise.resolve(null) };
 * if (await empty.read() !== null) throw new Error("end of stream at once");
 * ```
 */
export interface Readable {
  /** Resolves with the next chunk, or `null` at end of stream. */
  read(opts?: WaitOptions): Promise<Uint8Array | null>;
  /**
   * Optional: reads into `dst`, resolving with the byte count or `null` at
   * end of stream. When present, {@linkcode BufReader} uses it to fill its
   * own buffer without a copy or an allocation per read.
   */
  readInto?(dst: Uint8Array, opts?: WaitOptions): Promise<number | null>;
}

/**
 * Anything with a lunet-style `write` that sends all of its data.
 *
 * @example
 * ```ts
 * import type { Writable } from "@lunet/lunet/bufio";
 * let written = 0;
 * const sink: Writable = { write: (data) => (written += data.length, Promise.resolve()) };
 * await sink.write(new Uint8Array(3));
 * if (written !== 3) throw new Error(`wrote ${written}`);
 * ```
 */
export interface Writable {
  /** Writes all of `data`. */
  write(data: Uint8Array, opts?: WaitOptions): Promise<void>;
}

/**
 * Options for the reading methods of {@linkcode BufReader}.
 *
 * @example
 * ```ts
 * import { ProtocolError } from "@lunet/lunet";
 * import { BufReader, type ReadLimitOptions } from "@lunet/lunet/bufio";
 * const opts: ReadLimitOptions = { max: 4, timeout: 500 };
 * const chunks = [new TextEncoder().encode("too long\n")];
 * const r = new BufReader({ read: () => Promise.resolve(chunks.shift() ?? null) });
 * const err = await r.readLine(opts).then(() => undefined, (e) => e);
 * if (!(err instanceof ProtocolError)) throw new Error("a line over max");
 * ```
 */
export interface ReadLimitOptions extends WaitOptions {
  /**
   * Largest accepted size in bytes, delimiter excluded.
   *
   * @default {65536}
   */
  max?: number;
}

const DEFAULT_MAX = 65536;
const INITIAL_SIZE = 4096;
const LF = 10, CR = 13;
const decoder = new TextDecoder();

function indexOfSeq(hay: Uint8Array, needle: Uint8Array, from: number, to: number): number {
  const first = needle[0];
  const last = to - needle.length;
  for (let i = hay.indexOf(first, from); i !== -1 && i <= last; i = hay.indexOf(first, i + 1)) {
    let k = 1;
    while (k < needle.length && hay[i + k] === needle[k]) k++;
    if (k === needle.length) return i;
  }
  return -1;
}

/**
 * A buffered reader over any {@linkcode Readable}. Reads never lose data:
 * whatever arrived stays buffered until a method consumes it.
 *
 * @example
 * ```ts
 * import { BufReader } from "@lunet/lunet/bufio";
 * const chunks = [new TextEncoder().encode("a,b\nrest")];
 * const r = new BufReader({ read: () => Promise.resolve(chunks.shift() ?? null) });
 * const field = await r.readUntil(","), line = await r.readLine(), rest = await r.readAll();
 * if (new TextDecoder().decode(field!) !== "a" || line !== "b") throw new Error("records");
 * if (new TextDecoder().decode(rest) !== "rest" || await r.read() !== null) throw new Error("end");
 * ```
 */
export class BufReader implements Readable {
  #src: Readable;
  #buf = new Uint8Array(INITIAL_SIZE);
  #r = 0;
  #w = 0;
  #eof = false;

  /**
   * Creates a reader that buffers what `src` returns.
   *
   * @param src the stream to read from
   */
  constructor(src: Readable) {
    this.#src = src;
  }

  /** Number of bytes buffered and not yet consumed. */
  get buffered(): number {
    return this.#w - this.#r;
  }

  /**
   * Takes the buffered bytes without reading (e.g. before switching
   * protocols).
   *
   * @returns A copy of the bytes buffered and not yet consumed (may be empty).
   */
  takeBuffered(): Uint8Array {
    return this.#take(this.#w - this.#r, 0);
  }

  // Makes room for at least `min` more bytes after the buffered ones.
  #reserve(min: number): void {
    const have = this.#w - this.#r;
    if (this.#buf.length - this.#w >= min) return;
    if (have + min <= this.#buf.length) {
      this.#buf.copyWithin(0, this.#r, this.#w);
    } else {
      let size = this.#buf.length * 2;
      while (size < have + min) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.#buf.subarray(this.#r, this.#w));
      this.#buf = next;
    }
    this.#r = 0;
    this.#w = have;
  }

  // Reads more from the source into the buffer; false at end of stream.
  async #fill(opts: WaitOptions | undefined): Promise<boolean> {
    if (this.#eof) return false;
    if (this.#src.readInto) {
      this.#reserve(Math.min(INITIAL_SIZE, this.#buf.length >> 1));
      const n = await this.#src.readInto(this.#buf.subarray(this.#w), opts);
      if (n === null) this.#eof = true;
      else this.#w += n;
      return n !== null;
    }
    const chunk = await this.#src.read(opts);
    if (chunk === null) {
      this.#eof = true;
      return false;
    }
    this.#reserve(chunk.length);
    this.#buf.set(chunk, this.#w);
    this.#w += chunk.length;
    return true;
  }

  // Consumes n bytes plus `skip` (a delimiter) and returns a copy of the n.
  #take(n: number, skip: number): Uint8Array {
    const out = this.#buf.slice(this.#r, this.#r + n);
    this.#consume(n + skip);
    return out;
  }

  #consume(n: number): void {
    this.#r += n;
    if (this.#r === this.#w) this.#r = this.#w = 0;
  }

  /**
   * Returns buffered bytes if there are any, else the next chunk of the
   * stream; `null` at end of stream.
   *
   * @param opts Timeout, deadline and abort signal of the read.
   * @throws {TimeoutError} when the timeout or deadline passes first.
   * @throws {Cancelled} when the task is cancelled or the signal aborts.
   */
  async read(opts?: WaitOptions): Promise<Uint8Array | null> {
    if (this.#w === this.#r && !(await this.#fill(opts))) return null;
    return this.#take(this.#w - this.#r, 0);
  }

  /**
   * Reads up to `delimiter` and returns the bytes before it (the delimiter
   * is consumed, not returned); `null` at end of stream with nothing
   * buffered.
   *
   * @param delimiter The bytes (or UTF-8 text) that end a record.
   * @param opts Size limit, and one budget for the whole call.
   * @throws {ProtocolError} when more than `max` bytes come without the
   * delimiter, or when the stream ends before it (with the bytes received
   * as `partial`).
   * @throws {TimeoutError} when the budget runs out; what arrived stays
   * buffered for the next call.
   * @throws {RangeError} when `delimiter` is empty.
   */
  async readUntil(
    delimiter: string | Uint8Array,
    opts?: ReadLimitOptions,
  ): Promise<Uint8Array | null> {
    const delim = typeof delimiter === "string" ? new TextEncoder().encode(delimiter) : delimiter;
    if (delim.length === 0) throw new RangeError("readUntil: empty delimiter");
    const max = opts?.max ?? DEFAULT_MAX;
    const wait = budget(opts);
    let scanned = 0;
    for (;;) {
      const from = this.#r + Math.max(0, scanned - delim.length + 1);
      const at = indexOfSeq(this.#buf, delim, from, this.#w);
      if (at !== -1 && at - this.#r <= max) return this.#take(at - this.#r, delim.length);
      scanned = this.#w - this.#r;
      if (scanned > max + delim.length - 1 || at !== -1) {
        throw new ProtocolError(`readUntil: no delimiter within ${max} bytes`);
      }
      if (!(await this.#fill(wait))) {
        if (scanned === 0) return null;
        const partial = this.#take(scanned, 0);
        throw new ProtocolError(
          `readUntil: end of stream after ${partial.length} bytes without the delimiter`,
          partial,
        );
      }
    }
  }

  /**
   * Reads one line and returns it without its `\n` or `\r\n`, decoded as
   * UTF-8; `null` at end of stream. A last line without a newline is
   * returned as is.
   *
   * @param opts Size limit, and one budget for the whole call.
   * @throws {ProtocolError} when a line exceeds `max` bytes.
   * @throws {TimeoutError} when the budget runs out; what arrived stays
   * buffered for the next call.
   */
  async readLine(opts?: ReadLimitOptions): Promise<string | null> {
    const max = opts?.max ?? DEFAULT_MAX;
    const wait = budget(opts);
    let scanned = 0;
    for (;;) {
      const at = this.#buf.subarray(0, this.#w).indexOf(LF, this.#r + scanned);
      if (at !== -1) {
        let len = at - this.#r;
        const cr = len > 0 && this.#buf[at - 1] === CR ? 1 : 0;
        len -= cr;
        if (len > max) break;
        const line = decoder.decode(this.#buf.subarray(this.#r, this.#r + len));
        this.#consume(len + 1 + cr);
        return line;
      }
      scanned = this.#w - this.#r;
      if (scanned > max + 1) break;
      if (!(await this.#fill(wait))) {
        if (scanned === 0) return null;
        const line = decoder.decode(this.#buf.subarray(this.#r, this.#w));
        this.#consume(scanned);
        return line;
      }
    }
    throw new ProtocolError(`readLine: line longer than ${max} bytes`);
  }

  /**
   * Reads exactly `n` bytes.
   *
   * @param n How many bytes.
   * @param opts One budget for the whole call.
   * @throws {ProtocolError} carrying the bytes received as `partial` when
   * the stream ends first.
   * @throws {TimeoutError} when the budget runs out; what arrived stays
   * buffered for the next call.
   * @throws {RangeError} when `n` is not a non-negative integer.
   *
   * @example A short stream
   * ```ts
   * import { ProtocolError } from "@lunet/lunet";
   * import { BufReader } from "@lunet/lunet/bufio";
   * const chunks = [new Uint8Array([1, 2])];
   * const r = new BufReader({ read: () => Promise.resolve(chunks.shift() ?? null) });
   * const err = await r.readExactly(4).then(() => undefined, (e) => e);
   * if (!(err instanceof ProtocolError) || err.partial?.length !== 2) throw err;
   * ```
   */
  async readExactly(n: number, opts?: WaitOptions): Promise<Uint8Array> {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`readExactly: bad length ${n}`);
    const wait = budget(opts);
    if (this.#w - this.#r < n) this.#reserve(n - (this.#w - this.#r));
    while (this.#w - this.#r < n) {
      if (!(await this.#fill(wait))) {
        const partial = this.#take(this.#w - this.#r, 0);
        throw new ProtocolError(
          `readExactly: end of stream after ${partial.length} of ${n} bytes`,
          partial,
        );
      }
    }
    return this.#take(n, 0);
  }

  /**
   * Reads everything up to end of stream.
   *
   * @param opts Size limit, and one budget for the whole call.
   * @throws {ProtocolError} when more than `max` bytes arrive.
   * @throws {TimeoutError} when the budget runs out.
   */
  async readAll(opts?: ReadLimitOptions): Promise<Uint8Array> {
    const max = opts?.max ?? DEFAULT_MAX;
    const wait = budget(opts);
    while (await this.#fill(wait)) {
      if (this.#w - this.#r > max) {
        throw new ProtocolError(`readAll: more than ${max} bytes`);
      }
    }
    return this.#take(this.#w - this.#r, 0);
  }
}

/**
 * A writer that gathers small writes into a buffer and sends them in one
 * write when the buffer fills or on {@linkcode BufWriter.flush}. Writes
 * larger than the buffer go straight through (after what is buffered).
 * Meant for one writer at a time.
 *
 * @example
 * ```ts
 * import { BufWriter } from "@lunet/lunet/bufio";
 * const sent: Uint8Array[] = [];
 * const w = new BufWriter({ write: (d) => (sent.push(d.slice()), Promise.resolve()) });
 * await w.write("a");
 * await w.write("b");
 * if (w.buffered !== 2) throw new Error("still buffered");
 * await w.flush();
 * const text = sent.map((d) => new TextDecoder().decode(d));
 * if (text.length !== 1 || text[0] !== "ab") throw new Error(`writes: ${text}`);
 * ```
 */
export class BufWriter {
  #dst: Writable;
  #buf: Uint8Array;
  #n = 0;
  #encoder = new TextEncoder();

  /**
   * Creates a writer that batches writes to `dst`.
   *
   * @param dst the stream to write to
   * @param size buffer size in bytes (default 16384)
   * @throws {RangeError} when `size` is not a positive integer.
   */
  constructor(dst: Writable, size = 16384) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`BufWriter: bad size ${size}`);
    this.#dst = dst;
    this.#buf = new Uint8Array(size);
  }

  /** Number of bytes waiting to be flushed. */
  get buffered(): number {
    return this.#n;
  }

  /**
   * Buffers `data` (a string as UTF-8), flushing first when it does not fit.
   *
   * @param data What to write.
   * @param opts Timeout, deadline and abort signal of a flush it causes.
   * @throws {TimeoutError} when a flush it causes does not finish in time.
   */
  async write(data: string | Uint8Array, opts?: WaitOptions): Promise<void> {
    if (typeof data === "string") {
      if (data.length * 3 <= this.#buf.length - this.#n) {
        this.#n += this.#encoder.encodeInto(data, this.#buf.subarray(this.#n)).written;
        return;
      }
      data = this.#encoder.encode(data);
    }
    if (data.length > this.#buf.length - this.#n) {
      await this.flush(opts);
      if (data.length >= this.#buf.length) return this.#dst.write(data, opts);
    }
    this.#buf.set(data, this.#n);
    this.#n += data.length;
  }

  /**
   * Sends everything buffered. Bytes written meanwhile stay buffered, and
   * a failed flush keeps its bytes, so it can be retried.
   *
   * @param opts Timeout, deadline and abort signal of the write.
   * @throws {TimeoutError} when the write does not finish in time.
   */
  async flush(opts?: WaitOptions): Promise<void> {
    if (this.#n === 0) return;
    const n = this.#n;
    await this.#dst.write(this.#buf.subarray(0, n), opts);
    // Only forget the bytes once they are written, so a failed flush can be retried.
    if (this.#n === n) this.#n = 0;
    else {
      this.#buf.copyWithin(0, n, this.#n);
      this.#n -= n;
    }
  }
}
