/**
 * The receive side of an HTTP connection: the bytes received but not yet
 * consumed, one socket read in flight at most, a deadline the server's
 * sweeper enforces, and an optional watch that reports the client going
 * away while a handler runs.
 *
 * @module
 */
import { park } from "../task.ts";
import type { Conn } from "../socket.ts";

const EMPTY = new Uint8Array(0);

/**
 * Buffered input of one connection. Unconsumed bytes are
 * `buf[start, end)`; {@linkcode Input.more} waits for more.
 */
export class Input {
  /** Holds the unconsumed bytes. */
  buf: Uint8Array = EMPTY;
  /** Index of the first unconsumed byte. */
  start = 0;
  /** Index just past the last received byte. */
  end = 0;
  /** True once the peer ended its side. */
  eof = false;
  /** Absolute time (epoch ms) the current wait must end by, 0 for none. */
  deadline = 0;
  /** What the current wait is for, used to name a timeout. */
  waitingFor = "";
  #conn: Conn;
  #pending: Promise<void> | null = null;
  #error: unknown = undefined;
  #interrupt: ((err: unknown) => void) | null = null;
  #onGone: (() => void) | null = null;
  #watchLimit = 0;
  #arrived = (chunk: Uint8Array | null): void => {
    this.#pending = null;
    if (chunk === null) this.eof = true;
    else this.#append(chunk);
    if (this.#onGone) {
      if (this.eof) this.#gone();
      else if (this.end - this.start < this.#watchLimit) this.#read();
    }
  };
  #failed = (err: unknown): void => {
    this.#pending = null;
    this.#error = err;
    if (this.#onGone) this.#gone();
  };

  /** @param conn the connection to read from */
  constructor(conn: Conn) {
    this.#conn = conn;
  }

  /** Number of unconsumed bytes. */
  get available(): number {
    return this.end - this.start;
  }

  #append(chunk: Uint8Array): void {
    if (this.start === this.end) {
      this.buf = chunk;
      this.start = 0;
      this.end = chunk.length;
      return;
    }
    const n = this.end - this.start;
    const joined = new Uint8Array(n + chunk.length);
    joined.set(this.buf.subarray(this.start, this.end));
    joined.set(chunk, n);
    this.buf = joined;
    this.start = 0;
    this.end = joined.length;
  }

  #read(): Promise<void> {
    return this.#pending ??= this.#conn.read().then(this.#arrived, this.#failed);
  }

  #gone(): void {
    const onGone = this.#onGone!;
    this.#onGone = null;
    onGone();
  }

  /**
   * Waits until more bytes arrive (true) or the peer ends its side
   * (false). `deadline` (epoch ms) is enforced by the server's sweeper
   * through {@linkcode Input.interrupt}; `what` names the wait in the error.
   */
  async more(what: string, deadline: number): Promise<boolean> {
    if (this.#error !== undefined) throw this.#error;
    if (this.eof) return false;
    const before = this.end - this.start;
    this.waitingFor = what;
    this.deadline = deadline;
    try {
      while (this.end - this.start === before && !this.eof) {
        const pending = this.#read();
        await park<void>(what, undefined, (resolve, reject) => {
          this.#interrupt = reject;
          pending.then(resolve);
        });
        if (this.#error !== undefined) throw this.#error;
      }
    } finally {
      this.#interrupt = null;
      this.deadline = 0;
    }
    return this.end - this.start > before;
  }

  /** Wakes the current {@linkcode Input.more} with `err` (used for timeouts). */
  interrupt(err: unknown): void {
    this.#interrupt?.(err);
  }

  /** Consumes `n` bytes. */
  skip(n: number): void {
    this.start += n;
    if (this.start === this.end) {
      this.buf = EMPTY;
      this.start = this.end = 0;
    }
  }

  /**
   * Takes up to `max` unconsumed bytes as a view (the caller owns them).
   */
  take(max: number): Uint8Array {
    const n = Math.min(max, this.end - this.start);
    const out = this.buf.subarray(this.start, this.start + n);
    this.skip(n);
    return out;
  }

  /**
   * Keeps a read in flight while a handler runs, buffering what arrives
   * (up to `limit` bytes), and calls `onGone` once if the peer ends its
   * side or the connection fails meanwhile.
   */
  watch(onGone: () => void, limit: number): void {
    if (this.eof || this.#error !== undefined) {
      onGone();
      return;
    }
    this.#onGone = onGone;
    this.#watchLimit = limit;
    if (this.end - this.start < limit) this.#read();
  }

  /** Stops watching. */
  unwatch(): void {
    this.#onGone = null;
  }
}
