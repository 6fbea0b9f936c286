/**
 * A bound nonblocking UDP socket of the FFI backend, registered with the
 * edge-triggered poller.
 *
 * `tryRecv` / `trySend` make one synchronous syscall each and report
 * `EAGAIN` as `-1`; the caller then waits through `onReadable` /
 * `onWritable`. Nothing is taken from the receive queue while waiting, so
 * a wait that is given up loses no datagram. `recvfrom` runs with
 * `MSG_TRUNC`, so a datagram longer than the buffer reports its real
 * length instead of being cut silently. The fd is closed exactly once, by
 * `close()`, after it has been taken off the poller; `close()` wakes both
 * waits and every later call fails with `ClosedError`.
 *
 * @module
 */
import { ClosedError } from "../../errors.ts";
import { traceClose, traceOpen } from "../../trace.ts";
import { formatAddr } from "../../_address.ts";
import type { DatagramBindOptions, DatagramHandle, SocketAddr } from "../types.ts";
import { check, errno, errnoError } from "./errno.ts";
import {
  AF_INET,
  EAGAIN,
  EINTR,
  EPOLLERR,
  EPOLLET,
  EPOLLIN,
  EPOLLOUT,
  IP_ADD_MEMBERSHIP,
  IP_DROP_MEMBERSHIP,
  IP_MULTICAST_LOOP,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_ADD_MEMBERSHIP,
  IPV6_DROP_MEMBERSHIP,
  IPV6_MULTICAST_LOOP,
  libc,
  MSG_TRUNC,
  SO_BROADCAST,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOL_SOCKET,
} from "./libc.ts";
import { checkNet, checkPermission } from "./permission.ts";
import { poller, type PollTarget } from "./poller.ts";
import { decodeAddr, encodeAddr, SOCKADDR_MAX } from "./sockaddr.ts";
import { setIntOption } from "./sockopt.ts";

/**
 * Opens a nonblocking UDP socket bound to the IP address in `addr`.
 * Broadcast sends are allowed on IPv4, as on the Deno backend.
 *
 * @example
 * ```ts ignore
 * const d = bindDatagram({ transport: "tcp", hostname: "127.0.0.1", port: 0 });
 * ```
 */
export function bindDatagram(addr: SocketAddr, opts: DatagramBindOptions = {}): FfiDatagram {
  checkPermission("bind", addr);
  const label = formatAddr(addr);
  let encoded;
  try {
    encoded = encodeAddr(addr);
  } catch (err) {
    throw new TypeError(`bind ${label}: ${(err as Error).message}`, { cause: err });
  }
  const { bytes, family } = encoded;
  const c = libc();
  const fd = check(c.socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), "bind", label);
  try {
    if (opts.reuseAddress) {
      setIntOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, "bind", label);
      setIntOption(fd, SOL_SOCKET, SO_REUSEPORT, 1, "bind", label);
    }
    const loop = opts.multicastLoopback ? 1 : 0;
    if (family === AF_INET) {
      setIntOption(fd, SOL_SOCKET, SO_BROADCAST, 1, "bind", label);
      setIntOption(fd, IPPROTO_IP, IP_MULTICAST_LOOP, loop, "bind", label);
    } else setIntOption(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, loop, "bind", label);
    check(c.bind(fd, bytes, bytes.length), "bind", label);
    const name = new Uint8Array(SOCKADDR_MAX);
    const len = new Uint32Array([SOCKADDR_MAX]);
    check(c.getsockname(fd, name, len), "bind", label);
    return new FfiDatagram(fd, family, decodeAddr(name, len[0]));
  } catch (err) {
    c.close(fd);
    throw err;
  }
}

// `usize` arguments are bigints: keep the last one converted for each use,
// since receive buffers and datagram sizes repeat.
class Sizes {
  #n = -1;
  #big = 0n;
  of(n: number): bigint {
    if (n !== this.#n) [this.#n, this.#big] = [n, BigInt(n)];
    return this.#big;
  }
}

/**
 * A bound UDP socket fd. Construct it with {@linkcode bindDatagram}.
 */
export class FfiDatagram implements DatagramHandle, PollTarget {
  /** The bound address. */
  readonly local: SocketAddr;
  #fd: number;
  #family: number;
  #id: number;
  #trace: number;
  #label: string;
  #readable = true;
  #writable = true;
  #onReadable: (() => void) | undefined;
  #onWritable: (() => void) | undefined;
  // The encoded address of the last send: replies usually go to one peer.
  #toHost = "";
  #toPort = -1;
  #to: Uint8Array = new Uint8Array(0);
  #toLabel = "";
  // The sender of the last datagram taken, as recvfrom wrote it.
  #fromBuf = new Uint8Array(SOCKADDR_MAX);
  #fromLen = new Uint32Array(1);
  #recvSizes = new Sizes();
  #sendSizes = new Sizes();

  /**
   * @param fd a bound nonblocking UDP socket, owned by the handle from now on
   * @param family its address family
   * @param local its bound address
   */
  constructor(fd: number, family: number, local: SocketAddr) {
    this.#fd = fd;
    this.#family = family;
    this.local = local;
    this.#label = formatAddr(local);
    this.#trace = traceOpen("fd", `udp ${this.#label}`);
    try {
      this.#id = poller().add(fd, EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLET, this);
    } catch (err) {
      libc().close(fd);
      traceClose("fd", this.#trace);
      throw err;
    }
  }

  /**
   * Takes the next datagram into `buf` without waiting: its real length
   * (larger than `buf.length` when it did not fit; the rest is dropped),
   * or `-1` when none is queued. The sender is then in {@linkcode from}.
   */
  tryRecv(buf: Uint8Array): number {
    if (this.#fd < 0) throw new ClosedError(`recv ${this.#label}`);
    if (!this.#readable) return -1;
    const fromBuf = this.#fromBuf, fromLen = this.#fromLen;
    for (;;) {
      fromLen[0] = SOCKADDR_MAX;
      const n = libc().recvfrom(
        this.#fd,
        buf,
        this.#recvSizes.of(buf.length),
        MSG_TRUNC,
        fromBuf,
        fromLen,
      );
      if (n >= 0) return n;
      const code = errno();
      if (code === EAGAIN) {
        this.#readable = false;
        return -1;
      }
      if (code !== EINTR) throw errnoError(code, "recv", this.#label);
    }
  }

  /** The sender of the datagram the last successful `tryRecv` took. */
  from(): SocketAddr {
    return decodeAddr(this.#fromBuf, this.#fromLen[0]);
  }

  /** Waits for the next datagram (see `tryRecv`); its length. */
  receive(buf: Uint8Array): Promise<number> {
    return this.#whenReady(() => this.tryRecv(buf), (wake) => this.onReadable(wake));
  }

  /** Waits for room and sends one datagram (see `trySend`); the byte count. */
  send(data: Uint8Array, host: string, port: number): Promise<number> {
    return this.#whenReady(() => this.trySend(data, host, port), (wake) => this.onWritable(wake));
  }

  // Runs `attempt` now and after every readiness report until it gives a
  // count (not -1).
  #whenReady(attempt: () => number, wait: (wake: () => void) => void): Promise<number> {
    return new Promise((resolve, reject) => {
      const retry = (): void => {
        let n;
        try {
          n = attempt();
        } catch (err) {
          return reject(err);
        }
        if (n < 0) wait(retry);
        else resolve(n);
      };
      retry();
    });
  }

  /**
   * Sends `data` to `host:port` without waiting: the byte count, or `-1`
   * when the socket buffer is full. `localhost` is this socket's family's
   * loopback address.
   */
  trySend(data: Uint8Array, host: string, port: number): number {
    if (host !== this.#toHost || port !== this.#toPort) {
      const ip = host !== "localhost" ? host : this.ipv4 ? "127.0.0.1" : "::1";
      const addr: SocketAddr = { transport: "tcp", hostname: ip, port };
      const target = formatAddr(addr);
      if (this.#fd < 0) throw new ClosedError(`send ${target}`);
      let encoded;
      try {
        encoded = encodeAddr(addr);
      } catch (err) {
        throw new TypeError(`send ${target}: ${(err as Error).message}`, { cause: err });
      }
      [this.#toHost, this.#toPort, this.#to, this.#toLabel] = [host, port, encoded.bytes, target];
    }
    const target = this.#toLabel;
    if (this.#fd < 0) throw new ClosedError(`send ${target}`);
    // Asked for every datagram: a permission may be revoked meanwhile.
    checkNet("send", target);
    if (!this.#writable) return -1;
    for (;;) {
      const to = this.#to;
      const n = libc().sendto(this.#fd, data, this.#sendSizes.of(data.length), 0, to, to.length);
      if (n >= 0) return n;
      const code = errno();
      if (code === EAGAIN) {
        this.#writable = false;
        return -1;
      }
      if (code !== EINTR) throw errnoError(code, "send", target);
    }
  }

  /**
   * Calls `wake` once a datagram may be queued (at once when one may be
   * already, or when the socket is closed); `undefined` cancels the wait.
   */
  onReadable(wake: (() => void) | undefined): void {
    this.#onReadable = this.#wait(this.#onReadable, wake, this.#readable);
  }

  /** Like {@linkcode onReadable}, for room in the send buffer. */
  onWritable(wake: (() => void) | undefined): void {
    this.#onWritable = this.#wait(this.#onWritable, wake, this.#writable);
  }

  /**
   * Joins (or with `join` false leaves) the multicast `group` on the IPv4
   * interface address `iface`; IPv6 groups use the system's interface.
   */
  membership(group: string, iface: string, join: boolean): void {
    const op = join ? "joinMulticast" : "leaveMulticast";
    if (this.#fd < 0) throw new ClosedError(`${op} ${group}`);
    let req: Uint8Array, level: number, name: number;
    try {
      const g = encodeAddr({ transport: "tcp", hostname: group, port: 0 });
      if (g.family === AF_INET) {
        const i = encodeAddr({ transport: "tcp", hostname: iface, port: 0 });
        req = new Uint8Array(8);
        req.set(g.bytes.subarray(4, 8), 0);
        req.set(i.bytes.subarray(4, 8), 4);
        [level, name] = [IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP];
      } else {
        req = new Uint8Array(20);
        req.set(g.bytes.subarray(8, 24), 0);
        [level, name] = [IPPROTO_IPV6, join ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP];
      }
    } catch (err) {
      throw new TypeError(`${op} ${group}: ${(err as Error).message}`, { cause: err });
    }
    check(libc().setsockopt(this.#fd, level, name, req, req.length), op, group);
  }

  /** Joins the multicast `group` (see {@linkcode membership}); resolves with a leave function. */
  joinMulticast(group: string, iface: string): Promise<() => Promise<void>> {
    try {
      this.membership(group, iface, true);
    } catch (err) {
      return Promise.reject(err);
    }
    return Promise.resolve(() => {
      try {
        return Promise.resolve(this.membership(group, iface, false));
      } catch (err) {
        return Promise.reject(err);
      }
    });
  }

  /** True for an IPv4 socket. */
  get ipv4(): boolean {
    return this.#family === AF_INET;
  }

  /** Closes the fd once; wakes both waits. Idempotent. */
  close(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    poller().remove(this.#id, fd);
    libc().close(fd);
    traceClose("fd", this.#trace);
    this.#onReadable = this.#wait(this.#onReadable, undefined, true, true);
    this.#onWritable = this.#wait(this.#onWritable, undefined, true, true);
  }

  onEvents(events: number): void {
    if (events & (EPOLLIN | EPOLLERR)) {
      this.#readable = true;
      this.#onReadable = this.#wait(this.#onReadable, undefined, true, true);
    }
    if (events & (EPOLLOUT | EPOLLERR)) {
      this.#writable = true;
      this.#onWritable = this.#wait(this.#onWritable, undefined, true, true);
    }
  }

  // Replaces the parked callback `had` by `wake`, keeping the poller's count
  // of waiting operations right; a ready socket (or `fire`) calls the
  // parked callback, or `wake`, at once. Returns the callback left parked.
  #wait(
    had: (() => void) | undefined,
    wake: (() => void) | undefined,
    ready: boolean,
    fire = false,
  ): (() => void) | undefined {
    if (wake !== undefined && !ready && this.#fd >= 0) {
      if (had === undefined) poller().park();
      return wake;
    }
    if (had !== undefined) poller().unpark();
    if (fire) had?.();
    wake?.();
    return undefined;
  }
}
