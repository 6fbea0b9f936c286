/**
 * TCP and Unix stream sockets. Listeners bind loopback addresses only
 * unless the public opt-in is named; every wait (accept, connect, read,
 * write) honours the current task's cancellation and
 * `{ timeout, deadline, signal }`; a read that times out loses no data.
 *
 * @example Echo server and client
 * ```ts
 * import { spawn } from "@lunet/lunet";
 * import { connect, listen } from "@lunet/lunet/socket";
 *
 * const server = await listen("tcp", "127.0.0.1", 0);
 * const echo = spawn(async () => {
 *   await using conn = await server.accept();
 *   for (let data; (data = await conn.read()) !== null;) await conn.write(data);
 * });
 * const conn = await connect("127.0.0.1", server.addr.port);
 * await conn.write("hello");
 * console.log(new TextDecoder().decode((await conn.read())!)); // "hello"
 * conn.close();
 * await echo;
 * server.close();
 * ```
 * @module
 */
import { Cancelled, ClosedError, fromDenoError, PermissionDenied, TimeoutError } from "./errors.ts";
import { envFlag, envUnreadable } from "./env.ts";
import { acceptBackoff } from "./_accept_backoff.ts";
import { sleep } from "./sleep.ts";
import {
  budget,
  checkCancelled,
  current,
  deadlineOf,
  park,
  race,
  type WaitOptions,
} from "./_wait.ts";
import { trace, traceClose, traceOpen } from "./trace.ts";
import { formatAddr } from "./backend/deno.ts";
import { type BackendName, selectBackend } from "./backend/select.ts";
import type { Backend, ListenerHandle, SocketAddr, StreamHandle } from "./backend/types.ts";
import { lookup } from "./dns.ts";

export type {
  Backend,
  BackendListenOptions,
  ListenerHandle,
  SocketAddr,
  StreamHandle,
} from "./backend/types.ts";
export type { BackendName } from "./backend/select.ts";

/**
 * Options for {@linkcode listen}.
 *
 * @example
 * ```ts
 * import { listen, type ListenOptions } from "@lunet/lunet/socket";
 * const opts: ListenOptions = { reusePort: true, readBufferSize: 16384 };
 * const l = await listen("tcp", "127.0.0.1", 0, opts);
 * l.close();
 * ```
 */
export interface ListenOptions {
  /**
   * Allow binding a non-loopback address. Without it (or
   * `LUNET_ALLOW_PUBLIC=1`) such a bind fails with `PermissionDenied`.
   */
  dangerouslyAllowPublic?: boolean;
  /** Share the port between processes or workers (SO_REUSEPORT, Linux). */
  reusePort?: boolean;
  /** Listen backlog, for backends that can set it. */
  backlog?: number;
  /** Largest chunk one `read()` of an accepted connection returns (default 256 KiB). */
  readBufferSize?: number;
  /**
   * The I/O backend (default: `LUNET_BACKEND`, else `"ffi"` on Linux with
   * `--allow-ffi` and unrestricted `--allow-net`, else `"deno"`).
   */
  backend?: BackendName | Backend;
}

/**
 * Options for {@linkcode connect}: a wait budget plus socket settings.
 *
 * @example
 * ```ts
 * import { type ConnectOptions } from "@lunet/lunet/socket";
 * const opts: ConnectOptions = { timeout: 2000, readBufferSize: 4096 };
 * console.log(opts.timeout);
 * ```
 */
export interface ConnectOptions extends WaitOptions {
  /** Largest chunk one `read()` returns (default 256 KiB). */
  readBufferSize?: number;
  /**
   * The I/O backend (default: `LUNET_BACKEND`, else `"ffi"` on Linux with
   * `--allow-ffi` and unrestricted `--allow-net`, else `"deno"`).
   */
  backend?: BackendName | Backend;
}

const DEFAULT_READ_SIZE = 256 * 1024;
const MIN_READ_SIZE = 1024;
const encoder = new TextEncoder();
const DONE: Promise<void> = Promise.resolve();
const EMPTY_BYTES = new Uint8Array(0);
function noop(): void {}

// One read buffer for every synchronous read (backends with `tryRead`):
// the bytes are copied out before anything else runs, so a connection
// holds no buffer of its own, idle or busy.
let shared = new Uint8Array(0);
let sharedView = shared;
// A fresh buffer to read into and hand over; one that a read found nothing
// for is kept (one for the whole thread) for the next such read.
let spare: Uint8Array | undefined;
function freshBuffer(size: number): Uint8Array {
  const buf = spare?.length === size ? spare : new Uint8Array(size);
  spare = undefined;
  return buf;
}

function sharedScratch(size: number): Uint8Array {
  if (sharedView.length === size) return sharedView;
  if (shared.length < size) shared = new Uint8Array(size);
  return sharedView = shared.subarray(0, size);
}

/**
 * A write without options waiting until the backend has taken every byte:
 * its settlers are bound once per connection, on its first such wait.
 */
class ParkedWrite {
  bytes: Uint8Array = EMPTY_BYTES;
  #h: StreamHandle;
  #done: () => void;
  #givenUp: () => void;
  #resolve: (() => void) | undefined;
  #reject: ((err: unknown) => void) | undefined;

  /**
   * @param h the stream written to
   * @param done called when the write ends (hands the write lock on)
   * @param givenUp called when a cancelled wait leaves the write part-way
   */
  constructor(h: StreamHandle, done: () => void, givenUp: () => void) {
    this.#h = h;
    this.#done = done;
    this.#givenUp = givenUp;
  }

  /** The start function of the wait (see `park`). */
  start = (resolve: () => void, reject: (err: unknown) => void): () => void => {
    this.#resolve = resolve;
    this.#reject = reject;
    this.#h.write(this.bytes).then(this.#wrote, this.#failed);
    return this.#cancelled;
  };

  #wrote = (n: number): void => {
    const resolve = this.#resolve;
    if (resolve === undefined) return;
    if (n < this.bytes.length) {
      this.#h.write(this.bytes = this.bytes.subarray(n)).then(this.#wrote, this.#failed);
      return;
    }
    this.#end();
    resolve();
  };

  #failed = (err: unknown): void => {
    const reject = this.#reject;
    if (reject === undefined) return;
    this.#end();
    reject(err);
  };

  // Cancelled part-way while the backend write may still run: the peer
  // would see a truncated message, so the stream is closed.
  #cancelled = (): void => {
    this.#end();
    this.#givenUp();
  };

  #end(): void {
    this.bytes = EMPTY_BYTES;
    this.#resolve = this.#reject = undefined;
    this.#done();
  }
}

// How messages name a stream: its peer, or its path for Unix sockets.
function labelOf(h: StreamHandle): string {
  if (h.peer.transport !== "unix") return formatAddr(h.peer);
  return `unix:${h.local.path ?? ""}`;
}

interface WriteWaiter {
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * A connected TCP or Unix stream. `read()` returns a fresh chunk (the
 * caller owns it) or `null` at end of stream; `readInto(buf)` reads
 * straight into a caller's buffer instead (the faster loop for bulk data);
 * `write()` sends all of its data, and concurrent writers are served one
 * after another, never interleaved. Only one read may wait at a time. A
 * read returns at most the read buffer size. An idle connection pins
 * little memory: on a backend with readiness waits (`ffi`) a waiting read
 * holds no buffer at all; on the `deno` backend the buffer starts at 1 KiB
 * and grows only while reads fill it.
 *
 * A read that times out or is cancelled leaves its request in flight: the
 * next read returns the data that arrived. A write interrupted part-way
 * by its timeout or cancellation closes the connection, since the peer
 * would otherwise see a truncated message followed by the next one.
 *
 * @example
 * ```ts
 * import { connect, listen } from "@lunet/lunet/socket";
 * const server = await listen("tcp", "127.0.0.1", 0);
 * const client = await connect("127.0.0.1", server.addr.port);
 * const peer = await server.accept();
 * await client.write("ping");
 * console.log(await peer.read({ timeout: 1000 }));
 * client.close();
 * peer.close();
 * server.close();
 * ```
 */
export class Conn implements AsyncDisposable, Disposable {
  #h: StreamHandle;
  #labelText: string | undefined;
  #trace: number;
  #maxRead: number;
  #readSize: number;
  #buf: Uint8Array | undefined;
  #leftStart = 0;
  #leftEnd = 0;
  #reading: Promise<number | null> | undefined;
  #readTarget: Uint8Array | undefined;
  #readParked = false;
  #writing = false;
  #writers: WriteWaiter[] | undefined;
  // A write without options waiting for the backend; made on the first
  // such wait, so a connection that never waits to write holds none.
  #parkedWrite: ParkedWrite | undefined;
  #shut = false;
  #closed = false;

  /**
   * Wraps a backend stream; use {@linkcode connect} or
   * {@linkcode Listener.accept} instead.
   *
   * @internal
   */
  constructor(handle: StreamHandle, readBufferSize?: number) {
    this.#h = handle;
    this.#maxRead = checkBufferSize(readBufferSize);
    this.#readSize = Math.min(MIN_READ_SIZE, this.#maxRead);
    // Messages name the stream lazily; a Unix stream's path is read now,
    // while the socket is open.
    if (handle.peer.transport === "unix") this.#labelText = labelOf(handle);
    this.#trace = traceOpen(handle.peer.transport, trace.enabled ? this.#label : "");
  }

  get #label(): string {
    return this.#labelText ??= labelOf(this.#h);
  }

  get #readWhat(): string {
    return `read ${this.#label}`;
  }

  get #writeWhat(): string {
    return `write ${this.#label}`;
  }

  // The checks a wait makes before parking, for an operation that may
  // finish without waiting: a cancelled task, an aborted signal or a passed
  // deadline fail it before it touches the socket, as they would fail a
  // wait. The message is built only on failure.
  #checkWait(op: string, opts: WaitOptions | undefined): void {
    if (current()?.cancelled) checkCancelled(`${op} ${this.#label}`);
    if (opts === undefined) return;
    if (opts.signal?.aborted) {
      throw new Cancelled(`${op} ${this.#label}`, { cause: opts.signal.reason });
    }
    const limit = deadlineOf(opts);
    if (limit !== undefined && limit <= Date.now()) throw new TimeoutError(`${op} ${this.#label}`);
  }

  /** The peer's address. */
  get peer(): SocketAddr {
    return this.#h.peer;
  }

  /** The local address. */
  get local(): SocketAddr {
    return this.#h.local;
  }

  /** True once {@linkcode Conn.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Reads the next chunk: up to the read buffer size, or `null` at end of
   * stream. The chunk is the caller's to keep. Only one read (or
   * {@linkcode Conn.readInto}) may wait at a time.
   */
  read(opts?: WaitOptions): Promise<Uint8Array | null> {
    if (this.#closed) return Promise.reject(new ClosedError(this.#readWhat));
    if (this.#leftEnd > this.#leftStart) {
      return Promise.resolve(this.#takeLeft(this.#leftEnd - this.#leftStart));
    }
    if (this.#h.onReadable) return this.#pull(undefined, opts) as Promise<Uint8Array | null>;
    return this.#readOwn(opts);
  }

  /**
   * Reads into `dst` for a reader that runs its own wait (through `park`)
   * around it and keeps its own buffer: the byte count, or `null` at end of
   * stream. The read itself does not park; only one may be in flight, and
   * `dst` must be left alone until it settles.
   *
   * @internal
   */
  readSome(dst: Uint8Array): Promise<number | null> {
    if (this.#closed) return Promise.reject(new ClosedError(this.#readWhat));
    if (this.#leftEnd > this.#leftStart) return Promise.resolve(this.#copyLeft(dst));
    return this.#h.read(dst);
  }

  // The chunk of a read of `n` bytes into the connection's own buffer:
  // the buffer itself when the read filled most of it (no copy), else a
  // copy, so the buffer is reused.
  #handOver(target: Uint8Array, n: number): Uint8Array {
    this.#adapt(n, target.length);
    if (n < target.length >> 2) return target.slice(0, n);
    this.#buf = undefined;
    return n === target.length ? target : target.subarray(0, n);
  }

  // read() on a backend without readiness waits: into the connection's
  // own buffer, which stays in flight when the wait gives up.
  async #readOwn(opts: WaitOptions | undefined): Promise<Uint8Array | null> {
    const target = this.#reading ? this.#readTarget! : this.#scratch();
    const n = await this.#waitRead(target, opts);
    if (n === null) return null;
    if (target !== this.#buf) return target.slice(0, n); // a given-up readInto's buffer
    return this.#handOver(target, n);
  }

  /**
   * Reads straight into `dst` and resolves with the byte count, or `null`
   * at end of stream: a loop over one caller-owned buffer allocates and
   * copies nothing per call, the fast path for bulk data.
   *
   * When a `readInto` gives up (timeout or cancellation), nothing is lost:
   * the next read delivers what arrived. On a backend without readiness
   * waits (`deno`), the given-up read stays in flight and may still fill
   * `dst`, so pass the same buffer again, or leave `dst` alone until the
   * next read returns.
   */
  readInto(dst: Uint8Array, opts?: WaitOptions): Promise<number | null> {
    if (this.#closed) return Promise.reject(new ClosedError(this.#readWhat));
    if (dst.length === 0) return Promise.resolve(0);
    if (this.#leftEnd > this.#leftStart) return Promise.resolve(this.#copyLeft(dst));
    if (this.#h.onReadable) return this.#pull(dst, opts) as Promise<number | null>;
    return this.#readIntoOwn(dst, opts);
  }

  // Reads what has arrived, waiting for readiness while nothing has: into
  // `dst` (resolves with the count), or with no `dst` into the shared
  // buffer, copied out (resolves with the chunk). A wait that gives up
  // leaves the data in the kernel for the next read.
  #pull(dst: Uint8Array | undefined, opts: WaitOptions | undefined): Promise<unknown> {
    let got;
    try {
      this.#checkWait("read", opts);
      got = this.#tryPull(dst);
    } catch (err) {
      return Promise.reject(err);
    }
    return got === -1 ? this.#pullLater(dst, opts) : Promise.resolve(got);
  }

  // One synchronous attempt of #pull: -1 when nothing has arrived.
  #tryPull(dst: Uint8Array | undefined): Uint8Array | number | null {
    if (this.#closed) throw new ClosedError(this.#readWhat);
    // Chunks grow with the traffic as on every backend. Small reads go
    // through the shared buffer and are copied out; once reads fill more
    // than the smallest size, a fresh buffer is read into and handed over.
    const size = this.#readSize;
    const buf = dst ?? (size > MIN_READ_SIZE ? freshBuffer(size) : sharedScratch(size));
    const n = this.#h.tryRead!(buf);
    if (n === -1 && !dst && buf !== sharedView) spare = buf;
    if (dst || n === null || n === -1) return n;
    this.#adapt(n, size);
    if (buf === sharedView || n < size >> 2) return buf.slice(0, n);
    return n === size ? buf : buf.subarray(0, n);
  }

  // The waiting part of #pull: the backend calls `wake` on readiness, which
  // reads and settles the wait. No async frame, promise chain or buffer is
  // held, so an idle connection costs little more than its backend stream.
  #pullLater(dst: Uint8Array | undefined, opts: WaitOptions | undefined): Promise<unknown> {
    if (this.#readParked) {
      return Promise.reject(new Error(`${this.#readWhat}: another read is already waiting`));
    }
    this.#readParked = true;
    return park(this.#readWhat, opts, (resolve, reject) => {
      const wake = (): void => {
        let got;
        try {
          got = this.#tryPull(dst);
        } catch (err) {
          this.#readParked = false;
          return reject(err);
        }
        if (got === -1) return this.#h.onReadable!(wake);
        this.#readParked = false;
        resolve(got);
      };
      this.#h.onReadable!(wake);
      return () => {
        this.#readParked = false;
        this.#h.onReadable!(undefined);
      };
    });
  }

  /**
   * True when the backend has readiness waits (`ffi`): then
   * {@linkcode Conn.readNow} and {@linkcode Conn.onReadable} serve a reader
   * that keeps its own buffer and its own wait.
   *
   * @internal
   */
  get pollable(): boolean {
    return this.#h.onReadable !== undefined;
  }

  /**
   * Reads what has already arrived into `dst`, without waiting: the byte
   * count, `null` at end of stream, or `-1` when nothing is there yet.
   * Only on a {@linkcode Conn.pollable} connection, for its only reader.
   *
   * @internal
   */
  readNow(dst: Uint8Array): number | null {
    if (this.#closed) throw new ClosedError(this.#readWhat);
    if (this.#leftEnd > this.#leftStart) return this.#copyLeft(dst);
    return this.#h.tryRead!(dst);
  }

  /**
   * Calls `wake` once when {@linkcode Conn.readNow} may make progress (or
   * the connection closes); `undefined` cancels. One callback at a time.
   * Only on a {@linkcode Conn.pollable} connection; the caller's wait goes
   * through `park`.
   *
   * @internal
   */
  onReadable(wake: (() => void) | undefined): void {
    if (this.#closed) wake?.();
    else this.#h.onReadable!(wake);
  }

  async #readIntoOwn(dst: Uint8Array, opts: WaitOptions | undefined): Promise<number | null> {
    const target = this.#reading ? this.#readTarget! : dst;
    const n = await this.#waitRead(target, opts);
    if (n === null || target === dst) return n;
    // The bytes landed in an earlier read's buffer: hand them over.
    const k = Math.min(n, dst.length);
    dst.set(target.subarray(0, k));
    if (k < n) this.#keep(target.subarray(k, n));
    return k;
  }

  // The connection's own read buffer, sized for the next read.
  #scratch(): Uint8Array {
    if (this.#buf?.length !== this.#readSize) this.#buf = new Uint8Array(this.#readSize);
    return this.#buf;
  }

  // Keeps bytes that did not fit the caller's buffer for the next read.
  #keep(bytes: Uint8Array): void {
    if (!this.#buf || this.#buf.length < bytes.length) {
      this.#buf = new Uint8Array(Math.max(bytes.length, this.#readSize));
    }
    this.#buf.set(bytes);
    this.#leftStart = 0;
    this.#leftEnd = bytes.length;
  }

  // Waits for the in-flight read, or starts one into `target`.
  async #waitRead(target: Uint8Array, opts: WaitOptions | undefined): Promise<number | null> {
    if (this.#readParked) throw new Error(`${this.#readWhat}: another read is already waiting`);
    let pending = this.#reading;
    if (pending === undefined) {
      pending = this.#reading = this.#h.read(target);
      this.#readTarget = target;
    }
    this.#readParked = true;
    try {
      const n = await race(this.#readWhat, pending, opts);
      this.#reading = this.#readTarget = undefined;
      return n;
    } catch (err) {
      // A read given up on stays in flight for the next caller; a later
      // rejection (e.g. on close) must not be reported as unhandled.
      pending.catch(noop);
      throw err;
    } finally {
      this.#readParked = false;
    }
  }

  // Moves kept bytes into `dst`: the count moved.
  #copyLeft(dst: Uint8Array): number {
    const k = Math.min(this.#leftEnd - this.#leftStart, dst.length);
    dst.set(this.#buf!.subarray(this.#leftStart, this.#leftStart + k));
    this.#leftStart += k;
    return k;
  }

  #takeLeft(n: number): Uint8Array {
    const out = this.#buf!.slice(this.#leftStart, this.#leftStart + n);
    this.#leftStart += n;
    return out;
  }

  // Sizes the next read to the traffic: grow while reads fill the buffer,
  // shrink when they use little of it, so an idle connection pins little.
  #adapt(n: number, size: number): void {
    if (n === size) this.#readSize = Math.min(size * 4, this.#maxRead);
    else if (n < size >> 2) {
      this.#readSize = Math.max(size >> 1, Math.min(MIN_READ_SIZE, this.#maxRead));
    }
  }

  /**
   * Writes all of `data` (a string is sent as UTF-8). Resolves once the
   * backend has taken every byte, so a peer that does not read holds the
   * writer back rather than growing memory.
   */
  write(data: string | Uint8Array, opts?: WaitOptions): Promise<void> {
    return this.#write(typeof data === "string" ? encoder.encode(data) : data, opts) ?? DONE;
  }

  /**
   * {@linkcode Conn.write} without options, returning `undefined` when
   * every byte was taken at once (nothing to wait for). The write is not
   * given up when the calling task is cancelled: close the connection to
   * end it.
   *
   * @internal
   */
  writeNow(bytes: Uint8Array): Promise<void> | undefined {
    if (this.#h.tryWrite || this.#writing || this.#closed || this.#shut) {
      return this.#write(bytes, undefined);
    }
    // A backend that only writes asynchronously (deno): straight through,
    // without a parked wait; the caller ends a stalled write by closing.
    this.#writing = true;
    return this.#writeThrough(bytes);
  }

  async #writeThrough(bytes: Uint8Array): Promise<void> {
    try {
      let off = await this.#h.write(bytes);
      while (off < bytes.length) off += await this.#h.write(bytes.subarray(off));
    } finally {
      this.#release();
    }
  }

  #write(bytes: Uint8Array, opts: WaitOptions | undefined): Promise<void> | undefined {
    if (this.#closed) return Promise.reject(new ClosedError(this.#writeWhat));
    if (this.#shut) return Promise.reject(new ClosedError(`write ${this.#label} after shutdown`));
    // Waiting for the turn and every partial write share one budget.
    if (opts?.timeout !== undefined) opts = budget(opts);
    if (this.#writing) return this.#writeQueued(bytes, opts);
    const h = this.#h;
    let sent = 0;
    try {
      this.#checkWait("write", opts);
      // The common small write: one synchronous syscall, nothing to wait for.
      if (h.tryWrite && (sent = h.tryWrite(bytes)) === bytes.length) return undefined;
    } catch (err) {
      return Promise.reject(err);
    }
    this.#writing = true;
    const rest = sent === 0 ? bytes : bytes.subarray(sent);
    if (opts !== undefined) return this.#writeAll(rest, opts);
    const parked = this.#parkedWrite ??= new ParkedWrite(
      this.#h,
      () => this.#release(),
      () => this.close(),
    );
    parked.bytes = rest;
    return park(this.#writeWhat, undefined, parked.start);
  }

  async #writeQueued(bytes: Uint8Array, opts: WaitOptions | undefined): Promise<void> {
    await this.#waitTurn(this.#writeWhat, opts);
    if (this.#shut) {
      this.#release();
      throw new ClosedError(`write ${this.#label} after shutdown`);
    }
    return this.#writeAll(bytes, opts);
  }

  // Waits until the write lock is handed over to this caller.
  #waitTurn(what: string, opts: WaitOptions | undefined): Promise<void> {
    return park<void>(what, opts, (resolve, reject) => {
      const waiter = { resolve, reject };
      (this.#writers ??= []).push(waiter);
      return () => {
        const i = this.#writers!.indexOf(waiter);
        if (i >= 0) this.#writers!.splice(i, 1);
      };
    });
  }

  #release(): void {
    const next = this.#writers?.shift();
    if (next) next.resolve();
    else this.#writing = false;
  }

  async #writeAll(bytes: Uint8Array, opts: WaitOptions | undefined): Promise<void> {
    try {
      let off = 0;
      while (off < bytes.length) {
        const pending = this.#h.write(off === 0 ? bytes : bytes.subarray(off));
        try {
          off += await race(this.#writeWhat, pending, opts);
        } catch (err) {
          pending.catch(noop);
          // Given up part-way while the backend write may still run: the
          // peer would see a truncated message, so the stream is closed.
          const code = (err as { code?: string }).code;
          if (code === "timeout" || code === "cancelled") this.close();
          throw err;
        }
      }
    } finally {
      this.#release();
    }
  }

  /**
   * Half-closes: waits for queued writes, then sends end-of-stream to the
   * peer. Reading goes on until the peer closes its side. Later writes
   * fail with {@linkcode ClosedError}.
   */
  async shutdown(opts?: WaitOptions): Promise<void> {
    if (this.#closed) throw new ClosedError(`shutdown ${this.#label}`);
    if (this.#shut) return;
    opts = budget(opts);
    if (this.#writing) await this.#waitTurn(`shutdown ${this.#label}`, opts);
    else this.#writing = true;
    try {
      if (this.#shut) return;
      this.#shut = true;
      await race(`shutdown ${this.#label}`, this.#h.closeWrite(), opts);
    } finally {
      this.#release();
    }
  }

  /**
   * Closes the connection. Parked reads, writes and shutdowns wake with
   * {@linkcode ClosedError}. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#h.close();
    this.#buf = this.#readTarget = undefined;
    this.#leftStart = this.#leftEnd = 0;
    traceClose(this.#h.peer.transport, this.#trace);
    const writers = this.#writers;
    this.#writers = undefined;
    if (writers) { for (const w of writers) w.reject(new ClosedError(this.#writeWhat)); }
  }

  /** Sets TCP_NODELAY (no effect on Unix sockets). */
  setNoDelay(on = true): void {
    this.#h.setNoDelay(on);
  }

  /** Sets SO_KEEPALIVE (no effect on Unix sockets). */
  setKeepAlive(on = true): void {
    this.#h.setKeepAlive(on);
  }

  /**
   * Gives up the backend stream without closing it (for upgrades such as
   * STARTTLS). The connection counts as closed afterwards. `check` may
   * refuse the stream by throwing; the connection is then left as it was.
   *
   * @internal
   */
  detach(what: string, check?: (handle: StreamHandle, where: string) => void): StreamHandle {
    if (this.#closed) throw new ClosedError(`${what} ${this.#label}`);
    if (
      this.#reading || this.#readParked || this.#writing || this.#leftEnd > this.#leftStart
    ) {
      throw new Error(`${what} ${this.#label}: a read or write is in flight, or bytes are unread`);
    }
    check?.(this.#h, `${what} ${this.#label}`);
    this.#closed = true;
    traceClose(this.#h.peer.transport, this.#trace);
    return this.#h;
  }

  /** Closes the connection (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Closes the connection (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/**
 * Options for {@linkcode Listener.accept}.
 *
 * @example
 * ```ts
 * import { type AcceptOptions } from "@lunet/lunet/socket";
 * const opts: AcceptOptions = { timeout: 1000 };
 * console.log(opts);
 * ```
 */
export interface AcceptOptions extends WaitOptions {
  /** Largest chunk one `read()` of this connection returns (default: the listener's). */
  readBufferSize?: number;
}

/**
 * A listening socket. `accept()` waits for the next connection; async
 * iteration yields connections until the listener is closed. `close()`
 * wakes a parked accept with {@linkcode ClosedError} and closes a
 * connection that was accepted but not yet handed out.
 *
 * @example
 * ```ts
 * import { spawn } from "@lunet/lunet";
 * import { connect, listen } from "@lunet/lunet/socket";
 * const server = await listen("tcp", "127.0.0.1", 0);
 * const serving = spawn(async () => {
 *   for await (const conn of server) {
 *     await conn.write("hi\n");
 *     conn.close();
 *   }
 * });
 * const c = await connect("127.0.0.1", server.addr.port);
 * console.log(await c.read());
 * c.close();
 * server.close();
 * await serving;
 * ```
 */
export class Listener implements AsyncIterable<Conn>, Disposable {
  #h: ListenerHandle;
  #label: string;
  #trace: number;
  #readBufferSize: number | undefined;
  #accepting: Promise<StreamHandle> | undefined;
  #closing: AbortController | undefined;
  #parked = false;
  #closed = false;
  #unlink: string | undefined;

  /**
   * Wraps a backend listener; use {@linkcode listen} instead.
   *
   * @internal
   */
  constructor(handle: ListenerHandle, readBufferSize?: number, unlink?: string) {
    this.#h = handle;
    this.#readBufferSize = readBufferSize;
    this.#unlink = unlink;
    this.#label = handle.addr.transport === "unix"
      ? `unix:${handle.addr.path}`
      : formatAddr(handle.addr);
    this.#trace = traceOpen("listener", this.#label);
  }

  /**
   * The bound address (with the real port when 0 was asked for; `port` is
   * only set for TCP).
   */
  get addr(): SocketAddr & { port: number } {
    return this.#h.addr as SocketAddr & { port: number };
  }

  /** True once {@linkcode Listener.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Waits for the next connection. A timed-out accept leaves its request in
   * flight, so no connection is lost. Only one accept may wait at a time.
   */
  async accept(opts?: AcceptOptions): Promise<Conn> {
    if (this.#closed) throw new ClosedError(`accept ${this.#label}`);
    if (this.#parked) throw new Error(`accept ${this.#label}: another accept is already waiting`);
    let pending = this.#accepting;
    if (pending === undefined) {
      pending = this.#accepting = this.#h.accept();
      // A failed accept is not kept: the next one asks the backend again.
      pending.catch(this.#acceptFailed);
    }
    this.#parked = true;
    let handle: StreamHandle;
    try {
      handle = await race(`accept ${this.#label}`, pending, opts);
    } catch (err) {
      if (this.#closed) throw new ClosedError(`accept ${this.#label}`, { cause: err });
      throw err;
    } finally {
      this.#parked = false;
    }
    this.#accepting = undefined;
    if (this.#closed) {
      handle.close();
      throw new ClosedError(`accept ${this.#label}`);
    }
    return new Conn(handle, opts?.readBufferSize ?? this.#readBufferSize);
  }

  // Runs before the waiting accept sees the failure, so a retry starts afresh.
  #acceptFailed = (): void => {
    this.#accepting = undefined;
  };

  /** Stops listening; idempotent. A Unix socket file is removed. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#h.close();
    this.#closing?.abort();
    // A connection accepted after the last accept() gave up is closed here.
    this.#accepting?.then((h) => h.close(), noop);
    this.#accepting = undefined;
    if (this.#unlink) {
      try {
        Deno.removeSync(this.#unlink);
      } catch {
        // Already gone.
      }
    }
    traceClose("listener", this.#trace);
  }

  /**
   * Yields accepted connections until the listener is closed. Accept
   * failures the listener outlives (out of descriptors or memory, a
   * connection reset while queued; see {@linkcode isTransientAcceptError})
   * do not end the loop: it pauses, 10 ms doubling up to 1 s while they
   * last, and accepts again.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<Conn, void, undefined> {
    let failures = 0;
    for (;;) {
      let conn: Conn;
      try {
        conn = await this.accept();
      } catch (err) {
        if (this.#closed && err instanceof ClosedError) return;
        if (!isTransientAcceptError(err)) throw err;
        try {
          await this.pause(acceptBackoff(++failures));
        } catch (paused) {
          if (this.#closed) return;
          throw paused;
        }
        continue;
      }
      failures = 0;
      yield conn;
    }
  }

  /**
   * Waits `ms` milliseconds, or less when the listener is closed meanwhile
   * (then it rejects with {@linkcode Cancelled}): the pause between
   * accepts that failed.
   *
   * @internal shared with lunet/http
   */
  pause(ms: number): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError(`accept ${this.#label}`));
    return sleep(ms, { signal: (this.#closing ??= new AbortController()).signal });
  }

  /** Closes the listener (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * True for an accept failure the listener outlives: out of descriptors,
 * socket buffers or memory (`resource_exhausted`: `EMFILE`, `ENFILE`,
 * `ENOBUFS`, `ENOMEM`), or a queued connection the peer reset or aborted
 * before it was taken (`connection_reset`: `ECONNABORTED`). Accepting again
 * later may succeed.
 *
 * @example
 * ```ts
 * import { isTransientAcceptError } from "@lunet/lunet/socket";
 * import { ResourceExhausted } from "@lunet/lunet";
 * console.log(isTransientAcceptError(new ResourceExhausted("accept: too many open files", "EMFILE"))); // true
 * ```
 */
export function isTransientAcceptError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "resource_exhausted" || code === "connection_reset";
}

function checkBufferSize(size: number | undefined): number {
  if (size === undefined) return DEFAULT_READ_SIZE;
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`readBufferSize must be a positive integer, got ${size}`);
  }
  return size;
}

function checkPort(op: string, host: string, port: number | undefined): number {
  if (port === undefined) {
    throw new TypeError(
      `${op} ${host}: a port is required (or a path containing "/" for a Unix socket)`,
    );
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`${op} ${host}:${port}: port must be an integer 0-65535`);
  }
  return port;
}

/**
 * True when `host` is a loopback address (`127.0.0.0/8`, `::1`) or
 * `localhost`.
 *
 * @example
 * ```ts
 * import { isLoopback } from "@lunet/lunet/socket";
 * console.log(isLoopback("127.0.0.1"), isLoopback("0.0.0.0")); // true false
 * ```
 */
export function isLoopback(host: string): boolean {
  const h = stripBrackets(host).toLowerCase();
  return h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h.startsWith("::ffff:127.");
}

function stripBrackets(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/**
 * Checks the loopback-by-default rule; throws `PermissionDenied` naming the
 * opt-in when `host` is public and no opt-in was given.
 *
 * @internal shared with lunet/tls and lunet/udp
 */
export function checkPublic(op: string, host: string, port: number, allow?: boolean): void {
  if (isLoopback(host) || allow || envFlag(ALLOW_PUBLIC)) return;
  const unreadable = envUnreadable(ALLOW_PUBLIC);
  const hint = unreadable === undefined
    ? `pass { dangerouslyAllowPublic: true } or set ${ALLOW_PUBLIC}=1 to bind it`
    : `pass { dangerouslyAllowPublic: true }, or set ${ALLOW_PUBLIC}=1 and let it be read: ` +
      `${ALLOW_PUBLIC} could not be read (reading it ${unreadable})`;
  throw new PermissionDenied(
    `${op} ${
      formatAddr({ transport: "tcp", hostname: host, port })
    }: not a loopback address; ${hint}`,
  );
}

const ALLOW_PUBLIC = "LUNET_ALLOW_PUBLIC";

/**
 * Removes a stale Unix socket file at `path` before binding; refuses
 * (`AlreadyExists`) when something other than a socket is there.
 *
 * @internal shared with lunet/udp
 */
export function removeStaleSocket(op: string, path: string): void {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw fromDenoError(err, op, `unix:${path}`);
  }
  if (!info.isSocket) {
    throw fromDenoError(new Deno.errors.AlreadyExists(path), op, `unix:${path}`);
  }
  try {
    Deno.removeSync(path);
  } catch (err) {
    throw fromDenoError(err, op, `unix:${path}`);
  }
}

/**
 * Listens on a TCP host and port, or on a Unix socket path. Non-loopback
 * TCP hosts need `{ dangerouslyAllowPublic: true }` or
 * `LUNET_ALLOW_PUBLIC=1`. A stale Unix socket file is replaced; a regular
 * file is never removed (`AlreadyExists`).
 *
 * @example
 * ```ts
 * import { listen } from "@lunet/lunet/socket";
 * const tcp = await listen("tcp", "127.0.0.1", 0);
 * const unix = await listen("unix", await Deno.makeTempFile() + ".sock");
 * console.log(tcp.addr.port > 0, unix.addr.path);
 * tcp.close();
 * unix.close();
 * ```
 */
export async function listen(
  kind: "tcp" | "unix",
  hostOrPath: string,
  port?: number,
  opts: ListenOptions = {},
): Promise<Listener> {
  const backend = selectBackend(opts.backend);
  const readBufferSize = opts.readBufferSize;
  checkBufferSize(readBufferSize);
  if (kind === "unix") {
    removeStaleSocket("listen", hostOrPath);
    const handle = await backend.listen({
      addr: { transport: "unix", path: hostOrPath },
      backlog: opts.backlog,
    });
    return new Listener(handle, readBufferSize, hostOrPath);
  }
  if (kind !== "tcp") throw new TypeError(`listen: kind must be "tcp" or "unix", got "${kind}"`);
  const host = stripBrackets(hostOrPath);
  checkPort("listen", host, port);
  checkPublic("listen", host, port!, opts.dangerouslyAllowPublic);
  const handle = await backend.listen({
    addr: { transport: "tcp", hostname: host === "localhost" ? "127.0.0.1" : host, port },
    reusePort: opts.reusePort,
    backlog: opts.backlog,
  });
  return new Listener(handle, readBufferSize);
}

/**
 * Resolves a connect target to addresses to try in order: a path (a host
 * containing `/`), an IP literal, or a name looked up like the system does.
 *
 * @internal shared with lunet/tls
 */
export async function resolveTarget(
  host: string,
  port: number | undefined,
  opts: WaitOptions | undefined,
): Promise<SocketAddr[]> {
  if (host.includes("/")) return [{ transport: "unix", path: host }];
  const name = stripBrackets(host);
  checkPort("connect", name, port);
  const ips = isIpLiteral(name) ? [name] : await lookup(name, opts);
  return ips.map((hostname) => ({ transport: "tcp", hostname, port }));
}

function isIpLiteral(host: string): boolean {
  return host.includes(":") || /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Connects each resolved address in turn and returns the first stream
 * that connects (or the last error).
 *
 * @internal shared with lunet/tls
 */
export async function connectHandle(
  backend: Backend,
  addrs: SocketAddr[],
  opts: WaitOptions | undefined,
): Promise<StreamHandle> {
  let last: unknown;
  for (const addr of addrs) {
    // Only a wait that can give up (a task, a budget or a signal) needs one.
    const giveUp = opts !== undefined || current() !== undefined
      ? new AbortController()
      : undefined;
    const pending = backend.connect(addr, giveUp?.signal);
    try {
      return await race("connect " + formatAddr(addr), pending, opts);
    } catch (err) {
      // A connect given up on closes its socket now; one that completes
      // all the same (a backend without `signal`) is closed then.
      giveUp?.abort();
      pending.then((h) => h.close(), noop);
      last = err;
      if ((err as { code?: string }).code === "timeout") throw err;
      if ((err as { code?: string }).code === "cancelled") throw err;
    }
  }
  throw last;
}

/**
 * A Unix socket path as {@linkcode connect} takes it: one that contains
 * `/` (`./app.sock`, `/run/app.sock`).
 *
 * @example
 * ```ts
 * import type { UnixPath } from "@lunet/lunet/socket";
 * const path: UnixPath = "/run/app.sock";
 * console.log(path);
 * ```
 */
export type UnixPath = `${string}/${string}`;

/**
 * Connects to `host:port` over TCP (names are resolved; IPv4 and IPv6), or
 * to a Unix socket when given a path containing `/` and no port.
 *
 * @example
 * ```ts
 * import { connect, listen } from "@lunet/lunet/socket";
 * const server = await listen("tcp", "127.0.0.1", 0);
 * const conn = await connect("localhost", server.addr.port, { timeout: 2000 });
 * console.log(conn.peer);
 * conn.close();
 * server.close();
 * ```
 */
export function connect(host: string, port: number, opts?: ConnectOptions): Promise<Conn>;
/**
 * Connects to the Unix socket at `path`.
 *
 * @example
 * ```ts
 * import { connect, listen } from "@lunet/lunet/socket";
 * const path = `${await Deno.makeTempDir()}/app.sock` as const;
 * const server = await listen("unix", path);
 * const conn = await connect(path, { timeout: 2000 });
 * conn.close();
 * server.close();
 * ```
 */
export function connect(path: UnixPath, opts?: ConnectOptions): Promise<Conn>;
export async function connect(
  host: string,
  portOrOpts?: number | ConnectOptions,
  maybeOpts?: ConnectOptions,
): Promise<Conn> {
  const port = typeof portOrOpts === "number" ? portOrOpts : undefined;
  const opts = typeof portOrOpts === "object" ? portOrOpts : maybeOpts;
  const backend = selectBackend(opts?.backend);
  const readBufferSize = checkBufferSize(opts?.readBufferSize);
  const addrs = await resolveTarget(host, port, opts);
  return new Conn(await connectHandle(backend, addrs, opts), readBufferSize);
}
