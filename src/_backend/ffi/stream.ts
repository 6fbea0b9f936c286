/**
 * A connected nonblocking stream socket (TCP or Unix) of the FFI backend.
 *
 * Every operation first tries its syscall at once; only after `EAGAIN` (or
 * a short read, which empties the receive queue, when no end of stream was
 * reported) does it park until the edge-triggered poller reports
 * readiness. Linux raises a new edge for every arrival, so the
 * `#readable` / `#writable` flags never make an operation wait for an
 * edge that already passed. The fd is closed
 * exactly once, by `close()`, after it has been taken off the poller; every
 * later call fails with `ClosedError` without touching the fd number.
 *
 * @module
 */
import { ClosedError } from "../../errors.ts";
import { trace, traceClose, traceOpen } from "../../trace.ts";
import { formatAddr } from "../../_address.ts";
import type { SocketAddr, StreamHandle } from "../types.ts";
import { check, errno, errnoError } from "./errno.ts";
import {
  EAGAIN,
  EINPROGRESS,
  EINTR,
  EPOLLERR,
  EPOLLET,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
  IPPROTO_TCP,
  libc,
  MSG_NOSIGNAL,
  SHUT_WR,
  SO_ERROR,
  SO_KEEPALIVE,
  SOL_SOCKET,
  TCP_NODELAY,
} from "./libc.ts";
import { poller, type PollTarget } from "./poller.ts";
import { decodeAddr, SOCKADDR_MAX } from "./sockaddr.ts";
import { getIntOption, setIntOption } from "./sockopt.ts";

const READ_EVENTS = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
const WRITE_EVENTS = EPOLLOUT | EPOLLHUP | EPOLLERR;
const HANGUP_EVENTS = EPOLLRDHUP | EPOLLHUP | EPOLLERR;

/** A parked read or write. */
interface Waiter<T> {
  bytes: Uint8Array;
  resolve(value: T): void;
  reject(err: unknown): void;
}

/** The socket's descriptor (-1 once closed), for `sendfile` (./_sendfile.ts). */
export let fdOf: (s: FfiStream) => number;

// A parked connect waits in the writer slot with no bytes to send.
const NOTHING = new Uint8Array(0);

/**
 * A nonblocking socket fd seen through the backend interface. Construct it
 * right after the fd is created: it registers the fd with the poller and
 * owns it from then on.
 */
export class FfiStream implements StreamHandle, PollTarget {
  static {
    fdOf = (s) => s.#fd;
  }
  readonly peer: SocketAddr;
  #local: SocketAddr | undefined;
  #fd: number;
  #id: number;
  #trace: number;
  #labelText: string | undefined;
  #readable = true;
  #hangup = false;
  #writable = true;
  #reader: Waiter<number | null> | undefined;
  #writer: Waiter<number> | undefined;
  #wake: (() => void) | undefined;
  // The size argument of the last send, as the bigint libc takes:
  // responses often repeat their length.
  #lastSize = 0;
  #lastSizeBig = 0n;

  /**
   * @param fd a nonblocking stream socket, owned by the stream from now on
   * @param peer the peer address
   * @param label how messages name the stream (`127.0.0.1:80`, a path);
   *   the peer address when not given
   */
  constructor(fd: number, peer: SocketAddr, label?: string) {
    this.#fd = fd;
    this.peer = peer;
    this.#labelText = label;
    this.#trace = traceOpen("fd", trace.enabled ? this.#label : "");
    try {
      this.#id = poller().add(fd, READ_EVENTS | WRITE_EVENTS | EPOLLET, this);
    } catch (err) {
      libc().close(fd);
      traceClose("fd", this.#trace);
      throw err;
    }
  }

  // How messages name the stream, made when first needed.
  get #label(): string {
    return this.#labelText ??= formatAddr(this.peer);
  }

  /** The local address (asked of the kernel on first use). */
  get local(): SocketAddr {
    if (this.#local) return this.#local;
    if (this.#fd < 0) return { transport: this.peer.transport };
    const name = new Uint8Array(SOCKADDR_MAX);
    const len = new Uint32Array([SOCKADDR_MAX]);
    check(libc().getsockname(this.#fd, name, len), "getsockname", this.#label);
    return this.#local = decodeAddr(name, len[0]);
  }

  /**
   * Completes a nonblocking `connect` to the encoded address `sockaddr`.
   * On failure the caller closes the stream.
   */
  connect(sockaddr: Uint8Array): Promise<void> {
    const r = libc().connect(this.#fd, sockaddr, sockaddr.length);
    if (r === 0) return Promise.resolve();
    const code = errno();
    if (code !== EINPROGRESS && code !== EINTR) {
      return Promise.reject(errnoError(code, "connect", this.#label));
    }
    this.#writable = false;
    return new Promise<number>((resolve, reject) => {
      this.#writer = { bytes: NOTHING, resolve, reject };
      poller().park();
    }).then(() => {
      if (this.#fd < 0) throw new ClosedError(`connect ${this.#label}`);
      const err = getIntOption(this.#fd, SOL_SOCKET, SO_ERROR, "connect", this.#label);
      if (err !== 0) throw errnoError(err, "connect", this.#label);
    });
  }

  read(buf: Uint8Array): Promise<number | null> {
    try {
      const n = this.tryRead(buf);
      if (n !== -1) return Promise.resolve(n);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#reader) {
      return Promise.reject(new Error(`read ${this.#label}: another read is already waiting`));
    }
    return new Promise((resolve, reject) => {
      this.#reader = { bytes: buf, resolve, reject };
      poller().park();
    });
  }

  /**
   * Reads what has already arrived, without waiting: the byte count, `null`
   * at end of stream, or `-1` when nothing is there yet.
   */
  tryRead(buf: Uint8Array): number | null {
    if (this.#fd < 0) throw new ClosedError(`read ${this.#label}`);
    if (!this.#readable || this.#reader) return -1;
    if (buf.length === 0) return 0;
    for (;;) {
      const n = libc().read(this.#fd, buf, BigInt(buf.length));
      if (n > 0) {
        // A short read emptied the queue; data arriving later raises a new
        // edge (Linux reports every arrival), so skip the EAGAIN syscall,
        // unless an end of stream or error already reported waits behind it.
        if (n < buf.length && !this.#hangup) this.#readable = false;
        return n;
      }
      if (n === 0) return null;
      const code = errno();
      if (code === EAGAIN) {
        this.#readable = false;
        return -1;
      }
      if (code !== EINTR) throw errnoError(code, "read", this.#label);
    }
  }

  onReadable(wake: (() => void) | undefined): void {
    const had = this.#wake !== undefined;
    this.#wake = undefined;
    if (wake !== undefined && this.#fd >= 0 && !this.#readable) {
      this.#wake = wake;
      if (!had) poller().park();
      return;
    }
    if (had) poller().unpark();
    // Close calls it too; the caller's next tryRead throws ClosedError.
    wake?.();
  }

  write(data: Uint8Array): Promise<number> {
    let n: number;
    try {
      n = this.tryWrite(data);
    } catch (err) {
      return Promise.reject(err);
    }
    if (n > 0 || data.length === 0) return Promise.resolve(n);
    if (this.#writer) {
      return Promise.reject(new Error(`write ${this.#label}: another write is already waiting`));
    }
    return new Promise((resolve, reject) => {
      this.#writer = { bytes: data, resolve, reject };
      poller().park();
    });
  }

  /**
   * Writes what the socket buffer takes now, without waiting; returns the
   * byte count (0 when the buffer is full).
   */
  tryWrite(data: Uint8Array): number {
    if (this.#fd < 0) throw new ClosedError(`write ${this.#label}`);
    if (!this.#writable || this.#writer) return 0;
    // Send until done or EAGAIN: after a short send the kernel may have
    // freed room already (loopback ACKs arrive inside the call) and then
    // raises no further writability edge.
    let off = 0;
    while (off < data.length) {
      const rest = off === 0 ? data : data.subarray(off);
      const n = libc().send(this.#fd, rest, this.#sizeOf(rest.length), MSG_NOSIGNAL);
      if (n >= 0) {
        off += n;
        continue;
      }
      const code = errno();
      if (code === EAGAIN) {
        this.#writable = false;
        break;
      }
      if (code !== EINTR) throw errnoError(code, "write", this.#label);
    }
    return off;
  }

  #sizeOf(n: number): bigint {
    if (n !== this.#lastSize) {
      this.#lastSize = n;
      this.#lastSizeBig = BigInt(n);
    }
    return this.#lastSizeBig;
  }

  closeWrite(): Promise<void> {
    if (this.#fd < 0) return Promise.reject(new ClosedError(`shutdown ${this.#label}`));
    if (libc().shutdown(this.#fd, SHUT_WR) < 0) {
      return Promise.reject(errnoError(errno(), "shutdown", this.#label));
    }
    return Promise.resolve();
  }

  close(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    const reader = this.#reader, writer = this.#writer;
    this.#reader = this.#writer = undefined;
    const p = poller();
    p.remove(this.#id, fd);
    libc().close(fd);
    traceClose("fd", this.#trace);
    if (reader) {
      p.unpark();
      reader.reject(new ClosedError(`read ${this.#label}`));
    }
    if (writer) {
      p.unpark();
      writer.reject(new ClosedError(`write ${this.#label}`));
    }
    this.#wakeReaders();
  }

  setNoDelay(on: boolean): void {
    if (this.peer.transport !== "tcp" || this.#fd < 0) return;
    setIntOption(this.#fd, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0, "setNoDelay", this.#label);
  }

  setKeepAlive(on: boolean): void {
    if (this.peer.transport !== "tcp" || this.#fd < 0) return;
    setIntOption(this.#fd, SOL_SOCKET, SO_KEEPALIVE, on ? 1 : 0, "setKeepAlive", this.#label);
  }

  onEvents(events: number): void {
    if (events & READ_EVENTS) {
      this.#readable = true;
      if (events & HANGUP_EVENTS) this.#hangup = true;
      if (this.#reader) this.#retryRead(this.#reader);
      this.#wakeReaders();
    }
    if (events & WRITE_EVENTS) {
      this.#writable = true;
      if (this.#writer) this.#retryWrite(this.#writer);
    }
  }

  #wakeReaders(): void {
    const wake = this.#wake;
    if (!wake) return;
    this.#wake = undefined;
    poller().unpark();
    wake();
  }

  #retryRead(w: Waiter<number | null>): void {
    this.#reader = undefined;
    let n: number | null;
    try {
      n = this.tryRead(w.bytes);
    } catch (err) {
      poller().unpark();
      w.reject(err);
      return;
    }
    if (n === -1) {
      this.#reader = w;
      return;
    }
    poller().unpark();
    w.resolve(n);
  }

  #retryWrite(w: Waiter<number>): void {
    this.#writer = undefined;
    let n: number;
    try {
      // A parked connect completes on the first writability report.
      n = w.bytes.length === 0 ? 0 : this.tryWrite(w.bytes);
    } catch (err) {
      poller().unpark();
      w.reject(err);
      return;
    }
    if (n === 0 && w.bytes.length !== 0) {
      this.#writer = w;
      return;
    }
    poller().unpark();
    w.resolve(n);
  }
}
