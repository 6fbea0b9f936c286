/**
 * The {@linkcode File} handle that `open()` returns: reads, writes, seeks
 * and locks, one at a time, each cancellable without losing data.
 *
 * @module
 */
import { ClosedError, fromDenoError } from "../errors.ts";
import { Mutex } from "../sync.ts";
import { sleep } from "../sleep.ts";
import { park, type WaitOptions } from "../_wait.ts";
import { traceClose, traceOpen } from "../trace.ts";
import { bytes, call, started } from "./_call.ts";
import { type FileInfo, toFileInfo } from "./_info.ts";

/**
 * Where {@linkcode File.seek} counts from: the start, the current position,
 * or the end of the file.
 *
 * @example
 * ```ts
 * import type { Whence } from "@lunet/lunet/fs";
 * const whence: Whence = "end";
 * if (whence !== "end") throw new Error("unreachable");
 * ```
 */
export type Whence = "set" | "cur" | "end";

const WHENCE: Record<Whence, Deno.SeekMode> = {
  set: Deno.SeekMode.Start,
  cur: Deno.SeekMode.Current,
  end: Deno.SeekMode.End,
};

/** Default size of {@linkcode File.read}. */
const READ_SIZE = 64 * 1024;
/** Longest pause between two attempts of {@linkcode File.lock}. */
const LOCK_POLL_MAX_MS = 50;

/** An operation on a {@linkcode File} and whether it has finished. */
class Inflight {
  settled = false;
  constructor(readonly done: Promise<unknown>, readonly read: boolean) {
    const finish = () => this.settled = true;
    done.then(finish, finish);
  }
}

/** What an operation does with the file position. */
const enum Kind {
  /** Reads at the position and advances it. */
  Read,
  /** Uses or moves the position: write, seek, truncate. */
  Position,
  /** Leaves it alone: stat, sync. */
  Other,
}

let makeFile: (file: Deno.FsFile, path: string) => File;

/**
 * An open file, from `open()`. Operations on one handle run one at a time,
 * in call order. A read that is cancelled or times out keeps its request in
 * flight, and the next read returns its bytes, so no data is skipped.
 * `close()` wakes every waiting operation with {@linkcode ClosedError}.
 *
 * Every method that waits takes `{ timeout, deadline, signal }` and then
 * rejects with `TimeoutError` or `Cancelled`; one called after `close()`
 * throws {@linkcode ClosedError}.
 *
 * @example Sequential reads advance; EOF is `null`
 * ```ts
 * import { deepEqual, equal } from "node:assert/strict";
 * import { open, writeFile } from "@lunet/lunet/fs";
 * const path = await Deno.makeTempFile();
 * await writeFile(path, "abcdef");
 * {
 *   using f = await open(path, "r");
 *   deepEqual(await f.read(3), new TextEncoder().encode("abc"));
 *   deepEqual(await f.read(3), new TextEncoder().encode("def"));
 *   equal(await f.read(3), null);
 * }
 * await Deno.remove(path);
 * ```
 */
export class File implements Disposable {
  /** The path given to `open()`. */
  readonly path: string;
  #file: Deno.FsFile;
  #mutex = new Mutex();
  #closed = false;
  #trace: number;
  /** Operations parked right now, woken by `close()`. */
  #parked = new Set<() => void>();
  /** An abandoned operation still running; the next one starts after it. */
  #inflight: Inflight | undefined;
  /** Bytes read from the system but not yet returned to a reader. */
  #leftover: Uint8Array | undefined;
  /** Releases a lock that an abandoned {@linkcode File.lock} attempt got. */
  #unlocking: Promise<unknown> | undefined;

  static {
    makeFile = (file, path) => new File(file, path);
  }

  /** @ignore */
  private constructor(file: Deno.FsFile, path: string) {
    this.#file = file;
    this.path = path;
    this.#trace = traceOpen("file", path);
  }

  /** True once {@linkcode File.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Reads up to `size` bytes from the current position and advances it.
   *
   * @param size Most bytes to return (default 64 KiB).
   * @param opts Timeout, deadline and abort signal of the wait.
   * @returns The bytes read (fewer than `size` is not end of file), or
   * `null` at end of file.
   * @throws {RangeError} `size` is not a positive integer.
   * @throws {ClosedError} The file is closed, or was closed while waiting.
   */
  read(size: number = READ_SIZE, opts?: WaitOptions): Promise<Uint8Array | null> {
    if (!(Number.isInteger(size) && size > 0)) {
      throw new RangeError(`read: size must be a positive integer, got ${size}`);
    }
    return this.#locked("read", opts, async (what) => {
      const chunk = this.#takeLeftover() ??
        await this.#io<Uint8Array | null>(what, opts, Kind.Read, () => {
          const buf = new Uint8Array(size);
          return this.#file.read(buf).then((n) => n === null ? null : buf.subarray(0, n));
        });
      if (chunk === null || chunk.length <= size) return chunk;
      this.#leftover = chunk.subarray(size);
      return chunk.subarray(0, size);
    });
  }

  /**
   * Reads up to `buf.length` bytes into `buf`, without allocating. When the
   * wait gives up early, the system read still completes into `buf`, and
   * the next read returns those bytes: leave `buf` alone until then.
   *
   * @param buf Where the bytes go, from its start.
   * @param opts Timeout, deadline and abort signal of the wait.
   * @returns How many bytes were read, or `null` at end of file.
   * @throws {RangeError} `buf` is empty.
   * @throws {ClosedError} The file is closed, or was closed while waiting.
   */
  readInto(buf: Uint8Array, opts?: WaitOptions): Promise<number | null> {
    if (buf.length === 0) throw new RangeError("readInto: empty buffer");
    return this.#locked("read", opts, async (what) => {
      const chunk = this.#takeLeftover() ??
        await this.#io<Uint8Array | null>(what, opts, Kind.Read, () => {
          return this.#file.read(buf).then((n) => n === null ? null : buf.subarray(0, n));
        });
      if (chunk === null) return null;
      if (chunk.buffer === buf.buffer && chunk.byteOffset === buf.byteOffset) return chunk.length;
      const n = Math.min(chunk.length, buf.length);
      buf.set(chunk.subarray(0, n));
      if (n < chunk.length) this.#leftover = chunk.subarray(n);
      return n;
    });
  }

  /**
   * Writes all of `data` at the current position — at the end in append
   * mode. Binary-safe.
   *
   * @param data The bytes, or a string written as UTF-8.
   * @param opts Timeout, deadline and abort signal of the wait.
   * @returns The number of bytes written: all of them.
   * @throws {ClosedError} The file is closed, or was closed while waiting.
   */
  write(data: Uint8Array | string, opts?: WaitOptions): Promise<number> {
    const buf = bytes(data);
    return this.#locked("write", opts, (what) =>
      this.#io(what, opts, Kind.Position, async () => {
        for (let off = 0; off < buf.length;) off += await this.#file.write(buf.subarray(off));
        return buf.length;
      }));
  }

  /**
   * Moves the position to `offset` counted from `whence`.
   *
   * @param offset Bytes from `whence`; negative counts backwards.
   * @param whence Where to count from (default `"set"`, the start).
   * @param opts Timeout, deadline and abort signal of the wait.
   * @returns The new position, counted from the start.
   * @throws {TypeError} `whence` is not `"set"`, `"cur"` or `"end"`.
   * @throws {ClosedError} The file is closed, or was closed while waiting.
   */
  seek(offset: number, whence: Whence = "set", opts?: WaitOptions): Promise<number> {
    const mode = WHENCE[whence];
    if (mode === undefined) throw new TypeError(`seek: bad whence ${JSON.stringify(whence)}`);
    return this.#locked(
      "seek",
      opts,
      (what) => this.#io(what, opts, Kind.Position, () => this.#file.seek(offset, mode)),
    );
  }

  /**
   * Information about the open file.
   *
   * @param opts Timeout, deadline and abort signal of the wait.
   * @returns Its kind, size, permissions and times.
   * @throws {ClosedError} The file is closed, or was closed while waiting.
   */
  stat(opts?: WaitOptions): Promise<FileInfo> {
    return this.#locked(
      "stat",
      opts,
      (what) => this.#io(what, opts, Kind.Other, () => this.#file.stat().then(toFileInfo)),
    );
  }

  /**
   * Cuts the file to `length` bytes, or extends it with zero bytes. The
   * position does not move.
   *
   * @param length The new size in bytes (default 0).
   * @param opts Timeout, deadline and abort signal of the wait.
   * @throws {ClosedError} The file is closed, or was closed while waiting.
   */
  truncate(length = 0, opts?: WaitOptions): Promise<void> {
    return this.#locked(
      "truncate",
      opts,
      (what) => this.#io(what, opts, Kind.Position, () => this.#file.truncate(length)),
    );
  }

  /**
   * Flushes data and metadata to the storage device.
   *
   * @param opts Timeout, deadline and abort signal of the wait.
   * @throws {ClosedError} The file is closed, or was closed while waiting.
   */
  sync(opts?: WaitOptions): Promise<void> {
    return this.#locked(
      "sync",
      opts,
      (what) => this.#io(what, opts, Kind.Other, () => this.#file.sync()),
    );
  }

  /**
   * Takes an advisory lock on the whole file (`flock`). Waits, polling,
   * while another handle holds a conflicting lock; an attempt abandoned by
   * a timeout or cancel releases the lock if it got it.
   *
   * @param exclusive An exclusive lock (the default), or a shared one with `false`.
   * @param opts Timeout, deadline and abort signal of the wait.
   * @throws {ClosedError} The file is closed, or was closed while waiting.
   */
  async lock(exclusive = true, opts?: WaitOptions): Promise<void> {
    const what = `lock ${this.path}`;
    for (let pause = 1;; pause = Math.min(pause * 2, LOCK_POLL_MAX_MS)) {
      // An abandoned attempt that got the lock releases it before the next one.
      if (this.#unlocking) await this.#wait(what, this.#unlocking, opts);
      this.#check("lock");
      const attempt = this.#file.tryLock(exclusive);
      const got = await this.#wait(what, attempt, opts, () => {
        this.#unlocking = attempt
          .then((held) => held && !this.#closed ? this.#file.unlock() : undefined)
          .catch(() => {})
          .finally(() => this.#unlocking = undefined);
      });
      if (got) return;
      await sleep(pause, opts);
    }
  }

  /**
   * Releases the lock taken by {@linkcode File.lock}, without queueing
   * behind the handle's other operations.
   *
   * @throws {ClosedError} The file is closed.
   */
  unlock(): Promise<void> {
    this.#check("unlock");
    return call("unlock", this.path, undefined, () => this.#file.unlock());
  }

  /**
   * Closes the file. Waiting operations wake with {@linkcode ClosedError};
   * later ones throw it. Closing twice is harmless.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const wake of this.#parked) wake();
    this.#parked.clear();
    this.#file.close();
    traceClose("file", this.#trace);
  }

  /** Same as {@linkcode File.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #check(op: string): void {
    if (this.#closed) throw new ClosedError(`${op} ${this.path}`);
  }

  #takeLeftover(): Uint8Array | undefined {
    const chunk = this.#leftover;
    this.#leftover = undefined;
    return chunk;
  }

  /**
   * Waits for `p` under `opts`, the task's cancellation and `close()`;
   * `abandoned` runs when the wait gives up before `p` settles.
   */
  #wait<T>(
    what: string,
    p: Promise<T>,
    opts: WaitOptions | undefined,
    abandoned?: () => void,
  ): Promise<T> {
    return park<T>(what, opts, (resolve, reject) => {
      const wake = () => reject(new ClosedError(what));
      this.#parked.add(wake);
      p.then((value) => {
        this.#parked.delete(wake);
        resolve(value);
      }, (err) => {
        this.#parked.delete(wake);
        reject(fromDenoError(err, what, ""));
      });
      return () => {
        this.#parked.delete(wake);
        abandoned?.();
      };
    });
  }

  /** Runs `fn` holding the handle's lock, so operations run one at a time, in call order. */
  async #locked<T>(
    op: string,
    opts: WaitOptions | undefined,
    fn: (what: string) => Promise<T>,
  ): Promise<T> {
    this.#check(op);
    await this.#mutex.lock(opts);
    try {
      this.#check(op);
      return await fn(`${op} ${this.path}`);
    } finally {
      this.#mutex.unlock();
    }
  }

  /**
   * Starts `run` once an abandoned operation has finished — or, for a read,
   * resumes an abandoned read — and waits for it. A run that is abandoned
   * stays in flight for the next operation. Bytes read ahead of the
   * position are given back before an operation that uses the position.
   */
  async #io<T>(
    what: string,
    opts: WaitOptions | undefined,
    kind: Kind,
    run: () => Promise<T>,
  ): Promise<T> {
    const prior = this.#inflight;
    if (prior && !(prior.read && kind === Kind.Read)) {
      try {
        const value = await this.#wait(what, prior.done, opts);
        if (prior.read && value) this.#leftover = value as Uint8Array;
      } finally {
        if (prior.settled) this.#inflight = undefined;
      }
    }
    if (kind === Kind.Position && this.#leftover) await this.#unread(what, opts);
    const job = kind === Kind.Read && this.#inflight?.read
      ? this.#inflight
      : new Inflight(started(run), kind === Kind.Read);
    if (job === this.#inflight) this.#inflight = undefined;
    try {
      return await this.#wait(what, job.done, opts) as T;
    } catch (err) {
      if (!job.settled) this.#inflight = job.read ? owned(job) : job;
      throw err;
    }
  }

  /** Moves the position back over the leftover bytes; on a pipe they are dropped. */
  async #unread(what: string, opts: WaitOptions | undefined): Promise<void> {
    const back = this.#takeLeftover()!.length;
    await this.#wait(what, this.#file.seek(-back, Deno.SeekMode.Current), opts).catch(() => {});
  }
}

/** An abandoned read whose bytes are copied out of the caller's buffer as soon as they land. */
function owned(job: Inflight): Inflight {
  return new Inflight(
    job.done.then((chunk) => (chunk as Uint8Array | null)?.slice() ?? null),
    true,
  );
}

/** Wraps an open Deno file in a {@linkcode File} (whose constructor is private). */
export function newFile(file: Deno.FsFile, path: string): File {
  return makeFile(file, path);
}
