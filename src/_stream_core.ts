/**
 * The buffering and readiness plumbing of a connected stream, behind the
 * public `Conn`: three read engines (readiness waits on a backend with
 * `onReadable`, an in-flight read on one without, and a caller's own
 * buffer and wait through `readSome` / `readNow`), the write lock with its
 * parked and queued writes, half-close, close and detach.
 *
 * lunet/http and lunet/tls reach a connection's core through
 * `streamCore(conn)` (./_conn.ts); users never see it.
 *
 * @module
 */
import { Cancelled, ClosedError, TimeoutError } from "./errors.ts";
import {
  abandon,
  checkCancelled,
  current,
  deadlineOf,
  park,
  race,
  type WaitOptions,
} from "./_wait.ts";
import { trace, traceClose, traceOpen } from "./trace.ts";
import { formatAddr } from "./_address.ts";
import { StreamWriter, type WriterOwner } from "./_stream_writer.ts";
import { ReadScratch } from "./_read_scratch.ts";
import type { SocketAddr, StreamHandle } from "./_backend/types.ts";

const DEFAULT_READ_SIZE = 256 * 1024;
const MIN_READ_SIZE = 1024;

/** Checks a `readBufferSize` option; returns the size to use. */
export function checkBufferSize(size: number | undefined): number {
  if (size === undefined) return DEFAULT_READ_SIZE;
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`readBufferSize must be a positive integer, got ${size}`);
  }
  return size;
}

// How messages name a stream: its peer, or its path for Unix sockets.
function labelOf(h: StreamHandle): string {
  if (h.peer.transport !== "unix") return formatAddr(h.peer);
  return `unix:${h.local.path ?? ""}`;
}

/**
 * The backend stream under a core, for a body sent past the write paths
 * (a file through `sendfile`); only while no write is in flight.
 */
export let handleOf: (core: StreamCore) => StreamHandle;

/** The state and I/O paths of one connected stream (see the module doc). */
export class StreamCore implements WriterOwner {
  static {
    handleOf = (core) => core.#h;
  }
  #h: StreamHandle;
  #scratchSet: ReadScratch | undefined;
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
  #writer: StreamWriter;
  #closed = false;

  /**
   * @param handle the backend stream, owned from now on
   * @param readBufferSize the largest chunk one read returns (checked)
   * @param scratch the read buffers of the handle's backend (for `tryRead`)
   */
  constructor(handle: StreamHandle, readBufferSize?: number, scratch?: ReadScratch) {
    this.#h = handle;
    this.#scratchSet = scratch;
    this.#maxRead = checkBufferSize(readBufferSize);
    this.#readSize = Math.min(MIN_READ_SIZE, this.#maxRead);
    // Messages name the stream lazily; a Unix stream's path is read now,
    // while the socket is open.
    if (handle.peer.transport === "unix") this.#labelText = labelOf(handle);
    this.#trace = traceOpen(handle.peer.transport, trace.enabled ? this.label : "");
    this.#writer = new StreamWriter(handle, this);
  }

  /** How messages name the stream: its peer, or `unix:` and its path. */
  get label(): string {
    return this.#labelText ??= labelOf(this.#h);
  }

  get #readWhat(): string {
    return `read ${this.label}`;
  }

  get #scratch(): ReadScratch {
    return this.#scratchSet ??= new ReadScratch();
  }

  /**
   * The checks a wait makes before parking, for an operation that may
   * finish without waiting: a cancelled task, an aborted signal or a passed
   * deadline fail it before it touches the socket, as they would fail a
   * wait. The message is built only on failure.
   */
  checkWait(op: string, opts: WaitOptions | undefined): void {
    if (current()?.cancelled) checkCancelled(`${op} ${this.label}`);
    if (opts === undefined) return;
    if (opts.signal?.aborted) {
      throw new Cancelled(`${op} ${this.label}`, { cause: opts.signal.reason });
    }
    const limit = deadlineOf(opts);
    if (limit !== undefined && limit <= Date.now()) throw new TimeoutError(`${op} ${this.label}`);
  }

  /** The peer's address. */
  get peer(): SocketAddr {
    return this.#h.peer;
  }

  /** The local address. */
  get local(): SocketAddr {
    return this.#h.local;
  }

  /** True once closed (or detached). */
  get closed(): boolean {
    return this.#closed;
  }

  /** `Conn.read`: the next chunk, or `null` at end of stream. */
  read(opts?: WaitOptions): Promise<Uint8Array | null> {
    if (this.#closed) return Promise.reject(new ClosedError(this.#readWhat));
    if (this.#leftEnd > this.#leftStart) {
      return Promise.resolve(this.#takeLeft(this.#leftEnd - this.#leftStart));
    }
    if (this.#h.onReadable) return this.#pull(undefined, opts) as Promise<Uint8Array | null>;
    return this.#readOwn(opts);
  }

  /** `Conn.readInto`: reads into `dst`; the byte count, or `null` at end of stream. */
  readInto(dst: Uint8Array, opts?: WaitOptions): Promise<number | null> {
    if (this.#closed) return Promise.reject(new ClosedError(this.#readWhat));
    if (dst.length === 0) return Promise.resolve(0);
    if (this.#leftEnd > this.#leftStart) return Promise.resolve(this.#copyLeft(dst));
    if (this.#h.onReadable) return this.#pull(dst, opts) as Promise<number | null>;
    return this.#readIntoOwn(dst, opts);
  }

  /**
   * Reads into `dst` for a reader that runs its own wait (through `park`)
   * around it and keeps its own buffer: the byte count, or `null` at end of
   * stream. The read itself does not park; only one may be in flight, and
   * `dst` must be left alone until it settles.
   */
  readSome(dst: Uint8Array): Promise<number | null> {
    if (this.#closed) return Promise.reject(new ClosedError(this.#readWhat));
    if (this.#leftEnd > this.#leftStart) return Promise.resolve(this.#copyLeft(dst));
    return this.#h.read(dst);
  }

  /**
   * True when the backend has readiness waits (`ffi`): then `readNow` and
   * `onReadable` serve a reader that keeps its own buffer and its own wait.
   */
  get pollable(): boolean {
    return this.#h.onReadable !== undefined;
  }

  /**
   * Reads what has already arrived into `dst`, without waiting: the byte
   * count, `null` at end of stream, or `-1` when nothing is there yet.
   * Only on a `pollable` stream, for its only reader.
   */
  readNow(dst: Uint8Array): number | null {
    if (this.#closed) throw new ClosedError(this.#readWhat);
    if (this.#leftEnd > this.#leftStart) return this.#copyLeft(dst);
    return this.#h.tryRead!(dst);
  }

  /**
   * Calls `wake` once when `readNow` may make progress (or the stream
   * closes); `undefined` cancels. One callback at a time. Only on a
   * `pollable` stream; the caller's wait goes through `park`.
   */
  onReadable(wake: (() => void) | undefined): void {
    if (this.#closed) wake?.();
    else this.#h.onReadable!(wake);
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
    const target = this.#reading ? this.#readTarget! : this.#ownBuffer();
    const n = await this.#waitRead(target, opts);
    if (n === null) return null;
    if (target !== this.#buf) return target.slice(0, n); // a given-up readInto's buffer
    return this.#handOver(target, n);
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

  // Reads what has arrived, waiting for readiness while nothing has: into
  // `dst` (resolves with the count), or with no `dst` into the shared
  // buffer, copied out (resolves with the chunk). A wait that gives up
  // leaves the data in the kernel for the next read.
  #pull(dst: Uint8Array | undefined, opts: WaitOptions | undefined): Promise<unknown> {
    let got;
    try {
      this.checkWait("read", opts);
      got = this.#tryPull(dst);
    } catch (err) {
      return Promise.reject(err);
    }
    return got === -1 ? this.#pullLater(dst, opts) : Promise.resolve(got);
  }

  // One synchronous attempt of #pull: -1 when nothing has arrived.
  #tryPull(dst: Uint8Array | undefined): Uint8Array | number | null {
    if (this.#closed) throw new ClosedError(this.#readWhat);
    if (dst) return this.#h.tryRead!(dst);
    // Chunks grow with the traffic as on every backend. Small reads go
    // through the shared buffer and are copied out; once reads fill more
    // than the smallest size, a fresh buffer is read into and handed over.
    const size = this.#readSize;
    const scratch = this.#scratch;
    const shared = size <= MIN_READ_SIZE;
    const buf = shared ? scratch.shared(size) : scratch.fresh(size);
    const n = this.#h.tryRead!(buf);
    if (n === -1 && !shared) scratch.keep(buf);
    if (n === null || n === -1) return n;
    this.#adapt(n, size);
    if (shared || n < size >> 2) return buf.slice(0, n);
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

  // The connection's own read buffer, sized for the next read.
  #ownBuffer(): Uint8Array {
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
      // A read given up on stays in flight for the next caller.
      abandon(pending);
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

  /** `Conn.write`: resolves once the backend has taken every byte. */
  write(data: string | Uint8Array, opts?: WaitOptions): Promise<void> {
    return this.#writer.write(data, opts);
  }

  /**
   * `write` without options, returning `undefined` when every byte was
   * taken at once (nothing to wait for). The write is not given up when
   * the calling task is cancelled: close the stream to end it.
   */
  writeNow(bytes: Uint8Array): Promise<void> | undefined {
    return this.#writer.writeNow(bytes);
  }

  /** `Conn.shutdown`: waits for queued writes, then sends end-of-stream. */
  shutdown(opts?: WaitOptions): Promise<void> {
    return this.#writer.shutdown(opts);
  }

  /** `Conn.close`: wakes parked reads, writes and shutdowns with `ClosedError`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#h.close();
    this.#buf = this.#readTarget = undefined;
    this.#leftStart = this.#leftEnd = 0;
    traceClose(this.#h.peer.transport, this.#trace);
    this.#writer.closed();
  }

  /** Sets TCP_NODELAY (no effect on Unix sockets). */
  setNoDelay(on: boolean): void {
    this.#h.setNoDelay(on);
  }

  /** Sets SO_KEEPALIVE (no effect on Unix sockets). */
  setKeepAlive(on: boolean): void {
    this.#h.setKeepAlive(on);
  }

  /**
   * Gives up the backend stream without closing it (for upgrades such as
   * STARTTLS). The stream counts as closed afterwards. `check` may refuse
   * the stream by throwing; it is then left as it was.
   */
  detach(what: string, check?: (handle: StreamHandle, where: string) => void): StreamHandle {
    if (this.#closed) throw new ClosedError(`${what} ${this.label}`);
    if (
      this.#reading || this.#readParked || this.#writer.busy || this.#leftEnd > this.#leftStart
    ) {
      throw new Error(`${what} ${this.label}: a read or write is in flight, or bytes are unread`);
    }
    check?.(this.#h, `${what} ${this.label}`);
    this.#closed = true;
    traceClose(this.#h.peer.transport, this.#trace);
    return this.#h;
  }
}
