/**
 * The receive side of an HTTP connection: the bytes received but not yet
 * consumed, one socket read in flight at most, a deadline the server's
 * sweeper enforces, and an optional watch that reports the client going
 * away while a handler runs.
 *
 * @module
 */
import { captureContext, type CapturedContext, runInContext } from "../_context.ts";
import { park } from "../_wait.ts";
import { type Conn, type StreamCore, streamCore } from "../_conn.ts";

const EMPTY = new Uint8Array(0);
/** Size of a shared read arena. */
const ARENA_SIZE = 64 * 1024;
/** Least room a read gets in the arena. */
const MIN_READ = 4 * 1024;

/**
 * With readiness waits (`ffi`), every connection of a server reads into
 * the server's one read arena, at its top: bytes once read are never
 * overwritten, so request heads and body pieces can keep views into it,
 * and a new arena is started when the room runs short (the old one lives
 * on while views into it do). An idle connection pins nothing.
 */
export class ReadArena {
  /** The current arena. */
  buf: Uint8Array = EMPTY;
  /** Index of its first byte not read into yet. */
  top = 0;
  /** The arena from `roomAt` on, kept while `top` stays (a wait reads there twice). */
  room: Uint8Array = EMPTY;
  roomAt = -1;
}
/** First size of a connection's own buffer (backends without readiness waits). */
const OWN_SIZE = 4 * 1024;
/** Largest size of a connection's own buffer. */
const OWN_MAX = 256 * 1024;

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
  #conn: StreamCore;
  // Readiness waits (`ffi`): reads go straight into the server's arena.
  #pollable: boolean;
  #arena: ReadArena;
  // Without readiness waits (`deno`): reads go into the connection's own
  // buffer at `#ownTop`, which only grows, so views into it stay valid; a
  // new buffer is started when the room runs short.
  #own = EMPTY;
  #ownTop = 0;
  #ownSize = OWN_SIZE;
  #pending: Promise<void> | null = null;
  #error: unknown = undefined;
  #interrupt: ((err: unknown) => void) | null = null;
  #onGone: (() => void) | null = null;
  #watchLimit = 0;
  #endIsGone = false;
  #arrived = (n: number | null): void => {
    this.#pending = null;
    if (n === null) this.eof = true;
    else {
      if (n === this.#own.length - this.#ownTop) {
        this.#ownSize = Math.min(4 * this.#ownSize, OWN_MAX);
      } else if (n < MIN_READ >> 2) this.#ownSize = OWN_SIZE;
      if (this.start === this.end) {
        this.buf = this.#own;
        this.start = this.end = this.#ownTop;
      }
      this.end += n;
      this.#ownTop += n;
    }
    const resolve = this.#resolveWait;
    if (resolve !== null) {
      if (!this.eof && this.end - this.start === this.#before) this.#read();
      else this.#stepped();
    }
    if (this.#onGone) {
      if (this.eof) this.#ended();
      else if (this.end - this.start < this.#watchLimit) this.#read();
    }
  };
  // Bytes (or the end) came for a wait of more(): hands them to its
  // step, if any, then waits on while the step consumed them all, or
  // settles the wait.
  #stepped(): void {
    const step = this.#step;
    if (step === null || this.eof) return this.#afterStep(undefined);
    const context = this.#context, id = this.#waitId;
    this.#stepWaitId = id;
    let kept;
    try {
      // Readiness callbacks come from outside the waiting task.
      kept = !this.#pollable ? step() : context ? runInContext(context, step) : false;
    } catch (err) {
      return this.#stepFailed(err);
    }
    if (this.#waitId !== id) return; // Ended meanwhile.
    if (typeof kept === "boolean") this.#afterStep(kept);
    else kept.then(this.#stepDone, this.#stepFailed);
  }
  #afterStep(kept: boolean | undefined): void {
    const resolve = this.#resolveWait;
    if (resolve === null) return;
    if (kept) {
      if (this.#pollable) this.#conn.onReadable(this.#woken);
      else this.#read();
      return;
    }
    const more = kept === false || this.end - this.start > this.#before;
    if (this.#pollable) this.#endWait();
    else this.#endOwnWait();
    resolve(more);
  }
  // A step's promise settled: unless the wait ended meanwhile, go on.
  #stepWaitId = -1;
  #stepDone = (kept: boolean): void => {
    if (this.#stepWaitId === this.#waitId) this.#afterStep(kept);
  };
  #stepFailed = (err: unknown): void => {
    const reject = this.#interrupt;
    if (reject === null || this.#stepWaitId !== this.#waitId) return;
    if (this.#pollable) this.#endWait();
    else this.#endOwnWait();
    reject(err);
  };
  #failed = (err: unknown): void => {
    this.#pending = null;
    this.#error = err;
    const reject = this.#interrupt;
    if (reject !== null) {
      this.#endOwnWait();
      reject(err);
    }
    if (this.#onGone) this.#gone();
  };
  // The wait of more() without readiness waits.
  #startOwnWait = (
    resolve: (more: boolean) => void,
    reject: (err: unknown) => void,
  ): () => void => {
    this.#resolveWait = resolve;
    this.#interrupt = reject;
    this.#read();
    return this.#endOwnWait;
  };
  #endOwnWait = (): void => {
    this.#resolveWait = this.#interrupt = this.#step = null;
    this.deadline = 0;
  };

  // The wait of more() with readiness waits: `#woken` reads as soon as the
  // socket is readable and settles the parked wait with the result.
  #before = 0;
  #step: (() => boolean | Promise<boolean>) | null = null;
  // Counts the waits of more(), so a late step result finds out whether its
  // wait is still the current one.
  #waitId = 0;
  #context: CapturedContext | undefined = undefined;
  #resolveWait: ((more: boolean) => void) | null = null;
  #startWait = (resolve: (more: boolean) => void, reject: (err: unknown) => void): () => void => {
    this.#resolveWait = resolve;
    this.#interrupt = reject;
    this.#conn.onReadable(this.#woken);
    return this.#stopWait;
  };
  #stopWait = (): void => {
    this.#conn.onReadable(undefined);
    this.#endWait();
  };
  #woken = (): void => {
    const resolve = this.#resolveWait;
    if (resolve === null) return;
    let got;
    try {
      got = this.#tryFill();
    } catch (err) {
      const reject = this.#interrupt!;
      this.#endWait();
      reject(err);
      return;
    }
    if (!got) {
      this.#conn.onReadable(this.#woken);
      return;
    }
    this.#stepped();
  };
  #watchWake = (): void => {
    if (this.#onGone === null) return;
    try {
      this.#tryFill();
    } catch {
      // Kept in #error, reported below.
    }
    if (this.#error !== undefined) this.#gone();
    else if (this.eof) this.#ended();
    else if (this.end - this.start < this.#watchLimit) this.#conn.onReadable(this.#watchWake);
  };

  /**
   * @param conn the connection to read from
   * @param arena the server's read arena
   */
  constructor(conn: Conn, arena: ReadArena) {
    this.#conn = streamCore(conn);
    this.#pollable = this.#conn.pollable;
    this.#arena = arena;
  }

  /** Number of unconsumed bytes. */
  get available(): number {
    return this.end - this.start;
  }

  // Reads what has arrived into the arena (readiness waits): true when
  // bytes or the end of stream came, false when nothing has.
  #fill(): boolean {
    const a = this.#arena;
    const n0 = this.end - this.start;
    if (this.buf !== a.buf || this.end !== a.top || a.buf.length - a.top < MIN_READ) {
      // Move the unconsumed bytes (usually none) to the arena's top.
      const from = this.buf, start = this.start;
      if (a.buf.length - a.top < n0 + MIN_READ) {
        a.buf = new Uint8Array(Math.max(ARENA_SIZE, 2 * (n0 + MIN_READ)));
        a.top = 0;
      }
      const arena = a.buf;
      if (n0 > 0) arena.set(from.subarray(start, start + n0), a.top);
      this.buf = arena;
      this.start = a.top;
      this.end = a.top += n0;
    }
    if (a.roomAt !== a.top || a.room.buffer !== a.buf.buffer) {
      a.room = a.buf.subarray(a.top);
      a.roomAt = a.top;
    }
    const n = this.#conn.readNow(a.room);
    if (n === -1) return false;
    if (n === null) this.eof = true;
    else {
      this.end += n;
      a.top += n;
    }
    return true;
  }

  // #fill, keeping its failure for every later call.
  #tryFill(): boolean {
    try {
      return this.#fill();
    } catch (err) {
      this.#error = err;
      throw err;
    }
  }

  // Starts a read into the own buffer unless one is in flight.
  #read(): void {
    if (this.#pending !== null) return;
    const n0 = this.end - this.start;
    if (this.#own.length - this.#ownTop < MIN_READ) {
      // Start a new buffer, sized to the traffic, with the unconsumed bytes.
      const own = new Uint8Array(Math.max(this.#ownSize, 2 * (n0 + MIN_READ)));
      if (n0 > 0) own.set(this.buf.subarray(this.start, this.end));
      this.#own = own;
      this.#ownTop = n0;
      if (n0 > 0) {
        this.buf = own;
        this.start = 0;
        this.end = n0;
      }
    }
    this.#pending = this.#conn.readSome(this.#own.subarray(this.#ownTop)).then(
      this.#arrived,
      this.#failed,
    );
  }

  #gone(): void {
    const onGone = this.#onGone!;
    this.#onGone = null;
    onGone();
  }

  // The peer ended its side while watched.
  #ended(): void {
    if (this.#endIsGone) this.#gone();
    else this.#onGone = null;
  }

  /**
   * Waits until more bytes arrive (true) or the peer ends its side
   * (false). `deadline` (epoch ms) is enforced by the server's sweeper
   * through {@linkcode Input.interrupt}; `what` names the wait in the error.
   *
   * With `step`, bytes that arrive are first handed to `step`, called in
   * the caller's async context: it consumes what it can and returns true
   * to go on waiting (it may move `deadline`), false to end the wait with
   * true, or a promise of either (nothing is read until it settles). A
   * throw or a rejection ends the wait with that error.
   */
  more(
    what: string,
    deadline: number,
    step?: () => boolean | Promise<boolean>,
  ): Promise<boolean> {
    this.#waitId++;
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.eof) return Promise.resolve(false);
    const before = this.end - this.start;
    if (!this.#pollable) {
      this.#step = step ?? null;
      this.#before = before;
      this.waitingFor = what;
      this.deadline = deadline;
      return park(what, undefined, this.#startOwnWait);
    }
    let got;
    try {
      got = this.#tryFill();
    } catch (err) {
      return Promise.reject(err);
    }
    if (got) return Promise.resolve(this.end - this.start > before);
    this.#before = before;
    this.waitingFor = what;
    this.deadline = deadline;
    this.#step = step ?? null;
    if (step !== undefined) this.#context = captureContext();
    return park(what, undefined, this.#startWait);
  }

  // Ends a wait of more() with readiness waits.
  #endWait(): void {
    this.#resolveWait = this.#interrupt = this.#step = null;
    this.#context = undefined;
    this.deadline = 0;
    if (this.#onGone !== null) this.#conn.onReadable(this.#watchWake);
  }

  /** Wakes the current {@linkcode Input.more} with `err` (used for timeouts). */
  interrupt(err: unknown): void {
    const interrupt = this.#interrupt;
    if (interrupt === null) return;
    if (this.#pollable) {
      this.#conn.onReadable(undefined);
      this.#endWait();
    } else this.#endOwnWait();
    interrupt(err);
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
   * (up to `limit` bytes), and calls `onGone` once if the connection fails
   * (is reset) meanwhile, or, when `endIsGone`, if the peer ends its side.
   * A peer that ended its side before the watch began is a half-closed
   * client waiting for its response: that is never reported.
   */
  watch(onGone: () => void, limit: number, endIsGone: boolean): void {
    if (this.#error !== undefined) {
      onGone();
      return;
    }
    if (this.eof) return;
    this.#onGone = onGone;
    this.#watchLimit = limit;
    this.#endIsGone = endIsGone;
    if (this.end - this.start >= limit) return;
    if (this.#pollable) this.#conn.onReadable(this.#watchWake);
    else this.#read();
  }

  /** Stops watching. */
  unwatch(): void {
    if (this.#onGone === null) return;
    this.#onGone = null;
    if (this.#pollable) this.#conn.onReadable(undefined);
  }
}
