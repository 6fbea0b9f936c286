/**
 * The narrow interface between lunet/socket and an I/O backend. Two
 * backends implement it: `deno` (Deno.listen / Deno.connect, portable) and
 * `ffi` (nonblocking libc sockets and epoll through Deno.dlopen, Linux).
 * Nothing above this interface can tell which one runs.
 *
 * Contract: every method reports failures by throwing/rejecting with an
 * error from ../errors.ts (use `fromDenoError`), with a message naming the
 * operation and address. `close()` is idempotent and makes pending `read`,
 * `write` and `accept` calls reject with `ClosedError`.
 *
 * @module
 */

/** A socket address. */
export interface SocketAddr {
  /** `"tcp"` or `"unix"`. */
  transport: "tcp" | "unix";
  /** IP address (tcp). */
  hostname?: string;
  /** Port (tcp). */
  port?: number;
  /** Filesystem path (unix). */
  path?: string;
}

/** A connected stream socket as a backend sees it. */
export interface StreamHandle {
  /** Local address. */
  readonly local: SocketAddr;
  /** Peer address. */
  readonly peer: SocketAddr;
  /** Reads into `buf`; resolves with the byte count, or `null` at EOF. */
  read(buf: Uint8Array): Promise<number | null>;
  /** Writes some of `data`; resolves with the byte count written. */
  write(data: Uint8Array): Promise<number>;
  /** Half-closes: sends FIN, keeps reading. */
  closeWrite(): Promise<void>;
  /** Closes the socket; idempotent. */
  close(): void;
  /** Sets TCP_NODELAY (no-op on unix sockets). */
  setNoDelay(on: boolean): void;
  /** Sets SO_KEEPALIVE (no-op on unix sockets). */
  setKeepAlive(on: boolean): void;
  /**
   * Optional synchronous fast path (the `ffi` backend): reads what has
   * already arrived into `buf` without waiting. Returns the byte count,
   * `null` at EOF, or `-1` when nothing is there yet (then wait with
   * `onReadable`, or call `read`). Throws like `read` rejects.
   */
  tryRead?(buf: Uint8Array): number | null;
  /**
   * Optional, with `tryRead`: calls `wake` once when `tryRead` may make
   * progress (data, EOF, an error, or a local close: `tryRead` then throws
   * `ClosedError`), right away when that may already be so. Holds no
   * buffer and no promise while it waits. One callback at a time: a new
   * one replaces the last; `undefined` cancels it.
   */
  onReadable?(wake: (() => void) | undefined): void;
  /**
   * Optional synchronous fast path: writes what the socket takes now, without
   * waiting. Returns the byte count, `0` when it would block (then call
   * `write`). Throws like `write` rejects.
   */
  tryWrite?(data: Uint8Array): number;
}

/** A listening socket as a backend sees it. */
export interface ListenerHandle {
  /** The bound address (with the real port when 0 was asked for). */
  readonly addr: SocketAddr;
  /** Resolves with the next connection. */
  accept(): Promise<StreamHandle>;
  /** Stops listening; idempotent; pending accepts reject with ClosedError. */
  close(): void;
}

/** Options a backend's listen understands. */
export interface BackendListenOptions {
  /** The address to bind. */
  addr: SocketAddr;
  /** Share the port between processes/workers (SO_REUSEPORT, Linux). */
  reusePort?: boolean;
  /** Listen backlog. */
  backlog?: number;
}

/** An I/O backend. */
export interface Backend {
  /** `"deno"` or `"ffi"`. */
  readonly name: "deno" | "ffi";
  /** Binds and listens. */
  listen(opts: BackendListenOptions): ListenerHandle | Promise<ListenerHandle>;
  /**
   * Connects to an already-resolved address. When `signal` aborts before
   * the connection is made, the socket is closed at once (not when the
   * kernel gives up) and the promise rejects.
   */
  connect(addr: SocketAddr, signal?: AbortSignal): Promise<StreamHandle>;
}
