/**
 * The `ffi` backend: nonblocking libc sockets driven by epoll through
 * `Deno.dlopen` (Linux, `--allow-ffi`). Each read or write is one
 * synchronous syscall; an operation waits on the poller only when the
 * kernel says `EAGAIN`. libc is opened on first use, so importing this
 * module needs no permission.
 *
 * @module
 */
import { formatAddr } from "../../_address.ts";
import type {
  Backend,
  BackendListenOptions,
  DatagramBindOptions,
  DatagramHandle,
  ListenerHandle,
  SocketAddr,
} from "../types.ts";
import { bindDenoDatagram } from "../deno_datagram.ts";
import { bindDatagram } from "./datagram.ts";
import { check } from "./errno.ts";
import {
  libc,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_SOCKET,
} from "./libc.ts";
import { FfiListener } from "./listener.ts";
import { checkPermission } from "./permission.ts";
import { decodeAddr, encodeAddr, SOCKADDR_MAX } from "./sockaddr.ts";
import { setIntOption } from "./sockopt.ts";
import { FfiStream } from "./stream.ts";

const DEFAULT_BACKLOG = 1024;

/**
 * True when the FFI backend can run here: Linux, with `--allow-ffi`
 * granted (checked without prompting).
 *
 * @example
 * ```ts ignore
 * const backend = ffiSupported() ? ffiBackend : denoBackend;
 * ```
 */
export function ffiSupported(): boolean {
  if (Deno.build.os !== "linux") return false;
  try {
    return Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  } catch {
    return false;
  }
}

// A fresh nonblocking close-on-exec stream socket for `addr`'s family.
function openSocket(op: string, addr: SocketAddr): { fd: number; sockaddr: Uint8Array } {
  const label = formatAddr(addr);
  let encoded;
  try {
    encoded = encodeAddr(addr);
  } catch (err) {
    throw new TypeError(`${op} ${label}: ${(err as Error).message}`, { cause: err });
  }
  const type = SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC;
  const fd = check(libc().socket(encoded.family, type, 0), op, label);
  return { fd, sockaddr: encoded.bytes };
}

function bindAndListen(fd: number, sockaddr: Uint8Array, opts: BackendListenOptions): SocketAddr {
  const { addr } = opts;
  const label = formatAddr(addr);
  const c = libc();
  if (addr.transport === "tcp") {
    setIntOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, "listen", label);
    if (opts.reusePort) setIntOption(fd, SOL_SOCKET, SO_REUSEPORT, 1, "listen", label);
  }
  check(c.bind(fd, sockaddr, sockaddr.length), "listen", label);
  check(c.listen(fd, opts.backlog ?? DEFAULT_BACKLOG), "listen", label);
  if (addr.transport === "unix") return { transport: "unix", path: addr.path };
  const name = new Uint8Array(SOCKADDR_MAX);
  const len = new Uint32Array([SOCKADDR_MAX]);
  check(c.getsockname(fd, name, len), "listen", label);
  return decodeAddr(name, len[0]);
}

/**
 * The `ffi` backend.
 *
 * @example
 * ```ts ignore
 * const l = ffiBackend.listen({ addr: { transport: "tcp", hostname: "127.0.0.1", port: 0 } });
 * ```
 */
export const ffiBackend: Backend = {
  name: "ffi",
  listen(opts: BackendListenOptions): ListenerHandle {
    checkPermission("listen", opts.addr);
    const { fd, sockaddr } = openSocket("listen", opts.addr);
    let bound: SocketAddr;
    try {
      bound = bindAndListen(fd, sockaddr, opts);
    } catch (err) {
      libc().close(fd);
      throw err;
    }
    return new FfiListener(fd, bound);
  },
  async connect(addr: SocketAddr, signal?: AbortSignal): Promise<FfiStream> {
    checkPermission("connect", addr);
    const { fd, sockaddr } = openSocket("connect", addr);
    const stream = new FfiStream(fd, addr);
    // Given up: the fd is closed now, which fails the pending connect.
    const giveUp = () => stream.close();
    signal?.addEventListener("abort", giveUp, { once: true });
    try {
      await stream.connect(sockaddr);
    } catch (err) {
      stream.close();
      throw err;
    } finally {
      signal?.removeEventListener("abort", giveUp);
    }
    return stream;
  },
  // Unix datagram sockets are Deno's own on every backend.
  bindDatagram(addr: SocketAddr, opts?: DatagramBindOptions): DatagramHandle {
    return addr.transport === "unix" ? bindDenoDatagram(addr, opts) : bindDatagram(addr, opts);
  },
};
