/**
 * The send side of an HTTP/2 connection: frames are appended to one
 * buffer and written in batches (the frames made in one turn of the event
 * loop go out in one write), one write in flight at a time. Body writers
 * wait for {@linkcode H2Output.room} when too much is buffered, so a
 * client that reads slowly holds them back instead of growing memory;
 * `writingSince` lets the sweeper close a connection whose write stalls.
 * Writes belong to no task: whichever stream's task made the frames, its
 * cancellation does not cut the connection's output short.
 *
 * @example
 * ```ts ignore
 * import { H2Output } from "./_h2_output.ts";
 * import { PING } from "./_h2_frames.ts";
 * const out = new H2Output(conn);
 * out.frame(PING, 0, 0, new Uint8Array(8));
 * await out.flush();
 * ```
 *
 * @module
 */
import type { Conn } from "../socket.ts";
import { park, storage } from "../_wait.ts";
import { captureContext, type CapturedContext, runInContext } from "../_context.ts";
import { FRAME_HEADER, frameHeader } from "./_h2_frames.ts";

/** Buffered output above this makes body writers wait. */
const HIGH = 128 * 1024;
const FIRST_SIZE = 16 * 1024;

/** Batched frame output of one connection. */
export class H2Output {
  /** Epoch ms the write in flight started, 0 when none. */
  writingSince = 0;
  #conn: Conn;
  #buf: Uint8Array = new Uint8Array(FIRST_SIZE);
  #len = 0;
  #spare: Uint8Array | null = null;
  #writing: Promise<void> | null = null;
  #scheduled = false;
  #waiters: Array<(err?: unknown) => void> = [];
  #error: unknown = undefined;
  // The context writes run in: no task's, so that a stream's task cancelled
  // (its own RST_STREAM among the frames) does not cut the connection's write short.
  #context: CapturedContext = storage.run(undefined as never, captureContext, undefined);

  /** @param conn the connection written to */
  constructor(conn: Conn) {
    this.#conn = conn;
  }

  /** Bytes buffered and not yet handed to a write. */
  get pending(): number {
    return this.#len;
  }

  /** True when body writers should wait for {@linkcode H2Output.room}. */
  get full(): boolean {
    return this.#len >= HIGH;
  }

  /** True once a write failed: nothing more goes out. */
  get failed(): boolean {
    return this.#error !== undefined;
  }

  /** Appends a frame whose payload is `payload[start, end)` (none when `payload` is null). */
  frame(
    type: number,
    flags: number,
    stream: number,
    payload: Uint8Array | null,
    start = 0,
    end = payload === null ? 0 : payload.length,
  ): void {
    const length = end - start;
    const at = this.#reserve(FRAME_HEADER + length);
    frameHeader(this.#buf, at, length, type, flags, stream);
    if (length > 0) this.#buf.set(payload!.subarray(start, end), at + FRAME_HEADER);
    this.#schedule();
  }

  /** Appends a frame whose payload is the bytes in `payload` (a number array). */
  frameOf(
    type: number,
    flags: number,
    stream: number,
    payload: number[],
    start: number,
    end: number,
  ) {
    const length = end - start;
    const at = this.#reserve(FRAME_HEADER + length);
    const buf = this.#buf;
    frameHeader(buf, at, length, type, flags, stream);
    for (let i = start, j = at + FRAME_HEADER; i < end; i++, j++) buf[j] = payload[i];
    this.#schedule();
  }

  /** Resolves once the buffered output is below the high mark (at once when it is). */
  room(): Promise<void> | undefined {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#len < HIGH) return undefined;
    this.#kick();
    return park<void>("http2 write", undefined, (resolve, reject) => {
      const waiter = (err?: unknown) => err === undefined ? resolve() : reject(err);
      this.#waiters.push(waiter);
      return () => {
        const i = this.#waiters.indexOf(waiter);
        if (i !== -1) this.#waiters.splice(i, 1);
      };
    });
  }

  /** Writes out everything buffered; resolves once it is written. */
  async flush(): Promise<void> {
    while ((this.#len > 0 || this.#writing !== null) && this.#error === undefined) {
      this.#kick();
      await this.#writing;
    }
  }

  #reserve(n: number): number {
    const at = this.#len;
    if (at + n > this.#buf.length) {
      const grown = new Uint8Array(Math.max(2 * this.#buf.length, at + n));
      grown.set(this.#buf.subarray(0, at));
      this.#buf = grown;
    }
    this.#len = at + n;
    return at;
  }

  #schedule(): void {
    if (this.#scheduled || this.#writing !== null) return;
    this.#scheduled = true;
    queueMicrotask(this.#onTurn);
  }

  #onTurn = (): void => {
    this.#scheduled = false;
    this.#kick();
  };

  #kick(): void {
    if (this.#writing !== null || this.#len === 0 || this.#error !== undefined) return;
    const view = this.#buf.subarray(0, this.#len);
    this.#buf = this.#spare !== null && this.#spare.length >= FIRST_SIZE
      ? this.#spare
      : new Uint8Array(FIRST_SIZE);
    this.#spare = null;
    this.#len = 0;
    this.writingSince = Date.now();
    this.#writing = runInContext(this.#context, () => this.#conn.write(view)).then(() => {
      this.#writing = null;
      this.writingSince = 0;
      if (view.buffer.byteLength <= 4 * HIGH) this.#spare = new Uint8Array(view.buffer);
      this.#wake(undefined);
      this.#kick();
    }, (err) => {
      this.#writing = null;
      this.writingSince = 0;
      this.#error = err;
      this.#wake(err);
    });
  }

  #wake(err: unknown): void {
    if (err === undefined && this.#len >= HIGH) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w(err);
  }
}
