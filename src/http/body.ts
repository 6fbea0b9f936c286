/**
 * Request bodies: framed by Content-Length or chunked, bounded by the
 * body limit, with a stall timeout on every wait and `100 Continue` sent
 * on the first read when the client asked for it. Readable once, as
 * bytes, text, JSON, a `ReadableStream` or an async iterable of chunks.
 *
 * @module
 */
import { ChunkedDecoder } from "./_chunked.ts";
import type { Input } from "./_input.ts";
import type { HttpLimits } from "./limits.ts";
import { HttpError } from "./status.ts";
import { concat } from "../_bytes.ts";

const decoder = new TextDecoder();

/**
 * The body of one request. Data is pulled from the connection only when
 * the handler reads it.
 */
export class Body implements AsyncIterable<Uint8Array> {
  // Null once released (see `release`).
  #input: Input | null;
  #remaining: number;
  #chunked: ChunkedDecoder | null;
  #sendContinue: (() => Promise<void>) | null;
  #bodyTimeout: number;
  #used = false;
  #failed = false;
  #onEnd: (() => void) | null = null;

  /**
   * Frames a body on the connection input.
   *
   * @param input the connection input
   * @param limits the server limits
   * @param length the Content-Length (-1 when chunked, 0 when absent)
   * @param sendContinue sends `100 Continue` (when the client expects it)
   */
  constructor(
    input: Input,
    limits: HttpLimits,
    length: number,
    sendContinue: (() => Promise<void>) | null,
  ) {
    this.#input = input;
    this.#remaining = length < 0 ? 0 : length;
    this.#chunked = length < 0
      ? new ChunkedDecoder(limits.maxBodyBytes, limits.maxHeaderBytes)
      : null;
    this.#sendContinue = sendContinue;
    this.#bodyTimeout = limits.bodyTimeout;
  }

  #more(): Promise<boolean> {
    return this.#input!.more("read request body", Date.now() + this.#bodyTimeout);
  }

  /** True when the whole body has been read (or there was none). */
  get done(): boolean {
    return this.#chunked ? this.#chunked.done : this.#remaining === 0;
  }

  /** True when reading failed part-way: the connection cannot be reused. */
  get failed(): boolean {
    return this.#failed;
  }

  /**
   * Calls `fn` once, when a read reaches the end of the body (or at once
   * if it has been read); `null` takes a pending call back.
   */
  whenRead(fn: (() => void) | null): void {
    if (fn !== null && this.done && this.#used) fn();
    else this.#onEnd = fn;
  }

  #ended(): void {
    const fn = this.#onEnd;
    this.#onEnd = null;
    fn?.();
  }

  /**
   * Lets go of the connection's input once the body has been read to its
   * end: a connection taken over by its handler (see ./_upgrade.ts) no
   * longer holds the HTTP engine through its request.
   */
  release(): void {
    if (!this.done) return;
    this.#input = null;
    this.#sendContinue = null;
  }

  /** True once a read started. */
  get used(): boolean {
    return this.#used;
  }

  /** Trailer fields of a chunked body (after it was read to the end). */
  get trailers(): [string, string][] {
    return this.#chunked?.trailers ?? [];
  }

  /** Bytes still expected for a Content-Length body (0 for chunked). */
  get remaining(): number {
    return this.#remaining;
  }

  /** Returns the next piece of the body, or `null` at its end. */
  async read(): Promise<Uint8Array | null> {
    this.#used = true;
    if (this.done) return null;
    try {
      if (this.#sendContinue) {
        const send = this.#sendContinue;
        this.#sendContinue = null;
        await send();
      }
      if (this.#chunked) {
        const chunk = await this.#chunked.read(this.#input!, () => this.#more());
        if (this.#onEnd !== null && this.#chunked.done) this.#ended();
        return chunk;
      }
      const input = this.#input!;
      if (input.available === 0 && !(await this.#more())) {
        throw new HttpError(400, "body ended before Content-Length bytes");
      }
      const data = input.take(this.#remaining);
      this.#remaining -= data.length;
      if (this.#onEnd !== null && this.#remaining === 0) this.#ended();
      return data;
    } catch (err) {
      this.#failed = true;
      throw err;
    }
  }

  /** Reads the whole body into one array. */
  async bytes(): Promise<Uint8Array> {
    this.#checkUnused();
    const first = await this.read();
    if (first === null) return new Uint8Array(0);
    if (this.done) return first;
    const parts = [first];
    for (let part; (part = await this.read()) !== null;) parts.push(part);
    return concat(parts);
  }

  /** Reads the whole body as UTF-8 text. */
  async text(): Promise<string> {
    return decoder.decode(await this.bytes());
  }

  /** Reads the whole body as JSON; malformed JSON gets 400. */
  async json<T = unknown>(): Promise<T> {
    const text = await this.text();
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new HttpError(400, "malformed JSON body", { cause: err });
    }
  }

  /** The body as a `ReadableStream` of byte chunks. */
  stream(): ReadableStream<Uint8Array> {
    this.#checkUnused();
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const chunk = await this.read();
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
    });
  }

  /** Iterates over the body's chunks. */
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    this.#checkUnused();
    for (let chunk; (chunk = await this.read()) !== null;) yield chunk;
  }

  /**
   * Reads and drops what is left of the body when that is at most `max`
   * bytes away; returns false (the connection must close) otherwise.
   */
  async discard(max: number): Promise<boolean> {
    if (this.#failed) return false;
    if (this.done) return true;
    if (this.#sendContinue) return false; // the client has not sent it
    if (!this.#chunked && this.#remaining > max) return false;
    let dropped = 0;
    for (let chunk; (chunk = await this.read()) !== null;) {
      dropped += chunk.length;
      if (dropped > max) return false;
    }
    return true;
  }

  #checkUnused(): void {
    if (this.#used) throw new TypeError("request body already read");
  }
}
