/**
 * Answers the requests a stuck process worker held, before and after it
 * is killed: the supervisor stops the child (SIGSTOP), copies its sockets
 * into this process with `pidfd_getfd(2)` (Linux 5.6+, through libc with
 * `--allow-ffi`), kills it, then writes a 503 with `Connection: close` on
 * each connection that was waiting for its response, and closes the rest.
 *
 * Which connections were waiting: those whose client port the worker
 * last reported among its requests in flight, and, from the kernel
 * (`TCP_INFO`), those that received data but never sent any or whose
 * last data received is more recent than their last data sent (within
 * the same millisecond: when that was after the worker's last report). A
 * connection that sent last (idle, or partway through a streamed
 * response) is closed without a 503, so no response is spliced into
 * another.
 *
 * Without `--allow-ffi`, on other systems, or when the kernel refuses
 * (ptrace rules), nothing is copied and the connections are reset with
 * the process, as before.
 *
 * @module
 */

const SYS_PIDFD_OPEN = 434, SYS_PIDFD_GETFD = 438;
const SOL_SOCKET = 1, SO_ACCEPTCONN = 30, IPPROTO_TCP = 6, TCP_INFO = 11;
const AF_INET = 2, AF_INET6 = 10, SHUT_WR = 1;
// struct tcp_info offsets (linux/tcp.h).
const LAST_DATA_SENT = 44, LAST_DATA_RECV = 52, DATA_SEGS_IN = 152, DATA_SEGS_OUT = 156;
const TCP_INFO_SIZE = 232;

const BODY = JSON.stringify({
  error: "Service Unavailable",
  reason: "the worker handling this request was ended (requestTimeLimit)",
});
const RESPONSE = new TextEncoder().encode(
  "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n" +
    `content-length: ${BODY.length}\r\nconnection: close\r\nretry-after: 1\r\n\r\n${BODY}`,
);

const SYMBOLS = {
  syscall: { parameters: ["i64", "i64", "i64", "i64"], result: "i64" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Libc | null | undefined;

function libc(): Libc | null {
  if (lib !== undefined) return lib;
  try {
    if (Deno.build.os !== "linux") throw new Error("not linux");
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") throw new Error("no ffi");
    lib = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  } catch {
    lib = null;
  }
  return lib;
}

function peerPort(c: Libc, fd: number, addr: Uint8Array, len: Uint32Array): number {
  len[0] = addr.length;
  return c.getpeername(fd, addr, len) === 0 ? (addr[2] << 8) | addr[3] : -1;
}

/** The sockets taken from a stopped worker, to be answered once it is dead. */
export interface HeldSockets {
  /** Writes the 503s and closes every copy. */
  answer(): number;
}

/** What the worker last reported. */
export interface LastReport {
  /** Client ports of its requests in flight. */
  held: readonly number[];
  /** How long ago it reported (ms). */
  ago: number;
}

/**
 * Stops process `pid` and copies its connections on TCP port `port`
 * (its listener is left alone: it dies with the process). Returns
 * `undefined` when that cannot be done here; the caller kills the
 * process either way, and calls `answer()` once it has exited.
 */
export function holdSockets(pid: number, port: number, last: LastReport): HeldSockets | undefined {
  const c = libc();
  if (!c) return undefined;
  let fds: number[];
  try {
    Deno.kill(pid, "SIGSTOP");
    fds = [];
    for (const e of Deno.readDirSync(`/proc/${pid}/fd`)) {
      const n = Number(e.name);
      try {
        if (Deno.readLinkSync(`/proc/${pid}/fd/${n}`).startsWith("socket:")) fds.push(n);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return undefined;
  }
  const pidfd = Number(c.syscall(BigInt(SYS_PIDFD_OPEN), BigInt(pid), 0n, 0n));
  if (pidfd < 0) return undefined;
  const waiting: number[] = [], rest: number[] = [];
  const int = new Int32Array(1), len = new Uint32Array(1);
  const addr = new Uint8Array(128), info = new Uint8Array(TCP_INFO_SIZE);
  const view = new DataView(info.buffer);
  try {
    for (const fd of fds) {
      const copy = Number(c.syscall(BigInt(SYS_PIDFD_GETFD), BigInt(pidfd), BigInt(fd), 0n));
      if (copy < 0) continue;
      len[0] = 4;
      const listening = c.getsockopt(copy, SOL_SOCKET, SO_ACCEPTCONN, int, len) === 0 && int[0];
      len[0] = addr.length;
      const family = c.getsockname(copy, addr, len) === 0 ? addr[0] | addr[1] << 8 : -1;
      const local = (addr[2] << 8) | addr[3];
      if (listening || (family !== AF_INET && family !== AF_INET6) || local !== port) {
        c.close(copy);
        continue;
      }
      const peer = peerPort(c, copy, addr, len);
      if (last.held.includes(peer)) {
        waiting.push(copy);
        continue;
      }
      len[0] = TCP_INFO_SIZE;
      if (c.getsockopt(copy, IPPROTO_TCP, TCP_INFO, info, len) !== 0) {
        rest.push(copy);
        continue;
      }
      const segsIn = view.getUint32(DATA_SEGS_IN, true);
      const segsOut = view.getUint32(DATA_SEGS_OUT, true);
      const sentAgo = view.getUint32(LAST_DATA_SENT, true);
      const recvAgo = view.getUint32(LAST_DATA_RECV, true);
      const pending = segsIn > 0 &&
        (segsOut === 0 || recvAgo < sentAgo || (recvAgo === sentAgo && recvAgo < last.ago));
      (pending ? waiting : rest).push(copy);
    }
  } finally {
    c.close(pidfd);
  }
  return {
    answer(): number {
      let answered = 0;
      for (const fd of waiting) {
        if (Number(c.write(fd, RESPONSE, BigInt(RESPONSE.length))) === RESPONSE.length) answered++;
      }
      for (const fd of [...waiting, ...rest]) {
        c.shutdown(fd, SHUT_WR);
        c.close(fd);
      }
      return answered;
    },
  };
}
