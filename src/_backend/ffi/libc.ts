/**
 * The libc symbols the FFI backend calls, loaded once per thread through
 * `Deno.dlopen` on first use, and the Linux constants they take. Byte
 * counts (`read`, `send`) are declared as `i32` results: they never exceed
 * the buffer length, which stays below 2 GiB, and `-1` keeps its
 * value in the low 32 bits of the 64-bit return register on x86-64 and
 * AArch64.
 *
 * @module
 */

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  accept4: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  recvfrom: {
    parameters: ["i32", "buffer", "usize", "i32", "buffer", "buffer"],
    result: "i32",
  },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  epoll_wait_blocking: {
    name: "epoll_wait",
    parameters: ["i32", "buffer", "i32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const;

/** The bound libc functions. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Libc | undefined;

/**
 * Returns the libc bindings, opening libc on the first call. Throws when
 * FFI is not permitted or the platform is not Linux.
 *
 * @example
 * ```ts ignore
 * const fd = libc().socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
 * ```
 */
export function libc(): Libc {
  return lib ??= Deno.dlopen("libc.so.6", SYMBOLS).symbols;
}

/** Address families. */
export const AF_UNIX = 1, AF_INET = 2, AF_INET6 = 10;
/** Socket types and creation flags. */
export const SOCK_STREAM = 1, SOCK_DGRAM = 2, SOCK_NONBLOCK = 0o4000, SOCK_CLOEXEC = 0o2000000;
/** Socket option levels and names. */
export const SOL_SOCKET = 1,
  SO_REUSEADDR = 2,
  SO_ERROR = 4,
  SO_BROADCAST = 6,
  SO_SNDBUF = 7,
  SO_RCVBUF = 8,
  SO_KEEPALIVE = 9,
  SO_REUSEPORT = 15,
  IPPROTO_TCP = 6,
  TCP_NODELAY = 1;
/** IPv4 and IPv6 multicast option levels and names. */
export const IPPROTO_IP = 0,
  IP_MULTICAST_LOOP = 34,
  IP_ADD_MEMBERSHIP = 35,
  IP_DROP_MEMBERSHIP = 36,
  IPPROTO_IPV6 = 41,
  IPV6_MULTICAST_LOOP = 19,
  IPV6_ADD_MEMBERSHIP = 20,
  IPV6_DROP_MEMBERSHIP = 21;
/** `recvfrom` flag: return the real length of a datagram longer than the buffer. */
export const MSG_TRUNC = 0x20;
/** `shutdown` direction: stop sending. */
export const SHUT_WR = 1;
/** `send` flag: report EPIPE instead of raising SIGPIPE. */
export const MSG_NOSIGNAL = 0x4000;
/** epoll control operations and event bits. */
export const EPOLL_CTL_ADD = 1,
  EPOLL_CTL_DEL = 2,
  EPOLLIN = 0x1,
  EPOLLOUT = 0x4,
  EPOLLERR = 0x8,
  EPOLLHUP = 0x10,
  EPOLLRDHUP = 0x2000,
  EPOLLET = 0x80000000;
/** `epoll_create1` / `eventfd` flags. */
export const EPOLL_CLOEXEC = 0o2000000, EFD_NONBLOCK = 0o4000, EFD_CLOEXEC = 0o2000000;
/** errno values the backend branches on. */
export const EINTR = 4, EAGAIN = 11, EINPROGRESS = 115, ECONNABORTED = 103;

/**
 * Size of one `struct epoll_event`: packed (12 bytes) on x86-64, naturally
 * aligned (16 bytes, data at offset 8) elsewhere.
 */
export const EPOLL_EVENT_SIZE: number = Deno.build.arch === "x86_64" ? 12 : 16;
/** Offset of `epoll_event.data` inside one event. */
export const EPOLL_DATA_OFFSET: number = Deno.build.arch === "x86_64" ? 4 : 8;
