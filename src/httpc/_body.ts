/**
 * Reading a response body for lunet/httpc under a byte limit: the limit is
 * checked against `Content-Length` before the first read and again as each
 * chunk arrives, so an oversized body is refused without being buffered.
 *
 * @module
 */
import { ProtocolError } from "../errors.ts";
import { isEarlyWake, race, type WaitOptions } from "../_wait.ts";
import { transportError } from "./_transport.ts";

type Chunk = ReadableStreamReadResult<Uint8Array>;

/**
 * Reads one response body chunk by chunk, counting bytes against a limit.
 *
 * @example A body within its limit, and one over it
 * ```ts
 * import { ProtocolError } from "../errors.ts";
 * import { BodyReader } from "./_body.ts";
 * const body = new BodyReader(new Response("hello"), "GET /", 10);
 * const bytes = await body.readAll();
 * if (new TextDecoder().decode(bytes) !== "hello") throw new Error("body");
 * if (body.received !== 5) throw new Error(`received ${body.received}`);
 * const stream = ReadableStream.from([new Uint8Array(12)]); // no Content-Length
 * const big = new BodyReader(new Response(stream), "GET /", 10);
 * const err = await big.read().then(() => undefined, (e) => e);
 * if (!(err instanceof ProtocolError)) throw new Error("expected ProtocolError");
 * ```
 */
export class BodyReader {
  readonly #what: string;
  readonly #limit: number;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #received = 0;
  #pending: Promise<Chunk> | undefined;
  #done = false;

  /**
   * Starts reading `response`'s body.
   *
   * @param response The response whose body to read.
   * @param what The request, for error messages (`"GET http://…"`).
   * @param limit Largest accepted body in bytes.
   * @throws {ProtocolError} when `Content-Length` exceeds `limit`.
   */
  constructor(response: Response, what: string, limit: number) {
    this.#what = what;
    this.#limit = limit;
    const declared = Number(response.headers.get("content-length") ?? NaN);
    if (declared > limit) throw tooLarge(what, limit);
    this.#reader = response.body?.getReader();
    if (!this.#reader) this.#done = true;
  }

  /** Bytes received so far. */
  get received(): number {
    return this.#received;
  }

  /**
   * The next chunk, or `null` at the end. A timed-out or cancelled read
   * keeps its in-flight chunk for the next call.
   *
   * @throws {ProtocolError} when the bytes received pass the limit.
   * @throws {TimeoutError} when the timeout or deadline passes first.
   * @throws {Cancelled} when the task is cancelled or the signal aborts.
   */
  async read(opts?: WaitOptions): Promise<Uint8Array | null> {
    if (this.#done) return null;
    const pending = this.#pending ??= this.#reader!.read().catch((err) => {
      throw transportError(err, this.#what);
    });
    let chunk: Chunk;
    try {
      chunk = await race(this.#what, pending, opts);
    } catch (err) {
      if (!isEarlyWake(err)) this.#pending = undefined;
      throw err;
    }
    this.#pending = undefined;
    if (chunk.done) {
      this.#done = true;
      return null;
    }
    this.#received += chunk.value.byteLength;
    if (this.#received > this.#limit) throw tooLarge(this.#what, this.#limit);
    return chunk.value;
  }

  /** Drops the rest of the body, letting go of its connection; idempotent. */
  cancel(): void {
    if (this.#done) return;
    this.#done = true;
    this.#reader!.cancel().catch(() => {});
  }

  /**
   * Reads to the end and returns the whole body as one array.
   *
   * @throws {ProtocolError} when the bytes received pass the limit.
   */
  async readAll(opts?: WaitOptions): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    for (let chunk; (chunk = await this.read(opts)) !== null;) chunks.push(chunk);
    if (chunks.length === 1) return chunks[0];
    const out = new Uint8Array(this.#received);
    let offset = 0;
    for (const chunk of chunks) {
      out.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return out;
  }
}

function tooLarge(what: string, limit: number): ProtocolError {
  return new ProtocolError(`${what}: response body larger than maxBodyBytes (${limit})`);
}
