/**
 * {@linkcode IcmpSocket}: an ICMP echo socket on libc through FFI, an
 * unprivileged datagram socket where `net.ipv4.ping_group_range` allows
 * it, else a raw socket (root or `CAP_NET_RAW`). Re-exported by lunet/icmp.
 *
 * @module
 */
import { ClosedError, fromErrno, PermissionDenied } from "./errors.ts";
import { traceClose, traceOpen } from "./trace.ts";
import { park, type WaitOptions } from "./_wait.ts";
import {
  AF_INET,
  AF_INET6,
  describeErrno,
  EACCES,
  EAGAIN,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EINTR,
  EPERM,
  icmpLibc,
  IP_TTL,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_UNICAST_HOPS,
  lastErrno,
  MSG_DONTWAIT,
  POLLIN,
  readProcFile,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCK_RAW,
} from "./_backend/ffi/_icmp.ts";
import {
  decodeSockaddr,
  echoRequest,
  encodeSockaddr,
  ipFamily,
  parseIcmp,
} from "./_icmp_packet.ts";

/**
 * Options of {@linkcode open}.
 *
 * @example
 * ```ts
 * import type { IcmpSocketOptions } from "@lunet/lunet/icmp";
 * const opts: IcmpSocketOptions = { kind: "dgram" };
 * console.log(opts.kind);
 * ```
 */
export interface IcmpSocketOptions {
  /**
   * `"dgram"` (unprivileged ICMP socket), `"raw"` (needs root or
   * `CAP_NET_RAW`), or `"auto"` (the default: dgram, else raw).
   */
  kind?: "auto" | "dgram" | "raw";
}

/**
 * An ICMP message received for this socket's identifier: an echo reply,
 * or on a raw socket an error (time exceeded, destination unreachable)
 * that quotes one of its echo requests.
 *
 * @example
 * ```ts
 * import type { IcmpReply } from "@lunet/lunet/icmp";
 * const isEcho = (r: IcmpReply) => r.type === 0 || r.type === 129;
 * console.log(isEcho({ from: "127.0.0.1", type: 0, code: 0, identifier: 1, sequence: 1, payload: new Uint8Array() }));
 * ```
 */
export interface IcmpReply {
  /** The address it came from (for an error: the router that sent it). */
  from: string;
  /** ICMP type: 0 / 129 echo reply, 11 / 3 time exceeded, 3 / 1 unreachable (IPv4 / IPv6). */
  type: number;
  /** ICMP code. */
  code: number;
  /** The echo identifier. */
  identifier: number;
  /** The echo sequence number. */
  sequence: number;
  /** The echoed payload (empty for an error). */
  payload: Uint8Array;
  /** The IPv4 TTL it arrived with (raw IPv4 sockets only). */
  ttl?: number;
}

let makeSocket: (fd: number, family: 4 | 6, kind: "dgram" | "raw") => IcmpSocket;

/** How many bytes one receive can take (the largest IPv4 datagram). */
const RECV_SIZE = 65536;

/**
 * An ICMP echo socket. {@linkcode IcmpSocket.send} sends an echo request
 * with the socket's identifier and a sequence number;
 * {@linkcode IcmpSocket.recv} waits for the next reply to this identifier
 * (on a datagram socket the kernel picks the identifier and filters
 * replies itself). With {@linkcode IcmpSocket.setTtl} and a raw socket,
 * time-exceeded errors come back too: the parts of a traceroute.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { open } from "@lunet/lunet/icmp";
 * const sock = open(4);
 * await sock.send("127.0.0.1", 1);
 * const reply = await sock.recv({ timeout: 1000 });
 * assert.equal(reply.from, "127.0.0.1");
 * assert.equal(reply.sequence, 1);
 * sock.close();
 * ```
 */
export class IcmpSocket implements Disposable {
  /** 4 or 6. */
  readonly family: 4 | 6;
  /** `"dgram"` or `"raw"`. */
  readonly kind: "dgram" | "raw";
  #fd: number;
  #wake: number;
  #identifier: number;
  #trace: number;
  #buf = new Uint8Array(RECV_SIZE);
  #from = new Uint8Array(128);
  #fromLen = new Uint32Array(1);
  #pollFds = new Uint8Array(16);
  #polling: Promise<number> | undefined;
  #closed = false;

  static {
    makeSocket = (fd, family, kind) => new IcmpSocket(fd, family, kind);
  }

  /** @ignore */
  private constructor(fd: number, family: 4 | 6, kind: "dgram" | "raw") {
    this.#fd = fd;
    this.family = family;
    this.kind = kind;
    const wake = icmpLibc().eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake < 0) {
      icmpLibc().close(fd);
      throw systemError("icmp eventfd", lastErrno());
    }
    this.#wake = wake;
    const v = new DataView(this.#pollFds.buffer);
    v.setInt32(0, fd, true);
    v.setInt16(4, POLLIN, true);
    v.setInt32(8, wake, true);
    v.setInt16(12, POLLIN, true);
    // A datagram socket's identifier is its local "port", set by the kernel
    // on the first send; a raw socket uses one of its own.
    this.#identifier = kind === "raw" ? crypto.getRandomValues(new Uint16Array(1))[0] : 0;
    this.#trace = traceOpen("icmp", `icmpv${family === 4 ? 4 : 6} ${kind}`);
  }

  /**
   * The echo identifier of this socket's requests. For a datagram socket it
   * is known after the first send (the kernel assigns it).
   */
  get identifier(): number {
    return this.#identifier;
  }

  /** True after {@linkcode IcmpSocket.close}. */
  get closed(): boolean {
    return this.#closed;
  }

  #where(op: string, host?: string): string {
    return host ? `icmp ${op} ${host}` : `icmp ${op}`;
  }

  /**
   * Sends an echo request to the IP address `address` (a literal of the
   * socket's family; Deno's net permission for it is checked) with
   * sequence number `sequence` (0..65535) and `payload` (default: 56
   * bytes).
   */
  send(address: string, sequence: number, payload?: Uint8Array): Promise<void> {
    try {
      this.#send(address, sequence, payload ?? defaultPayload(56));
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #send(address: string, sequence: number, payload: Uint8Array): void {
    const where = this.#where("send", address);
    if (this.#closed) throw new ClosedError(where);
    if (ipFamily(address) !== this.family) {
      throw new TypeError(`${where}: not an IPv${this.family} address`);
    }
    if (!(Number.isInteger(sequence) && sequence >= 0 && sequence <= 65535)) {
      throw new RangeError(`${where}: sequence must be 0..65535, got ${sequence}`);
    }
    if (Deno.permissions.querySync({ name: "net", host: address }).state !== "granted") {
      throw new PermissionDenied(`${where}: permission denied (needs --allow-net for ${address})`);
    }
    const packet = echoRequest(this.family, this.#identifier, sequence, payload);
    const to = encodeSockaddr(address, this.family);
    for (;;) {
      const n = icmpLibc().sendto(this.#fd, packet, BigInt(packet.length), 0, to, to.length);
      if (n >= 0) break;
      const e = lastErrno();
      if (e !== EINTR) throw systemError(where, e);
    }
    if (this.kind === "dgram" && this.#identifier === 0) this.#identifier = this.#localId();
  }

  #localId(): number {
    const addr = new Uint8Array(128);
    const len = new Uint32Array([128]);
    if (icmpLibc().getsockname(this.#fd, addr, new Uint8Array(len.buffer)) < 0) return 0;
    return (addr[2] << 8) | addr[3];
  }

  /** Sets the TTL (IPv4) or hop limit (IPv6) of the requests sent from now on. */
  setTtl(ttl: number): void {
    if (!(Number.isInteger(ttl) && ttl >= 1 && ttl <= 255)) {
      throw new RangeError(`icmp setTtl: ttl must be 1..255, got ${ttl}`);
    }
    const v = new Uint8Array(new Int32Array([ttl]).buffer);
    const [level, name] = this.family === 4
      ? [IPPROTO_IP, IP_TTL]
      : [IPPROTO_IPV6, IPV6_UNICAST_HOPS];
    if (icmpLibc().setsockopt(this.#fd, level, name, v, 4) < 0) {
      throw systemError("icmp setTtl", lastErrno());
    }
  }

  /**
   * Waits for the next reply to this socket's identifier; honours
   * `{ timeout, deadline, signal }` and the current task's cancellation.
   * Throws {@linkcode ClosedError} when the socket is closed meanwhile.
   */
  async recv(opts?: WaitOptions): Promise<IcmpReply> {
    const where = this.#where("recv");
    for (;;) {
      if (this.#closed) throw new ClosedError(where);
      const got = this.#tryRecv(where);
      if (got) return got;
      if (got === null) continue;
      await this.#waitReadable(where, opts);
    }
  }

  /** A reply, `null` for a datagram that was not ours, `undefined` when none is queued. */
  #tryRecv(where: string): IcmpReply | null | undefined {
    this.#fromLen[0] = this.#from.length;
    const n = icmpLibc().recvfrom(
      this.#fd,
      this.#buf,
      BigInt(this.#buf.length),
      MSG_DONTWAIT,
      this.#from,
      new Uint8Array(this.#fromLen.buffer),
    );
    if (n < 0) {
      const e = lastErrno();
      if (e === EAGAIN || e === EINTR) return undefined;
      throw systemError(where, e);
    }
    const withIp = this.kind === "raw" && this.family === 4;
    const parsed = parseIcmp(this.family, this.#buf.subarray(0, n), withIp);
    if (!parsed) return null;
    if (this.kind === "raw" && parsed.identifier !== this.#identifier) return null;
    return { from: decodeSockaddr(this.#from, this.family), ...parsed };
  }

  async #waitReadable(where: string, opts: WaitOptions | undefined): Promise<void> {
    // One poll at a time: a wait that gave up left its poll to finish first.
    while (this.#polling) await this.#polling;
    if (this.#closed) return;
    const polling = icmpLibc().poll(this.#pollFds, 2n, -1);
    this.#polling = polling;
    try {
      await park<number>(where, opts, (resolve, reject) => {
        polling.then(resolve, reject);
        return () => this.#interrupt();
      });
    } finally {
      polling.finally(() => {
        if (this.#polling === polling) this.#polling = undefined;
        this.#drainWake();
      });
    }
  }

  #interrupt(): void {
    icmpLibc().write(this.#wake, ONE, 8n);
  }

  #drainWake(): void {
    if (!this.#closed) icmpLibc().read(this.#wake, new Uint8Array(8), 8n);
  }

  /** Closes the socket; a waiting `recv` wakes with {@linkcode ClosedError}. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const c = icmpLibc();
    const finish = () => {
      c.close(this.#fd);
      c.close(this.#wake);
      traceClose("icmp", this.#trace);
    };
    if (this.#polling) {
      this.#interrupt();
      this.#polling.finally(finish);
    } else finish();
  }

  /** Closes the socket (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }
}

const ONE = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);

/** `size` bytes of the classic ping pattern (0x00, 0x01, …). */
export function defaultPayload(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = i & 0xff;
  return out;
}

function systemError(where: string, code: number): Error {
  const { name, text } = describeErrno(code);
  return fromErrno(name, where, text);
}

/**
 * Why ICMP cannot be used here, or `undefined` when it can: FFI must be
 * allowed (the `deno` backend has no ICMP sockets) on Linux.
 */
export function icmpUnavailable(what: string): Error | undefined {
  if (Deno.build.os !== "linux") {
    return new PermissionDenied(`${what}: ICMP sockets need Linux (the ffi backend)`);
  }
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return new PermissionDenied(
      `${what}: ICMP needs the ffi backend: run with --allow-ffi (Deno's own sockets, ` +
        `the deno backend, have no ICMP)`,
    );
  }
  return undefined;
}

function pingGroupRange(): string {
  return readProcFile("/proc/sys/net/ipv4/ping_group_range")?.trim().replace(/\s+/, " ") ??
    "unknown";
}

/**
 * Opens an ICMP socket for IPv4 (`4`, the default) or IPv6 (`6`): a
 * datagram socket when `net.ipv4.ping_group_range` admits the process's
 * group, else a raw socket (root or `CAP_NET_RAW`). Fails with
 * `PermissionDenied` naming the sysctl when neither is allowed, and when
 * FFI is not (`--allow-ffi`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { open } from "@lunet/lunet/icmp";
 * using sock = open(6);
 * await sock.send("::1", 7);
 * assert.equal((await sock.recv({ timeout: 1000 })).sequence, 7);
 * ```
 */
export function open(family: 4 | 6 = 4, opts?: IcmpSocketOptions): IcmpSocket {
  const what = `icmp open IPv${family}`;
  if (family !== 4 && family !== 6) throw new RangeError(`icmp open: family must be 4 or 6`);
  const unavailable = icmpUnavailable(what);
  if (unavailable) throw unavailable;
  const kind = opts?.kind ?? "auto";
  const af = family === 4 ? AF_INET : AF_INET6;
  const proto = family === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
  const flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
  const c = icmpLibc();
  let dgramErr = 0;
  if (kind !== "raw") {
    const fd = c.socket(af, SOCK_DGRAM | flags, proto);
    if (fd >= 0) return makeSocket(fd, family, "dgram");
    dgramErr = lastErrno();
    if (kind === "dgram" || (dgramErr !== EACCES && dgramErr !== EPERM)) {
      throw denied(what, dgramErr, "dgram");
    }
  }
  const fd = c.socket(af, SOCK_RAW | flags, proto);
  if (fd >= 0) return makeSocket(fd, family, "raw");
  const rawErr = lastErrno();
  throw denied(what, rawErr, kind === "raw" ? "raw" : "both");
}

function denied(what: string, code: number, tried: "dgram" | "raw" | "both"): Error {
  if (code !== EACCES && code !== EPERM) return systemError(what, code);
  const sysctl = `an unprivileged ICMP socket needs the group id ${icmpLibc().getegid()} within ` +
    `net.ipv4.ping_group_range (now "${pingGroupRange()}"; e.g. ` +
    `sysctl -w net.ipv4.ping_group_range="0 2147483647")`;
  const raw = "a raw ICMP socket needs root or CAP_NET_RAW";
  const why = tried === "dgram" ? sysctl : tried === "raw" ? raw : `${sysctl}, and ${raw}`;
  return new PermissionDenied(`${what}: permission denied: ${why}`);
}
