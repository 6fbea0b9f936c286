/**
 * UDP and Unix datagram sockets. UDP runs on the selected socket backend
 * (see lunet/socket): on `ffi`, nonblocking libc sockets on the epoll
 * poller; on `deno`, `Deno.listenDatagram` (which needs `--unstable-net`,
 * or `"unstable": ["net"]` in deno.json). Unix datagram sockets always use
 * `Deno.listenDatagram`. Like stream
 * listeners, binds are loopback-only unless the public opt-in is named.
 * `recv` honours the task's cancellation and `{ timeout, deadline, signal }`
 * without losing a datagram; `close()` wakes a parked `recv` with
 * `ClosedError`; a datagram larger than the receive limit is reported with
 * `ProtocolError`, never silently cut.
 *
 * @example Echo
 * ```ts
 * import * as udp from "@lunet/lunet/udp";
 * const server = udp.bind("127.0.0.1", 0);
 * const client = udp.bind("127.0.0.1", 0);
 * await client.send("ping", "127.0.0.1", server.local.port);
 * const msg = await server.recv({ timeout: 1000 });
 * await server.send(msg.data, msg.host, msg.port);
 * console.log(new TextDecoder().decode((await client.recv()).data)); // "ping"
 * client.close();
 * server.close();
 * ```
 * @module
 */
import { clearImmediate, setImmediate } from "node:timers";
import {
  Cancelled,
  ClosedError,
  fromDenoError,
  LunetError,
  ProtocolError,
  TimeoutError,
} from "./errors.ts";
import { checkCancelled, current, deadlineOf, park, race, type WaitOptions } from "./_wait.ts";
import { traceClose, traceOpen } from "./trace.ts";
import { checkPublic, removeStaleSocket } from "./socket.ts";
import { formatAddr } from "./backend/deno.ts";
import { bindDatagram, FfiDatagram } from "./backend/ffi/datagram.ts";
import { selectBackend } from "./backend/select.ts";

export type { WaitOptions } from "./_wait.ts";

/**
 * Options for {@linkcode bind}.
 *
 * @example
 * ```ts
 * import type { BindOptions } from "@lunet/lunet/udp";
 * const opts: BindOptions = { maxDatagram: 1500, reuseAddress: true };
 * console.log(opts);
 * ```
 */
export interface BindOptions {
  /** Allow binding a non-loopback address (or set `LUNET_ALLOW_PUBLIC=1`). */
  dangerouslyAllowPublic?: boolean;
  /** Largest datagram `recv` accepts, in bytes (default 65536). */
  maxDatagram?: number;
  /** Let other sockets bind the same address (SO_REUSEADDR). */
  reuseAddress?: boolean;
  /** Loop sent multicast datagrams back to this host. */
  multicastLoopback?: boolean;
  /**
   * The I/O backend for UDP (default: as lunet/socket picks it). Unix
   * datagram sockets always use `Deno.listenDatagram`.
   */
  backend?: "deno" | "ffi";
}

/**
 * One received datagram. For Unix datagram sockets `host` is the sender's
 * path (empty when it is unbound) and `port` is 0.
 *
 * @example
 * ```ts
 * import type { Datagram } from "@lunet/lunet/udp";
 * const d: Datagram = { data: new Uint8Array(1), host: "127.0.0.1", port: 9 };
 * console.log(d.host);
 * ```
 */
export interface Datagram {
  /** The payload. */
  data: Uint8Array;
  /** Sender address (IP or Unix path). */
  host: string;
  /** Sender port (0 for Unix). */
  port: number;
}

/**
 * The local address of a datagram socket.
 *
 * @example
 * ```ts
 * import * as udp from "@lunet/lunet/udp";
 * const s = udp.bind("127.0.0.1", 0);
 * const { hostname, port } = s.local;
 * console.log(hostname, port);
 * s.close();
 * ```
 */
export interface DatagramAddr {
  /** `"udp"` or `"unix"`. */
  transport: "udp" | "unix";
  /** Bound IP (udp). */
  hostname: string;
  /** Bound port (udp; 0 for unix). */
  port: number;
  /** Bound path (unix). */
  path?: string;
}

const DEFAULT_MAX = 65536;
// Datagrams an FFI socket takes without waiting before it yields one
// macrotask, so a flooded socket cannot starve timers and other I/O.
const RECV_BURST = 64;
const encoder = new TextEncoder();
function noop(): void {}

// What a wait that finds its result ready at once still owes the caller:
// cancellation, an aborted signal or a passed deadline fail it.
// `what` names the operation in the error.
function checkWait(what: () => string, opts: WaitOptions | undefined): void {
  if (current()?.cancelled) checkCancelled(what());
  if (opts === undefined) return;
  if (opts.signal?.aborted) throw new Cancelled(what(), { cause: opts.signal.reason });
  const limit = deadlineOf(opts);
  if (limit !== undefined && limit <= Date.now()) throw new TimeoutError(what());
}

function macrotask(what: string, opts: WaitOptions | undefined): Promise<void> {
  return park(what, opts, (resolve) => {
    const t = setImmediate(resolve);
    return () => clearImmediate(t);
  });
}

/**
 * A bound datagram socket; create it with {@linkcode bind}.
 *
 * @example
 * ```ts
 * import * as udp from "@lunet/lunet/udp";
 * const s = udp.bind("127.0.0.1", 0);
 * await s.recv({ timeout: 10 }).catch((e) => console.log(e.code)); // "timeout"
 * s.close();
 * ```
 */
export class UdpSocket implements Disposable {
  #conn: Deno.DatagramConn | FfiDatagram;
  #unix: boolean;
  #label: string;
  #trace: number;
  #max: number;
  #scratch: Uint8Array;
  #receiving: Promise<[Uint8Array, Deno.Addr]> | undefined;
  #parked = false;
  #burst = 0;
  #closed = false;
  #unlink: string | undefined;
  /** The bound address. */
  readonly local: DatagramAddr;

  /**
   * Wraps a Deno or FFI datagram socket; use {@linkcode bind} instead.
   *
   * @internal
   */
  constructor(conn: Deno.DatagramConn | FfiDatagram, maxDatagram: number, unlink?: string) {
    this.#conn = conn;
    this.#max = maxDatagram;
    this.#scratch = new Uint8Array(maxDatagram + 1);
    this.#unlink = unlink;
    const addr: Deno.Addr = conn instanceof FfiDatagram
      ? { transport: "udp", hostname: conn.local.hostname!, port: conn.local.port! }
      : conn.addr;
    this.#unix = addr.transport !== "udp";
    this.local = this.#unix
      ? { transport: "unix", hostname: "", port: 0, path: (addr as Deno.UnixAddr).path }
      : {
        transport: "udp",
        hostname: (addr as Deno.NetAddr).hostname,
        port: (addr as Deno.NetAddr).port,
      };
    this.#label = this.#unix
      ? `unix:${this.local.path}`
      : formatAddr({ transport: "tcp", hostname: this.local.hostname, port: this.local.port });
    this.#trace = traceOpen("udp", this.#label);
  }

  /**
   * Waits for the next datagram. Throws `ProtocolError` (and drops the
   * datagram) when it is larger than `maxDatagram`. Only one `recv` may
   * wait at a time; a timed-out `recv` keeps its request for the next one.
   */
  async recv(opts?: WaitOptions): Promise<Datagram> {
    if (this.#closed) throw new ClosedError(`recv ${this.#label}`);
    if (this.#parked) throw new Error(`recv ${this.#label}: another recv is already waiting`);
    this.#parked = true;
    let got: Datagram & { length: number };
    try {
      got = this.#conn instanceof FfiDatagram
        ? await this.#recvFfi(this.#conn, opts)
        : await this.#recvDeno(this.#conn, opts);
    } finally {
      this.#parked = false;
    }
    if (got.length > this.#max) {
      throw new ProtocolError(
        `recv ${this.#label}: datagram from ${got.host}:${got.port} larger than ${this.#max} bytes`,
      );
    }
    return { data: got.data, host: got.host, port: got.port };
  }

  async #recvDeno(
    conn: Deno.DatagramConn,
    opts: WaitOptions | undefined,
  ): Promise<Datagram & { length: number }> {
    const pending = this.#receiving ??= conn.receive(this.#scratch);
    let got: [Uint8Array, Deno.Addr];
    try {
      got = await race(`recv ${this.#label}`, pending, opts);
    } catch (err) {
      pending.catch(noop);
      if (this.#closed) throw new ClosedError(`recv ${this.#label}`, { cause: err });
      // A timeout or cancellation leaves the receive in flight for the next recv.
      if (err instanceof LunetError) throw err;
      this.#receiving = undefined;
      throw fromDenoError(err, "recv", this.#label);
    }
    this.#receiving = undefined;
    const [view, from] = got;
    const sender = from.transport === "udp"
      ? { host: (from as Deno.NetAddr).hostname, port: (from as Deno.NetAddr).port }
      : { host: (from as Deno.UnixAddr).path ?? "", port: 0 };
    return { data: view.slice(), length: view.length, ...sender };
  }

  // Waits for readiness without taking a datagram, so a wait given up loses none.
  async #recvFfi(
    conn: FfiDatagram,
    opts: WaitOptions | undefined,
  ): Promise<Datagram & { length: number }> {
    const what = `recv ${this.#label}`;
    checkWait(() => what, opts);
    if (++this.#burst > RECV_BURST) {
      this.#burst = 0;
      await macrotask(what, opts);
    }
    let n: number;
    while ((n = conn.tryRecv(this.#scratch)) < 0) {
      this.#burst = 0;
      await park<void>(what, opts, (resolve) => {
        conn.onReadable(resolve);
        return () => conn.onReadable(undefined);
      });
    }
    const from = conn.from();
    const data = this.#scratch.slice(0, Math.min(n, this.#scratch.length));
    return { data, length: n, host: from.hostname!, port: from.port! };
  }

  /**
   * Sends one datagram to `host:port` (or to the Unix path `host`).
   * Throws when the system sent only part of it.
   */
  async send(data: string | Uint8Array, host: string, port = 0, opts?: WaitOptions): Promise<void> {
    if (this.#closed) throw new ClosedError(`send ${this.#label}`);
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    if (this.#conn instanceof FfiDatagram) {
      return this.#sendFfi(this.#conn, bytes, host, port, opts);
    }
    const to: Deno.Addr = this.#unix
      ? { transport: "unixpacket", path: host }
      : { transport: "udp", hostname: host, port };
    const target = this.#unix ? host : formatAddr({ transport: "tcp", hostname: host, port });
    let n: number;
    try {
      n = await race(`send ${target}`, this.#conn.send(bytes, to), opts);
    } catch (err) {
      throw fromDenoError(err, "send", target);
    }
    if (n !== bytes.length) {
      throw new Error(`send ${target}: only ${n} of ${bytes.length} bytes were sent`);
    }
  }

  async #sendFfi(
    conn: FfiDatagram,
    bytes: Uint8Array,
    host: string,
    port: number,
    opts: WaitOptions | undefined,
  ): Promise<void> {
    const target = () => formatAddr({ transport: "tcp", hostname: host, port });
    checkWait(() => `send ${target()}`, opts);
    let n: number;
    const ip = host !== "localhost" ? host : conn.ipv4 ? "127.0.0.1" : "::1";
    while ((n = conn.trySend(bytes, ip, port)) < 0) {
      const what = `send ${target()}`;
      await park<void>(what, opts, (resolve) => {
        conn.onWritable(resolve);
        return () => conn.onWritable(undefined);
      });
    }
    if (n !== bytes.length) {
      throw new Error(`send ${target()}: only ${n} of ${bytes.length} bytes were sent`);
    }
  }

  /**
   * Joins an IPv4 multicast group on the interface with address `iface`
   * (default `0.0.0.0`: the system's choice). Returns a function that leaves it.
   */
  async joinMulticast(group: string, iface = "0.0.0.0"): Promise<() => Promise<void>> {
    const conn = this.#conn;
    if (conn instanceof FfiDatagram) {
      conn.membership(group, iface, true);
      return () => {
        try {
          return Promise.resolve(conn.membership(group, iface, false));
        } catch (err) {
          return Promise.reject(err);
        }
      };
    }
    try {
      if (group.includes(":")) {
        const m = await conn.joinMulticastV6(group, 0);
        return () => m.leave();
      }
      const m = await conn.joinMulticastV4(group, iface);
      return () => m.leave();
    } catch (err) {
      throw fromDenoError(err, "joinMulticast", group);
    }
  }

  /** Closes the socket; a parked `recv` wakes with `ClosedError`. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    if (this.#unlink) {
      try {
        Deno.removeSync(this.#unlink);
      } catch {
        // Already gone.
      }
    }
    traceClose("udp", this.#trace);
  }

  /** Closes the socket (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }
}

function unavailable(): Error {
  return new Error(
    "udp bind: Deno.listenDatagram is unavailable; run with --unstable-net " +
      'or add "unstable": ["net"] to deno.json',
  );
}

/**
 * Binds a UDP socket to `host:port` (port 0 picks a free one), or a Unix
 * datagram socket when `host` contains `/` (a stale socket file there is
 * replaced; a regular file is never removed).
 *
 * @example
 * ```ts
 * import * as udp from "@lunet/lunet/udp";
 * const s = udp.bind("::1", 0);
 * console.log(s.local);
 * s.close();
 * ```
 */
export function bind(host: string, port = 0, opts: BindOptions = {}): UdpSocket {
  const max = opts.maxDatagram ?? DEFAULT_MAX;
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`udp bind: bad maxDatagram ${max}`);
  if (host.includes("/")) {
    if (typeof Deno.listenDatagram !== "function") throw unavailable();
    removeStaleSocket("bind", host);
    try {
      return new UdpSocket(Deno.listenDatagram({ transport: "unixpacket", path: host }), max, host);
    } catch (err) {
      throw fromDenoError(err, "bind", `unix:${host}`);
    }
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`bind ${host}:${port}: port must be an integer 0-65535`);
  }
  checkPublic("bind", host, port, opts.dangerouslyAllowPublic);
  const hostname = host === "localhost" ? "127.0.0.1" : host;
  if (selectBackend(opts.backend).name === "ffi") {
    try {
      return new UdpSocket(bindDatagram({ transport: "tcp", hostname, port }, opts), max);
    } catch (err) {
      if (!(err instanceof TypeError)) throw err;
      const label = formatAddr({ transport: "tcp", hostname: host, port });
      throw new TypeError(`bind ${label}: ${err.message}`, { cause: err });
    }
  }
  if (typeof Deno.listenDatagram !== "function") throw unavailable();
  try {
    const conn = Deno.listenDatagram({
      transport: "udp",
      hostname,
      port,
      reuseAddress: opts.reuseAddress,
      loopback: opts.multicastLoopback,
    });
    return new UdpSocket(conn, max);
  } catch (err) {
    throw fromDenoError(err, "bind", formatAddr({ transport: "tcp", hostname: host, port }));
  }
}
