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
  /**
   * Optional: upgrades the stream to TLS as a client with Deno's TLS
   * (`Deno.startTls`), on backends whose TCP streams are Deno's own
   * connections. The plain stream is consumed; the TLS connection's
   * handshake is still to be completed.
   */
  startTls?(opts: Deno.StartTlsOptions): Promise<Deno.TlsConn>;
}

/**
 * A bound datagram socket (UDP, or Unix datagrams) as a backend sees it.
 * An IP address has `transport: "tcp"` here: it names the address family
 * lunet formats as `host:port`, not the protocol.
 */
export interface DatagramHandle {
  /** The bound address. */
  readonly local: SocketAddr;
  /**
   * Receives the next datagram into `buf`: resolves with its length, or
   * with a length of at least `buf.length` when it did not fit (the rest is
   * dropped). The sender is then in {@linkcode DatagramHandle.from}.
   */
  receive(buf: Uint8Array): Promise<number>;
  /** The sender of the datagram the last `receive` or `tryRecv` took. */
  from(): SocketAddr;
  /**
   * Sends one datagram to `host:port` (to the path `host` on a Unix
   * datagram socket); resolves with the byte count sent.
   */
  send(data: Uint8Array, host: string, port: number): Promise<number>;
  /**
   * Joins the multicast `group` on the interface with the IPv4 address
   * `iface` (IPv6 groups use the system's interface); resolves with a
   * function that leaves it.
   */
  joinMulticast(group: string, iface: string): Promise<() => Promise<void>>;
  /** Closes the socket; idempotent. Pending calls reject with `ClosedError`. */
  close(): void;
  /**
   * Optional synchronous fast path: takes the next datagram into `buf`
   * without waiting, with `receive`'s result, or `-1` when none is queued
   * (then wait with `onReadable`). Nothing is taken while waiting, so a
   * wait given up loses no datagram.
   */
  tryRecv?(buf: Uint8Array): number;
  /**
   * Optional, with `tryRecv`: calls `wake` once a datagram may be queued
   * (at once when one may be already, or when the socket is closed);
   * `undefined` cancels.
   */
  onReadable?(wake: (() => void) | undefined): void;
  /**
   * Optional synchronous fast path: sends without waiting, with `send`'s
   * result, or `-1` when the send buffer is full (then wait with
   * `onWritable`).
   */
  trySend?(data: Uint8Array, host: string, port: number): number;
  /** Optional, with `trySend`: like `onReadable`, for room in the send buffer. */
  onWritable?(wake: (() => void) | undefined): void;
}

/** Options a backend's datagram bind understands. */
export interface DatagramBindOptions {
  /** Let other sockets bind the same address (`SO_REUSEADDR`, and `SO_REUSEPORT` on `ffi`). */
  reuseAddress?: boolean;
  /** Loop sent multicast datagrams back to this host. */
  multicastLoopback?: boolean;
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
  /**
   * Binds a datagram socket to an IP address and port (`transport: "tcp"`)
   * or to a Unix path.
   */
  bindDatagram(addr: SocketAddr, opts?: DatagramBindOptions): DatagramHandle;
}
