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
import { Cancelled, ClosedError, ProtocolError, TimeoutError } from "./errors.ts";
import { checkCancelled, current, deadlineOf, park, race, type WaitOptions } from "./_wait.ts";
import { traceClose, traceOpen } from "./trace.ts";
import { checkPublic, formatAddr, removeStaleSocket } from "./_address.ts";
import { selectBackend } from "./_backend/select.ts";
import type { DatagramHandle } from "./_backend/types.ts";

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

let makeUdpSocket: (handle: DatagramHandle, maxDatagram: number, unlink?: string) => UdpSocket;

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
  #h: DatagramHandle;
  // The backend takes datagrams synchronously and reports readiness.
  #pollable: boolean;
  #unix: boolean;
  #label: string;
  #trace: number;
  #max: number;
  #scratch: Uint8Array;
  #receiving: Promise<number> | undefined;
  #parked = false;
  #burst = 0;
  #closed = false;
  #unlink: string | undefined;
  /** The bound address. */
  readonly local: DatagramAddr;

  static {
    makeUdpSocket = (handle, maxDatagram, unlink) => new UdpSocket(handle, maxDatagram, unlink);
  }

  /** @ignore */
  private constructor(handle: DatagramHandle, maxDatagram: number, unlink?: string) {
    this.#h = handle;
    this.#pollable = handle.tryRecv !== undefined && handle.onReadable !== undefined;
    this.#max = maxDatagram;
    this.#scratch = new Uint8Array(maxDatagram + 1);
    this.#unlink = unlink;
    const addr = handle.local;
    this.#unix = addr.transport === "unix";
    this.local = this.#unix
      ? { transport: "unix", hostname: "", port: 0, path: addr.path }
      : { transport: "udp", hostname: addr.hostname!, port: addr.port! };
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
    let n: number;
    try {
      n = this.#pollable ? await this.#recvReady(opts) : await this.#recvPending(opts);
    } finally {
      this.#parked = false;
    }
    const from = this.#h.from();
    const host = from.transport === "unix" ? from.path ?? "" : from.hostname!;
    const port = from.port ?? 0;
    if (n > this.#max) {
      throw new ProtocolError(
        `recv ${this.#label}: datagram from ${host}:${port} larger than ${this.#max} bytes`,
      );
    }
    return { data: this.#scratch.slice(0, n), host, port };
  }

  // Waits for the receive in flight, or starts one; a wait given up leaves
  // it in flight for the next recv, so no datagram is lost.
  async #recvPending(opts: WaitOptions | undefined): Promise<number> {
    let pending = this.#receiving;
    if (pending === undefined) {
      pending = this.#receiving = this.#h.receive(this.#scratch);
      // A failed receive is not kept: the next recv asks the backend again.
      pending.catch(this.#receiveFailed);
    }
    let n: number;
    try {
      n = await race(`recv ${this.#label}`, pending, opts);
    } catch (err) {
      if (this.#closed) throw new ClosedError(`recv ${this.#label}`, { cause: err });
      throw err;
    }
    this.#receiving = undefined;
    return n;
  }

  // Runs before the waiting recv sees the failure.
  #receiveFailed = (): void => {
    this.#receiving = undefined;
  };

  // Waits for readiness without taking a datagram, so a wait given up loses none.
  async #recvReady(opts: WaitOptions | undefined): Promise<number> {
    const h = this.#h;
    const what = `recv ${this.#label}`;
    checkWait(() => what, opts);
    if (++this.#burst > RECV_BURST) {
      this.#burst = 0;
      await macrotask(what, opts);
    }
    let n: number;
    while ((n = h.tryRecv!(this.#scratch)) < 0) {
      this.#burst = 0;
      await park<void>(what, opts, (resolve) => {
        h.onReadable!(resolve);
        return () => h.onReadable!(undefined);
      });
    }
    return n;
  }

  /**
   * Sends one datagram to `host:port` (or to the Unix path `host`).
   * Throws when the system sent only part of it.
   */
  async send(data: string | Uint8Array, host: string, port = 0, opts?: WaitOptions): Promise<void> {
    if (this.#closed) throw new ClosedError(`send ${this.#label}`);
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    const h = this.#h;
    if (h.trySend && h.onWritable) return this.#sendReady(h, bytes, host, port, opts);
    const target = this.#unix ? host : formatAddr({ transport: "tcp", hostname: host, port });
    const n = await race(`send ${target}`, h.send(bytes, host, port), opts);
    if (n !== bytes.length) {
      throw new Error(`send ${target}: only ${n} of ${bytes.length} bytes were sent`);
    }
  }

  async #sendReady(
    h: DatagramHandle,
    bytes: Uint8Array,
    host: string,
    port: number,
    opts: WaitOptions | undefined,
  ): Promise<void> {
    const target = () => formatAddr({ transport: "tcp", hostname: host, port });
    checkWait(() => `send ${target()}`, opts);
    let n: number;
    while ((n = h.trySend!(bytes, host, port)) < 0) {
      const what = `send ${target()}`;
      await park<void>(what, opts, (resolve) => {
        h.onWritable!(resolve);
        return () => h.onWritable!(undefined);
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
  joinMulticast(group: string, iface = "0.0.0.0"): Promise<() => Promise<void>> {
    return this.#h.joinMulticast(group, iface);
  }

  /** Closes the socket; a parked `recv` wakes with `ClosedError`. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#h.close();
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
  const backend = selectBackend(opts.backend);
  if (host.includes("/")) {
    removeStaleSocket("bind", host);
    return makeUdpSocket(backend.bindDatagram({ transport: "unix", path: host }), max, host);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`bind ${host}:${port}: port must be an integer 0-65535`);
  }
  checkPublic("bind", host, port, opts.dangerouslyAllowPublic);
  const hostname = host === "localhost" ? "127.0.0.1" : host;
  return makeUdpSocket(backend.bindDatagram({ transport: "tcp", hostname, port }, opts), max);
}
