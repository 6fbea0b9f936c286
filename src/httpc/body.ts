/**
 * Reading a response body for lunet/httpc under a byte limit: the limit is
 * checked against `Content-Length` before the first read and again as each
 * chunk arrives, so an oversized body is refused without being buffered.
 *
 * @module
 */
import { ProtocolError } from "../errors.ts";
import { isEarlyWake, race, type WaitOptions } from "../_wait.ts";
import { transportError } from "./transport.ts";

type Chunk = ReadableStreamReadResult<Uint8Array>;

/** Reads one response body chunk by chunk, counting bytes against a limit. */
export class BodyReader {
  readonly #what: string;
  readonly #limit: number;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #received = 0;
  #pending: Promise<Chunk> | undefined;
  #done = false;

  /** Throws {@linkcode ProtocolError} when `Content-Length` exceeds `limit`. */
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

  /** Reads to the end and returns the whole body as one array. */
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
