/**
 * The send side of an HTTP connection: response heads serialised straight
 * into a reusable buffer, small bodies copied next to them, and pipelined
 * responses written in one batch. Bodies of unknown length are framed
 * with the chunked coding (HTTP/1.1) or delimited by closing (HTTP/1.0).
 * The buffers and caches the outputs of one server share live in its
 * {@linkcode OutputPool}.
 *
 * @module
 */
import { type Conn, type StreamCore, streamCore } from "../_conn.ts";
import { chunkPrefix, LAST_CHUNK } from "./_chunked.ts";
import { JSON_HEADERS, TEXT_HEADERS } from "./response.ts";
import { statusText } from "./status.ts";

const encoder = new TextEncoder();
/** Buffered output above this is written out at once. */
const FLUSH_AT = 64 * 1024;
/** Bodies larger than this are written from their own array, not copied. */
const COPY_MAX = 16 * 1024;
/** Size of a pooled output buffer. */
const BUF_SIZE = 4096;
/** Most spare output buffers kept for reuse. */
const SPARE_MAX = 1024;
const EMPTY: Uint8Array = new Uint8Array(0);
/** Response heads up to this size are remembered for the next response. */
const HEAD_MEMO_MAX = 1024;

/**
 * What the outputs of one server share: pooled output buffers, the
 * scratch text bodies are encoded into, the last response head, the
 * status lines and the date. Owned by the server, handed to each
 * {@linkcode Output}.
 */
export class OutputPool {
  /**
   * Spare output buffers: a connection holds one only while it has output
   * to send, so connections set up nothing per accept and idle keep-alive
   * connections pin no buffer.
   */
  spare: Uint8Array[] = [];
  /** Text bodies up to COPY_MAX are encoded here, then copied at once. */
  scratch: Uint8Array = new Uint8Array(COPY_MAX * 3);
  /**
   * The text body last encoded into `scratch`, and its bytes there: a
   * repeated body is copied, not encoded again.
   */
  lastBody = "";
  lastBodyBytes: Uint8Array = EMPTY;
  /**
   * The last fixed response head and what it was built from: a head with
   * the same status, header block, length, ending and date is copied, not
   * built and encoded again.
   */
  headMemo: Uint8Array = new Uint8Array(HEAD_MEMO_MAX);
  memoStatus = 0;
  memoHeaders = "";
  memoLength = -2;
  memoEnding = "";
  memoDate = "";
  memoBytes: Uint8Array = EMPTY;
  /**
   * The view of the output last written out: pooled buffers come back,
   * often with the same length to send.
   */
  flushBuf: Uint8Array = EMPTY;
  flushView: Uint8Array = EMPTY;
  #dateSecond = 0;
  #dateText = "";
  #dateHeld = false;

  /**
   * While `held`, {@linkcode OutputPool.date} reads the clock no more:
   * the responses of one synchronous batch share a date.
   */
  holdDate(held: boolean): void {
    if (held) this.date();
    this.#dateHeld = held;
  }
  #statusLines = new Map<number, string>();

  /** The current time as an HTTP date, recomputed once a second. */
  date(): string {
    if (this.#dateHeld) return this.#dateText;
    const now = Date.now();
    const second = (now / 1000) | 0;
    if (second !== this.#dateSecond) {
      this.#dateSecond = second;
      this.#dateText = new Date(now).toUTCString();
    }
    return this.#dateText;
  }

  /** The status line of `status`, remembered (for up to 1000 codes). */
  statusLine(status: number): string {
    let line = this.#statusLines.get(status);
    if (line === undefined) {
      line = `HTTP/1.1 ${status} ${statusText(status)}\r\n`;
      if (this.#statusLines.size < 1000) this.#statusLines.set(status, line);
    }
    return line;
  }
}

const blockCache = new Map<unknown, string>([
  [JSON_HEADERS, "content-type: application/json\r\n"],
  [TEXT_HEADERS, "content-type: text/plain; charset=utf-8\r\n"],
]);

// The last frozen header list serialised (a list response.ts remembered), and its block.
let lastList: unknown = undefined;
let lastBlock = "";

/** Serialised header lines of `headers` (validated when the response was built). */
export function headerBlock(headers: ReadonlyArray<readonly [string, string]>): string {
  if (headers === lastList) return lastBlock;
  const cached = blockCache.get(headers);
  if (cached !== undefined) return cached;
  let s = "";
  for (let i = 0; i < headers.length; i++) s += headers[i][0] + ": " + headers[i][1] + "\r\n";
  if (Object.isFrozen(headers) && headers.every(Object.isFrozen)) {
    lastList = headers;
    lastBlock = s;
  }
  return s;
}

const KEEP = "\r\n\r\n";
const CLOSE = "\r\nconnection: close\r\n\r\n";
const KEEP_10 = "\r\nconnection: keep-alive\r\n\r\n";

/**
 * The end of a response head: the Date line's CRLF, the Connection field
 * when one is needed (`close`, or `keep-alive` for HTTP/1.0), and the
 * blank line.
 */
export function headEnding(keepAlive: boolean, minor: number): string {
  return keepAlive ? (minor === 1 ? KEEP : KEEP_10) : CLOSE;
}

/**
 * Output buffer of one connection. Writes go through {@linkcode
 * Output.flush}; `deadline` is set while a write is in progress so the
 * server's sweeper can close a connection whose peer stopped reading.
 */
export class Output {
  #conn: StreamCore;
  #pool: OutputPool;
  #buf: Uint8Array = EMPTY;
  #len = 0;
  #stall: number;
  /** Absolute time (epoch ms) the current write must end by, 0 for none. */
  deadline = 0;

  /**
   * @param conn the connection to write to
   * @param stallTimeout how long one write may take (ms)
   * @param pool the buffers and caches of the server
   */
  constructor(conn: Conn, stallTimeout: number, pool: OutputPool) {
    this.#conn = streamCore(conn);
    this.#stall = stallTimeout;
    this.#pool = pool;
  }

  /** Holds the date of the responses appended until released (see {@linkcode OutputPool.holdDate}). */
  holdDate(held: boolean): void {
    this.#pool.holdDate(held);
  }

  /** Bytes waiting to be written. */
  get pending(): number {
    return this.#len;
  }

  /** The connection's stream, for a body sent past the buffer (a file). */
  get core(): StreamCore {
    return this.#conn;
  }

  /** Appends a response head announcing a body of `length` bytes sent apart (a file). */
  sizedHead(status: number, headers: string, length: number, ending: string): void {
    this.#head(status, headers, length, ending);
  }

  #reserve(n: number): void {
    const need = this.#len + n;
    if (need <= this.#buf.length) return;
    if (this.#buf === EMPTY && need <= BUF_SIZE) {
      this.#buf = this.#pool.spare.pop() ?? new Uint8Array(BUF_SIZE);
      return;
    }
    let size = Math.max(this.#buf.length * 2, BUF_SIZE);
    while (size < need) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#buf.subarray(0, this.#len));
    this.#buf = grown;
  }

  /** Appends text as UTF-8. */
  text(s: string): void {
    // UTF-8 needs at most 3 bytes per UTF-16 unit.
    this.#reserve(s.length * 3);
    this.#len += encoder.encodeInto(s, this.#buf.subarray(this.#len)).written;
  }

  /** Appends bytes. */
  bytes(b: Uint8Array): void {
    this.#reserve(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
  }

  /**
   * Appends a complete response with a known body: the head (status line,
   * headers, Content-Length, Date, then `ending` from
   * {@linkcode headEnding}) and, unless `omitBody`, the body.
   */
  fixed(
    status: number,
    headers: string,
    body: string | Uint8Array | null,
    ending: string,
    omitBody: boolean,
  ): Promise<void> | undefined {
    let bytes: Uint8Array | null = null;
    let copy = true;
    if (typeof body === "string") {
      if (body.length > COPY_MAX) {
        bytes = encoder.encode(body);
        copy = false;
      } else if (body.length !== 0) {
        const pool = this.#pool;
        if (body !== pool.lastBody) {
          const scratch = pool.scratch;
          pool.lastBodyBytes = scratch.subarray(0, encoder.encodeInto(body, scratch).written);
          pool.lastBody = body;
        }
        bytes = pool.lastBodyBytes;
      }
    } else if (body !== null) {
      bytes = body;
      copy = body.length <= COPY_MAX;
    }
    const noBody = status < 200 || status === 204 || status === 304;
    this.#head(status, headers, noBody ? -1 : bytes === null ? 0 : bytes.length, ending);
    if (bytes === null || omitBody || noBody) return undefined;
    if (copy) {
      this.bytes(bytes);
      return undefined;
    }
    return this.#flushThen(bytes);
  }

  // Appends a fixed response head (`length` -1: no Content-Length),
  // copying the last one when it is the same.
  #head(status: number, headers: string, length: number, ending: string): void {
    const pool = this.#pool;
    const date = pool.date();
    if (
      status === pool.memoStatus && length === pool.memoLength && headers === pool.memoHeaders &&
      ending === pool.memoEnding && date === pool.memoDate
    ) {
      this.bytes(pool.memoBytes);
      return;
    }
    let head = pool.statusLine(status) + headers;
    if (length !== -1) head += "content-length: " + length + "\r\n";
    head += "date: " + date + ending;
    const start = this.#len;
    this.text(head);
    const n = this.#len - start;
    if (n > HEAD_MEMO_MAX) return;
    pool.headMemo.set(this.#buf.subarray(start, this.#len));
    pool.memoBytes = pool.headMemo.subarray(0, n);
    pool.memoStatus = status;
    pool.memoHeaders = headers;
    pool.memoLength = length;
    pool.memoEnding = ending;
    pool.memoDate = date;
  }

  async #flushThen(bytes: Uint8Array): Promise<void> {
    await this.flush();
    await this.#write(bytes);
  }

  /**
   * Appends a response head for a body of unknown length: chunked when
   * `chunked`, otherwise delimited by closing the connection.
   */
  streamHead(status: number, headers: string, chunked: boolean, ending: string): void {
    const pool = this.#pool;
    let head = pool.statusLine(status) + headers;
    if (chunked) head += "transfer-encoding: chunked\r\n";
    head += "date: " + pool.date() + ending;
    this.text(head);
  }

  /** Appends a body piece, framed as a chunk when `chunked`; writes out when large. */
  async piece(data: Uint8Array | string, chunked: boolean): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    if (bytes.length === 0) return;
    if (chunked) this.text(chunkPrefix(bytes.length));
    if (bytes.length <= COPY_MAX) {
      this.bytes(bytes);
      if (chunked) this.text("\r\n");
      if (this.#len >= COPY_MAX) await this.flush();
      return;
    }
    await this.flush();
    await this.#write(bytes);
    if (chunked) this.text("\r\n");
  }

  /** Writes `data` as it is, after what is buffered (the socket keeps writes in order). */
  async direct(data: Uint8Array): Promise<void> {
    await this.#write(data);
  }

  /** Appends the last chunk. */
  end(): void {
    this.text(LAST_CHUNK);
  }

  /** True when enough is buffered that it should be written now. */
  get full(): boolean {
    return this.#len >= FLUSH_AT;
  }

  /**
   * Writes out everything buffered; `undefined` when the socket took it
   * at once, else a promise of the write.
   */
  flush(): Promise<void> | undefined {
    if (this.#len === 0) return undefined;
    const buf = this.#buf, pool = this.#pool;
    if (buf !== pool.flushBuf || this.#len !== pool.flushView.length) {
      pool.flushBuf = buf;
      pool.flushView = buf.subarray(0, this.#len);
    }
    const data = pool.flushView;
    this.#len = 0;
    this.#flushing = buf;
    const pending = this.#write(data);
    if (pending === undefined) this.#written();
    return pending;
  }

  // Written out: returns the buffer to the pool unless output came meanwhile.
  #recycle(buf: Uint8Array): void {
    if (this.#len === 0 && this.#buf === buf) {
      this.#buf = EMPTY;
      const spare = this.#pool.spare;
      if (buf.length === BUF_SIZE && spare.length < SPARE_MAX) spare.push(buf);
    }
  }

  // Writes `data`; `undefined` when the socket took it at once. While the
  // write waits, `deadline` lets the sweeper close a stalled connection.
  #write(data: Uint8Array): Promise<void> | undefined {
    const pending = this.#conn.writeNow(data);
    if (pending === undefined) return undefined;
    this.deadline = Date.now() + this.#stall;
    return pending.then(this.#written, this.#unstall);
  }

  // The buffer flush() is writing out, pooled again once written.
  #flushing: Uint8Array = EMPTY;
  #written = (): void => {
    this.deadline = 0;
    const buf = this.#flushing;
    if (buf === EMPTY) return;
    this.#flushing = EMPTY;
    this.#recycle(buf);
  };
  #unstall = (err: unknown): never => {
    this.deadline = 0;
    this.#flushing = EMPTY;
    throw err;
  };
}
