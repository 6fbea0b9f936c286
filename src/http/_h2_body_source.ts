/**
 * The request body of one HTTP/2 stream as a byte stream the HTTP/1.1
 * body machinery reads: DATA payloads are queued framed with the chunked
 * coding, and the trailers (a HEADERS frame ending the stream) become the
 * chunked trailer section, so `Body` (./body.ts) — its size limit, stall
 * timeout, `trailers`, streams and helpers — serves HTTP/2 unchanged.
 * Bytes the handler reads are credited back to the peer's flow-control
 * window; queued bytes never exceed the window the server announced.
 *
 * @example
 * ```ts
 * import { H2BodySource } from "./_h2_body_source.ts";
 * const addr = { transport: "tcp" as const, hostname: "127.0.0.1", port: 1 };
 * let credited = 0;
 * const src = new H2BodySource(addr, addr, (n) => credited += n);
 * src.push(new Uint8Array([104, 105]));
 * src.end([]);
 * const buf = new Uint8Array(64);
 * const n = await src.read(buf);
 * if (new TextDecoder().decode(buf.subarray(0, n!)) !== "2\r\nhi\r\n0\r\n\r\n" || credited !== 2) {
 *   throw new Error("framed");
 * }
 * ```
 *
 * @module
 */
import { ClosedError } from "../errors.ts";
import type { SocketAddr, StreamHandle } from "../_backend/types.ts";

const encoder = new TextEncoder();
const CRLF = new Uint8Array([13, 10]);
const LAST = encoder.encode("0\r\n");

/** Queued request body bytes of one stream, read as a chunked body. */
export class H2BodySource implements StreamHandle {
  readonly local: SocketAddr;
  readonly peer: SocketAddr;
  // Pieces to read, and how many of each one's bytes are body data (credited once read).
  #pieces: Uint8Array[] = [];
  #data: number[] = [];
  #head = 0;
  #offset = 0;
  #ended = false;
  #error: unknown = undefined;
  #wake: (() => void) | null = null;
  #credit: (n: number) => void;
  /** Body bytes queued and not yet read. */
  queued = 0;

  /**
   * @param local the connection's local address
   * @param peer the client's address
   * @param credit called with the count of body bytes read (for WINDOW_UPDATE)
   */
  constructor(local: SocketAddr, peer: SocketAddr, credit: (n: number) => void) {
    this.local = local;
    this.peer = peer;
    this.#credit = credit;
  }

  /** Queues a DATA payload (the caller's copy). */
  push(data: Uint8Array): void {
    if (data.length === 0) return;
    this.#add(encoder.encode(data.length.toString(16) + "\r\n"), 0);
    this.#add(data, data.length);
    this.#add(CRLF, 0);
    this.queued += data.length;
  }

  /** Ends the body, with trailer fields `[name, value, …]`. */
  end(trailers: string[]): void {
    this.#add(LAST, 0);
    let tail = "";
    for (let i = 0; i < trailers.length; i += 2) tail += `${trailers[i]}: ${trailers[i + 1]}\r\n`;
    this.#add(encoder.encode(tail + "\r\n"), 0);
    this.#ended = true;
    this.#notify();
  }

  /** Fails reads from now on with `err` (the stream was reset). */
  fail(err: unknown): void {
    if (this.#error === undefined) this.#error = err;
    this.#notify();
  }

  /** Drops what is queued; returns the body bytes dropped (to credit the connection). */
  drop(): number {
    const n = this.queued;
    this.#pieces = [];
    this.#data = [];
    this.#head = this.#offset = this.queued = 0;
    return n;
  }

  #add(piece: Uint8Array, data: number): void {
    this.#pieces.push(piece);
    this.#data.push(data);
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  read(buf: Uint8Array): Promise<number | null> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#head < this.#pieces.length) return Promise.resolve(this.#copy(buf));
    if (this.#ended) return Promise.resolve(null);
    return new Promise<void>((resolve) => this.#wake = resolve).then(() => this.read(buf));
  }

  #copy(buf: Uint8Array): number {
    let n = 0, credited = 0;
    while (n < buf.length && this.#head < this.#pieces.length) {
      const piece = this.#pieces[this.#head];
      const take = Math.min(piece.length - this.#offset, buf.length - n);
      buf.set(piece.subarray(this.#offset, this.#offset + take), n);
      n += take;
      if (this.#data[this.#head] > 0) credited += take;
      this.#offset += take;
      if (this.#offset === piece.length) {
        this.#head++;
        this.#offset = 0;
      }
    }
    if (this.#head === this.#pieces.length) {
      this.#pieces = [];
      this.#data = [];
      this.#head = 0;
    }
    if (credited > 0) {
      this.queued -= credited;
      this.#credit(credited);
    }
    return n;
  }

  write(): Promise<number> {
    return Promise.reject(new ClosedError("write to an HTTP/2 request body"));
  }

  closeWrite(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {
    this.fail(new ClosedError("read an HTTP/2 request body"));
  }

  setNoDelay(): void {}
  setKeepAlive(): void {}
}
