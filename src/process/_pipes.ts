/**
 * A child's stdio streams: {@linkcode OutputPipe} (stdout, stderr) and
 * {@linkcode InputPipe} (stdin), made by the child process handle.
 *
 * @module
 */
import { fromDenoError } from "../errors.ts";
import { race, type WaitOptions } from "../_wait.ts";
import { concat } from "../_bytes.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

let makeOutput: (stream: ReadableStream<Uint8Array>, what: string) => OutputPipe;
let makeInput: (stream: WritableStream<Uint8Array>, what: string) => InputPipe;

/**
 * A child's stdout or stderr. One reader at a time; a read that is
 * cancelled or times out keeps its request, and the next read returns its
 * bytes.
 *
 * Reads take `{ timeout, deadline, signal }` and then reject with
 * `TimeoutError` or `Cancelled`; giving up a read never stops the child.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { spawnProcess } from "@lunet/lunet/process";
 * await using child = spawnProcess("printf", ["a\nb\n"]);
 * equal(await child.stdout!.text(), "a\nb\n");
 * ```
 */
export class OutputPipe {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  #what: string;
  #ended = false;

  static {
    makeOutput = (stream, what) => new OutputPipe(stream, what);
  }

  /** @ignore */
  private constructor(stream: ReadableStream<Uint8Array>, what: string) {
    this.#reader = stream.getReader();
    this.#what = what;
  }

  /**
   * The next chunk the child wrote.
   *
   * @param opts Timeout, deadline and abort signal of the wait.
   * @returns The chunk, or `null` once the child closed the stream (or
   * after {@linkcode OutputPipe.cancel}).
   */
  async read(opts?: WaitOptions): Promise<Uint8Array | null> {
    if (this.#ended) return null;
    // A read that is given up stays in #pending for the next call; a failed one is dropped.
    const pending = this.#pending ??= this.#reader.read().catch((err) => {
      this.#pending = undefined;
      throw err;
    });
    let result: ReadableStreamReadResult<Uint8Array>;
    try {
      result = await race(this.#what, pending, opts);
    } catch (err) {
      throw fromDenoError(err, this.#what, "");
    }
    this.#pending = undefined;
    if (result.done) {
      this.#ended = true;
      return null;
    }
    return result.value;
  }

  /**
   * Everything until the child closes the stream.
   *
   * @param opts Timeout, deadline and abort signal of each read.
   * @returns The bytes, joined.
   */
  async bytes(opts?: WaitOptions): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    for (let chunk; (chunk = await this.read(opts)) !== null;) parts.push(chunk);
    return concat(parts);
  }

  /**
   * Everything until the child closes the stream, decoded as UTF-8.
   *
   * @param opts Timeout, deadline and abort signal of each read.
   * @returns The text.
   */
  async text(opts?: WaitOptions): Promise<string> {
    return decoder.decode(await this.bytes(opts));
  }

  /** Stops reading and releases the pipe; later reads return `null`. */
  async cancel(): Promise<void> {
    this.#ended = true;
    await this.#reader.cancel().catch(() => {});
  }
}

/**
 * A child's stdin, when started with `stdin: "piped"`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { spawnProcess } from "@lunet/lunet/process";
 * await using child = spawnProcess("cat", [], { stdin: "piped" });
 * equal(await child.stdin!.write("echo"), 4);
 * await child.stdin!.close();
 * equal(await child.stdout!.text(), "echo");
 * ```
 */
export class InputPipe {
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #what: string;

  static {
    makeInput = (stream, what) => new InputPipe(stream, what);
  }

  /** @ignore */
  private constructor(stream: WritableStream<Uint8Array>, what: string) {
    this.#writer = stream.getWriter();
    this.#what = what;
  }

  /**
   * Writes all of `data`. A write whose wait gives up early still
   * completes, in order.
   *
   * @param data The bytes, or a string written as UTF-8.
   * @param opts Timeout, deadline and abort signal of the wait.
   * @returns The number of bytes written: all of them.
   * @throws {ConnectionReset} The child closed its stdin (broken pipe).
   */
  async write(data: Uint8Array | string, opts?: WaitOptions): Promise<number> {
    const buf = typeof data === "string" ? encoder.encode(data) : data;
    try {
      await race(this.#what, this.#writer.write(buf), opts);
    } catch (err) {
      throw fromDenoError(err, this.#what, "");
    }
    return buf.length;
  }

  /**
   * Closes stdin once what was written has been delivered (the child sees
   * EOF).
   *
   * @param opts Timeout, deadline and abort signal of the wait.
   */
  async close(opts?: WaitOptions): Promise<void> {
    try {
      await race(this.#what, this.#writer.close(), opts);
    } catch (err) {
      throw fromDenoError(err, this.#what, "");
    }
  }

  /** Closes stdin at once, dropping what is not yet delivered. */
  async abort(): Promise<void> {
    await this.#writer.abort().catch(() => {});
  }
}

/** Wraps a child's stdout or stderr (the constructor is private). */
export function newOutputPipe(stream: ReadableStream<Uint8Array>, what: string): OutputPipe {
  return makeOutput(stream, what);
}

/** Wraps a child's stdin (the constructor is private). */
export function newInputPipe(stream: WritableStream<Uint8Array>, what: string): InputPipe {
  return makeInput(stream, what);
}
