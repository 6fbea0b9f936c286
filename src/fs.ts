/**
 * Files and directories for tasks. Every call is cancellable with its task
 * and accepts `{ timeout, deadline, signal }`; errors name the operation and
 * the path (`"open /x/y: not found"`).
 *
 * {@linkcode open} takes the original's modes — `r`, `w` (create and
 * truncate), `a` (append), `x` (exclusive create), each with an optional `+`
 * for read-write — and returns a {@linkcode File}: `read(n)` continues where
 * the last read stopped and returns `null` at end of file (`readInto(buf)`
 * does the same without allocating), `write(data)` writes every byte (NUL
 * bytes included) and returns the count, and `lock()` takes an advisory
 * lock.
 *
 * @example Write, append and read back
 * ```ts
 * import * as fs from "@lunet/lunet/fs";
 * const path = await Deno.makeTempFile();
 * await fs.writeFile(path, "hello");
 * const f = await fs.open(path, "a");
 * await f.write(" world");
 * f.close();
 * console.log(new TextDecoder().decode(await fs.readFile(path))); // "hello world"
 * console.log((await fs.stat(path)).kind); // "file"
 * await fs.remove(path);
 * ```
 * @module
 */
import { ClosedError, fromDenoError } from "./errors.ts";
import { Mutex } from "./sync.ts";
import { sleep } from "./sleep.ts";
import { park, type WaitOptions } from "./_wait.ts";
import { traceClose, traceOpen } from "./trace.ts";

export type { WaitOptions } from "./_wait.ts";

/**
 * How {@linkcode open} opens a file: `r` read, `w` write (create, truncate),
 * `a` append (create), `x` write a new file (fails if it exists). A `+`
 * adds the other direction.
 *
 * @example
 * ```ts
 * import type { OpenMode } from "@lunet/lunet/fs";
 * const mode: OpenMode = "w+";
 * ```
 */
export type OpenMode = "r" | "r+" | "w" | "w+" | "a" | "a+" | "x" | "x+";

/**
 * What a directory entry or a path is, with the original's names.
 *
 * @example
 * ```ts
 * import type { FileKind } from "@lunet/lunet/fs";
 * const kind: FileKind = "dir";
 * ```
 */
export type FileKind = "file" | "dir" | "link" | "fifo" | "socket" | "char" | "block" | "unknown";

/**
 * The result of {@linkcode stat}, {@linkcode lstat} and {@linkcode File.stat}.
 *
 * @example
 * ```ts
 * import { stat, type FileInfo } from "@lunet/lunet/fs";
 * const info: FileInfo = await stat(".");
 * console.log(info.kind, info.size, info.mtime);
 * ```
 */
export interface FileInfo {
  /** File, directory, link, … */
  kind: FileKind;
  /** Size in bytes. */
  size: number;
  /** Permission bits (`0o644`), or `null` where the platform has none. */
  mode: number | null;
  /** Owner user id, or `null` where the platform has none. */
  uid: number | null;
  /** Owner group id, or `null` where the platform has none. */
  gid: number | null;
  /** Last modification. */
  mtime: Date | null;
  /** Last access. */
  atime: Date | null;
  /** Last status change. */
  ctime: Date | null;
  /** Creation, where the file system records it. */
  birthtime: Date | null;
}

/**
 * One entry of {@linkcode scandir}.
 *
 * @example
 * ```ts
 * import { scandir, type DirEntry } from "@lunet/lunet/fs";
 * const entries: DirEntry[] = await scandir(".");
 * console.log(entries.map((e) => `${e.type} ${e.name}`));
 * ```
 */
export interface DirEntry {
  /** The entry's name (not a path). */
  name: string;
  /** What it is; a symbolic link is `"link"`, not what it points to. */
  type: FileKind;
}

/**
 * Options of {@linkcode open}.
 *
 * @example
 * ```ts
 * import { open, type OpenOptions } from "@lunet/lunet/fs";
 * const opts: OpenOptions = { perm: 0o600, timeout: 1000 };
 * const f = await open(await Deno.makeTempFile(), "w", opts);
 * f.close();
 * ```
 */
export interface OpenOptions extends WaitOptions {
  /** Permission bits of a file that `open` creates (before the umask); default `0o666`. */
  perm?: number;
}

/**
 * Options of {@linkcode writeFile}.
 *
 * @example
 * ```ts
 * import { writeFile } from "@lunet/lunet/fs";
 * await writeFile(await Deno.makeTempFile(), "line\n", { append: true });
 * ```
 */
export interface WriteFileOptions extends OpenOptions {
  /** Append instead of replacing the content. */
  append?: boolean;
}

/**
 * Options of {@linkcode mkdir} and {@linkcode remove}.
 *
 * @example
 * ```ts
 * import { mkdir, remove } from "@lunet/lunet/fs";
 * const dir = await Deno.makeTempDir();
 * await mkdir(`${dir}/a/b`, { recursive: true });
 * await remove(dir, { recursive: true });
 * ```
 */
export interface DirOptions extends WaitOptions {
  /** `mkdir`: create missing parents, and succeed if it exists. `remove`: remove a tree. */
  recursive?: boolean;
  /** `mkdir`: permission bits of new directories (before the umask); default `0o777`. */
  perm?: number;
}

/**
 * Where {@linkcode File.seek} counts from: the start, the current position,
 * or the end of the file.
 *
 * @example
 * ```ts
 * import type { Whence } from "@lunet/lunet/fs";
 * const whence: Whence = "end";
 * ```
 */
export type Whence = "set" | "cur" | "end";

const MODES: Record<OpenMode, Deno.OpenOptions> = {
  "r": { read: true },
  "r+": { read: true, write: true },
  "w": { write: true, create: true, truncate: true },
  "w+": { read: true, write: true, create: true, truncate: true },
  "a": { append: true, create: true },
  "a+": { read: true, append: true, create: true },
  "x": { write: true, createNew: true },
  "x+": { read: true, write: true, createNew: true },
};

const WHENCE: Record<Whence, Deno.SeekMode> = {
  set: Deno.SeekMode.Start,
  cur: Deno.SeekMode.Current,
  end: Deno.SeekMode.End,
};

/** Default size of {@linkcode File.read}. */
const READ_SIZE = 64 * 1024;
/** Longest pause between two attempts of {@linkcode File.lock}. */
const LOCK_POLL_MAX_MS = 50;

const encoder = new TextEncoder();

function label(path: string | URL): string {
  return typeof path === "string" ? path : path.href;
}

function bytes(data: Uint8Array | string): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : data;
}

/** Starts `run`, maps its failure to a lunet error, and waits for it under `opts`. */
function call<T>(
  op: string,
  target: string,
  opts: WaitOptions | undefined,
  run: () => Promise<T>,
  abandoned?: (p: Promise<T>) => void,
): Promise<T> {
  return park<T>(`${op} ${target}`, opts, (resolve, reject) => {
    const p = started(run).catch((err) => {
      throw fromDenoError(err, op, target);
    });
    p.then(resolve, reject);
    if (abandoned) return () => abandoned(p);
  });
}

/** `run()`, with a synchronous throw turned into a rejection. */
function started<T>(run: () => Promise<T>): Promise<T> {
  try {
    return run();
  } catch (err) {
    return Promise.reject(err);
  }
}

function kindOf(info: Deno.FileInfo): FileKind {
  if (info.isFile) return "file";
  if (info.isDirectory) return "dir";
  if (info.isSymlink) return "link";
  if (info.isFifo) return "fifo";
  if (info.isSocket) return "socket";
  if (info.isCharDevice) return "char";
  if (info.isBlockDevice) return "block";
  return "unknown";
}

function toFileInfo(info: Deno.FileInfo): FileInfo {
  return {
    kind: kindOf(info),
    size: info.size,
    mode: info.mode === null ? null : info.mode & 0o7777,
    uid: info.uid,
    gid: info.gid,
    mtime: info.mtime,
    atime: info.atime,
    ctime: info.ctime,
    birthtime: info.birthtime,
  };
}

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

/**
 * An open file. Operations on one handle run one at a time, in call order.
 * A read that is cancelled or times out keeps its request in flight, and
 * the next read returns its bytes, so no data is skipped. `close()` wakes
 * every waiting operation with {@linkcode ClosedError}.
 *
 * @example Sequential reads advance; EOF is `null`
 * ```ts
 * import { open, writeFile } from "@lunet/lunet/fs";
 * const path = await Deno.makeTempFile();
 * await writeFile(path, "abcdef");
 * using f = await open(path, "r");
 * console.log(await f.read(3)); // bytes of "abc"
 * console.log(await f.read(3)); // bytes of "def"
 * console.log(await f.read(3)); // null
 * ```
 */
export class File implements Disposable {
  /** The path given to {@linkcode open}. */
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

  /** @internal use {@linkcode open} */
  constructor(file: Deno.FsFile, path: string) {
    this.#file = file;
    this.path = path;
    this.#trace = traceOpen("file", path);
  }

  /** True once {@linkcode File.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Reads up to `size` bytes (default 64 KiB) from the current position and
   * advances it. Returns `null` at end of file.
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
   * Reads up to `buf.length` bytes into `buf` (no allocation) and returns
   * how many, or `null` at end of file. When the wait gives up early, the
   * system read still completes into `buf`, and the next read returns those
   * bytes: leave `buf` alone until then.
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
   * Writes all of `data` (a string is written as UTF-8) at the current
   * position — at the end in append mode — and returns the number of bytes
   * written. Binary-safe.
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
   * Moves the position to `offset` counted from `whence` (default `"set"`,
   * the start) and returns the new position from the start.
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

  /** Information about the open file. */
  stat(opts?: WaitOptions): Promise<FileInfo> {
    return this.#locked(
      "stat",
      opts,
      (what) => this.#io(what, opts, Kind.Other, () => this.#file.stat().then(toFileInfo)),
    );
  }

  /** Cuts the file to `length` bytes (default 0), or extends it with zero bytes. */
  truncate(length = 0, opts?: WaitOptions): Promise<void> {
    return this.#locked(
      "truncate",
      opts,
      (what) => this.#io(what, opts, Kind.Position, () => this.#file.truncate(length)),
    );
  }

  /** Flushes data and metadata to the storage device. */
  sync(opts?: WaitOptions): Promise<void> {
    return this.#locked(
      "sync",
      opts,
      (what) => this.#io(what, opts, Kind.Other, () => this.#file.sync()),
    );
  }

  /**
   * Takes an advisory lock on the whole file (`flock`): exclusive by
   * default, shared with `exclusive: false`. Waits while another handle
   * holds a conflicting lock; cancellable and deadline-aware.
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

  /** Releases the lock taken by {@linkcode File.lock}. */
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

/**
 * Opens `path` with `mode` (default `"r"`; see {@linkcode OpenMode}).
 *
 * @example
 * ```ts
 * import { open } from "@lunet/lunet/fs";
 * const f = await open(await Deno.makeTempFile(), "w");
 * console.log(await f.write(new Uint8Array([0, 1, 0]))); // 3
 * f.close();
 * ```
 */
export function open(path: string | URL, mode: OpenMode = "r", opts?: OpenOptions): Promise<File> {
  const flags = MODES[mode];
  if (!flags) throw new TypeError(`open ${label(path)}: bad mode ${JSON.stringify(mode)}`);
  const target = label(path);
  return call(
    "open",
    target,
    opts,
    () => Deno.open(path, { ...flags, mode: opts?.perm }).then((f) => new File(f, target)),
    (p) => p.then((f) => f.close(), () => {}),
  );
}

/**
 * Information about `path`, following symbolic links.
 *
 * @example
 * ```ts
 * import { stat } from "@lunet/lunet/fs";
 * const info = await stat(Deno.cwd());
 * console.log(info.kind); // "dir"
 * ```
 */
export function stat(path: string | URL, opts?: WaitOptions): Promise<FileInfo> {
  return call("stat", label(path), opts, () => Deno.stat(path).then(toFileInfo));
}

/**
 * Information about `path` itself: a symbolic link is reported as `"link"`.
 *
 * @example
 * ```ts
 * import { lstat } from "@lunet/lunet/fs";
 * console.log((await lstat(Deno.cwd())).kind); // "dir"
 * ```
 */
export function lstat(path: string | URL, opts?: WaitOptions): Promise<FileInfo> {
  return call("lstat", label(path), opts, () => Deno.lstat(path).then(toFileInfo));
}

/**
 * Lists a directory: each entry's name and type, in the order the system
 * gives them (unsorted). `.` and `..` are left out.
 *
 * @example
 * ```ts
 * import { scandir } from "@lunet/lunet/fs";
 * for (const { name, type } of await scandir(".")) console.log(type, name);
 * ```
 */
export function scandir(path: string | URL, opts?: WaitOptions): Promise<DirEntry[]> {
  const target = label(path);
  return call("scandir", target, opts, async () => {
    const out: DirEntry[] = [];
    const special: DirEntry[] = [];
    for await (const e of Deno.readDir(path)) {
      const type: FileKind = e.isFile
        ? "file"
        : e.isDirectory
        ? "dir"
        : e.isSymlink
        ? "link"
        : "unknown";
      const entry = { name: e.name, type };
      out.push(entry);
      if (type === "unknown") special.push(entry);
    }
    // The directory listing only tells files, directories and links apart.
    const base = target.endsWith("/") ? target : `${target}/`;
    await Promise.all(special.map(async (entry) => {
      try {
        entry.type = kindOf(await Deno.lstat(base + entry.name));
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }));
    return out;
  });
}

/**
 * Reads a whole file.
 *
 * @example
 * ```ts
 * import { readFile } from "@lunet/lunet/fs";
 * const data = await readFile("deno.json");
 * console.log(data.length > 0); // true
 * ```
 */
export function readFile(path: string | URL, opts?: WaitOptions): Promise<Uint8Array> {
  return call("readFile", label(path), opts, () => Deno.readFile(path));
}

/**
 * Writes `data` (a string as UTF-8) to `path`, replacing it, or appending
 * with `append: true`. Creates the file when it is missing.
 *
 * @example
 * ```ts
 * import { readFile, writeFile } from "@lunet/lunet/fs";
 * const path = await Deno.makeTempFile();
 * await writeFile(path, new Uint8Array([1, 0, 2]));
 * console.log(await readFile(path)); // Uint8Array(3) [ 1, 0, 2 ]
 * ```
 */
export function writeFile(
  path: string | URL,
  data: Uint8Array | string,
  opts?: WriteFileOptions,
): Promise<void> {
  const buf = bytes(data);
  return call(
    "writeFile",
    label(path),
    opts,
    () => Deno.writeFile(path, buf, { append: opts?.append, mode: opts?.perm }),
  );
}

/**
 * Creates a directory; with `recursive: true` its missing parents too, and
 * an existing directory is not an error.
 *
 * @example
 * ```ts
 * import { mkdir } from "@lunet/lunet/fs";
 * await mkdir(`${await Deno.makeTempDir()}/x/y`, { recursive: true });
 * ```
 */
export function mkdir(path: string | URL, opts?: DirOptions): Promise<void> {
  return call(
    "mkdir",
    label(path),
    opts,
    () => Deno.mkdir(path, { recursive: opts?.recursive, mode: opts?.perm }),
  );
}

/**
 * Removes a file, a link or an empty directory; with `recursive: true`, a
 * whole tree.
 *
 * @example
 * ```ts
 * import { remove } from "@lunet/lunet/fs";
 * await remove(await Deno.makeTempFile());
 * ```
 */
export function remove(path: string | URL, opts?: DirOptions): Promise<void> {
  return call("remove", label(path), opts, () => Deno.remove(path, { recursive: opts?.recursive }));
}

/**
 * Renames (moves) `from` to `to`, replacing `to` when it is a file.
 *
 * @example
 * ```ts
 * import { rename } from "@lunet/lunet/fs";
 * const from = await Deno.makeTempFile();
 * await rename(from, `${from}.moved`);
 * ```
 */
export function rename(from: string | URL, to: string | URL, opts?: WaitOptions): Promise<void> {
  return call("rename", `${label(from)} -> ${label(to)}`, opts, () => Deno.rename(from, to));
}
