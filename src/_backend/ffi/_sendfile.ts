/**
 * `sendfile(2)` for the FFI backend: a file's bytes go from the page cache
 * to a socket without passing through JavaScript. Its own `Deno.dlopen` of
 * libc (the socket symbols stay in ./libc.ts), opened on first use; the
 * file is opened read-only and close-on-exec by `open(2)`.
 *
 * @module
 */
import { errno, errnoError } from "./errno.ts";
import { EAGAIN, EINTR } from "./libc.ts";

const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  // Counts stay below 1 GiB a call, so the result fits the low 32 bits.
  sendfile: { parameters: ["i32", "i32", "buffer", "usize"], result: "i32" },
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "i32" },
} as const;

let lib: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] | undefined;

function sys(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  return lib ??= Deno.dlopen("libc.so.6", SYMBOLS).symbols;
}

const O_RDONLY = 0, O_CLOEXEC = 0o2000000;
/** Most bytes one `sendfile` call is asked for. */
const MAX_CALL = 1 << 30;

/**
 * Opens `path` read-only; the descriptor. The caller checks Deno's read
 * permission first (FFI bypasses it).
 */
export function openFile(path: string): number {
  const fd = sys().open(new TextEncoder().encode(path + "\0"), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw errnoError(errno(), "open", path);
  return fd;
}

/** Closes a descriptor of {@linkcode openFile}. */
export function closeFile(fd: number): void {
  sys().close(fd);
}

/**
 * Sends up to `count` bytes of the file `fileFd` from `offset` to the
 * nonblocking socket `socketFd`: the count sent, `0` at the file's end,
 * or `-1` when the socket buffer is full (wait for room, then call again).
 */
export function sendFileNow(
  socketFd: number,
  fileFd: number,
  offset: number,
  count: number,
): number {
  const off = new BigInt64Array([BigInt(offset)]);
  const want = BigInt(Math.min(count, MAX_CALL));
  for (;;) {
    const n = sys().sendfile(socketFd, fileFd, new Uint8Array(off.buffer), want);
    if (n >= 0) return n;
    const code = errno();
    if (code === EAGAIN) return -1;
    if (code !== EINTR) throw errnoError(code, "sendfile", String(socketFd));
  }
}

/** Reads up to `buf.length` bytes of `fd` at `offset` into `buf`: the count, 0 at the end. */
export function readAt(fd: number, buf: Uint8Array, offset: number): number {
  for (;;) {
    const n = sys().pread(fd, buf, BigInt(buf.length), BigInt(offset));
    if (n >= 0) return n;
    const code = errno();
    if (code !== EINTR) throw errnoError(code, "pread", String(fd));
  }
}
