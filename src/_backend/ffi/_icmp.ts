/**
 * The libc calls behind ICMP sockets, bound through their own
 * `Deno.dlopen` (loaded on the first ICMP socket): an ICMP socket is
 * opened as an unprivileged datagram socket (`SOCK_DGRAM`, allowed by
 * `net.ipv4.ping_group_range`) or as a raw socket (root or
 * `CAP_NET_RAW`), and a wait for a reply is a `poll` on Deno's blocking
 * thread pool that an eventfd interrupts, so a closed or cancelled wait
 * leaves no call behind.
 *
 * @module
 */

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "i32" },
  recvfrom: {
    parameters: ["i32", "buffer", "usize", "i32", "buffer", "buffer"],
    result: "i32",
  },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  getegid: { parameters: [], result: "u32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const;

type Icmp = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
let lib: Icmp | undefined;

/** The bound calls; opens libc on first use (needs `--allow-ffi`, Linux). */
export function icmpLibc(): Icmp {
  return lib ??= Deno.dlopen("libc.so.6", SYMBOLS).symbols;
}

export {
  AF_INET,
  AF_INET6,
  EAGAIN,
  EINTR,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
} from "./libc.ts";

/** Constants of the calls above (Linux) that the socket bindings do not define. */
export const SOCK_RAW = 3,
  IPPROTO_IP = 0,
  IPPROTO_ICMP = 1,
  IPPROTO_IPV6 = 41,
  IPPROTO_ICMPV6 = 58,
  IP_TTL = 2,
  IPV6_UNICAST_HOPS = 16,
  MSG_DONTWAIT = 0x40,
  POLLIN = 0x1,
  EFD_NONBLOCK = 0o4000,
  EFD_CLOEXEC = 0o2000000,
  EPERM = 1,
  EACCES = 13;

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  13: "EACCES",
  22: "EINVAL",
  90: "EMSGSIZE",
  97: "EAFNOSUPPORT",
  99: "EADDRNOTAVAIL",
  101: "ENETUNREACH",
  113: "EHOSTUNREACH",
  105: "ENOBUFS",
  24: "EMFILE",
  23: "ENFILE",
  12: "ENOMEM",
};

/** The calling thread's `errno`. */
export function lastErrno(): number {
  const p = icmpLibc().__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}

/** The errno's name (`"EACCES"`) and the system's text for it. */
export function describeErrno(code: number): { name: string; text: string } {
  const p = icmpLibc().strerror(code);
  const text = p === null ? `errno ${code}` : Deno.UnsafePointerView.getCString(p);
  return { name: ERRNO_NAMES[code] ?? `E${code}`, text };
}

/**
 * The contents of a small file under `/proc`, read through libc (Deno
 * asks for more than `--allow-read` there); `undefined` when unreadable.
 */
export function readProcFile(path: string): string | undefined {
  const c = icmpLibc();
  const fd = c.open(new TextEncoder().encode(`${path}\0`), 0);
  if (fd < 0) return undefined;
  try {
    const buf = new Uint8Array(256);
    const n = c.read(fd, buf, BigInt(buf.length));
    return n < 0 ? undefined : new TextDecoder().decode(buf.subarray(0, n));
  } finally {
    c.close(fd);
  }
}
