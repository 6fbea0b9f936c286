/**
 * `errno` for the FFI backend: read through `__errno_location` right after
 * a failed synchronous call (the pointer belongs to the calling thread,
 * which is the JavaScript thread for every synchronous FFI call), and
 * translated into the lunet error vocabulary with "op target: reason"
 * messages like the Deno backend's.
 *
 * @module
 */
import { fromErrno } from "../../errors.ts";
import { libc } from "./libc.ts";

let view: Deno.UnsafePointerView | undefined;

/**
 * The calling thread's `errno`.
 *
 * @example
 * ```ts ignore
 * if (libc().close(fd) < 0) console.log(errno());
 * ```
 */
export function errno(): number {
  view ??= new Deno.UnsafePointerView(libc().__errno_location()!);
  return view.getInt32(0);
}

// Linux errno names by number (asm-generic, as on x86-64 and AArch64);
// "" where a number has no name of its own.
const NAMES = (
  "EPERM ENOENT ESRCH EINTR EIO ENXIO E2BIG ENOEXEC EBADF ECHILD EAGAIN ENOMEM EACCES EFAULT " +
  "ENOTBLK EBUSY EEXIST EXDEV ENODEV ENOTDIR EISDIR EINVAL ENFILE EMFILE ENOTTY ETXTBSY EFBIG " +
  "ENOSPC ESPIPE EROFS EMLINK EPIPE EDOM ERANGE EDEADLK ENAMETOOLONG ENOLCK ENOSYS ENOTEMPTY " +
  "ELOOP - ENOMSG EIDRM ECHRNG EL2NSYNC EL3HLT EL3RST ELNRNG EUNATCH ENOCSI EL2HLT EBADE EBADR " +
  "EXFULL ENOANO EBADRQC EBADSLT - EBFONT ENOSTR ENODATA ETIME ENOSR ENONET ENOPKG EREMOTE " +
  "ENOLINK EADV ESRMNT ECOMM EPROTO EMULTIHOP EDOTDOT EBADMSG EOVERFLOW ENOTUNIQ EBADFD EREMCHG " +
  "ELIBACC ELIBBAD ELIBSCN ELIBMAX ELIBEXEC EILSEQ ERESTART ESTRPIPE EUSERS ENOTSOCK " +
  "EDESTADDRREQ EMSGSIZE EPROTOTYPE ENOPROTOOPT EPROTONOSUPPORT ESOCKTNOSUPPORT EOPNOTSUPP " +
  "EPFNOSUPPORT EAFNOSUPPORT EADDRINUSE EADDRNOTAVAIL ENETDOWN ENETUNREACH ENETRESET " +
  "ECONNABORTED ECONNRESET ENOBUFS EISCONN ENOTCONN ESHUTDOWN ETOOMANYREFS ETIMEDOUT " +
  "ECONNREFUSED EHOSTDOWN EHOSTUNREACH EALREADY EINPROGRESS ESTALE EUCLEAN ENOTNAM ENAVAIL " +
  "EISNAM EREMOTEIO EDQUOT ENOMEDIUM EMEDIUMTYPE ECANCELED ENOKEY EKEYEXPIRED EKEYREVOKED " +
  "EKEYREJECTED EOWNERDEAD ENOTRECOVERABLE ERFKILL EHWPOISON"
).split(" ");

/**
 * The name of errno `code` (`24` → `"EMFILE"`), or `"E<code>"` for a
 * number without one.
 *
 * @example
 * ```ts ignore
 * errnoName(111); // "ECONNREFUSED"
 * ```
 */
export function errnoName(code: number): string {
  const name = NAMES[code - 1];
  return name === undefined || name === "-" ? `E${code}` : name;
}

/**
 * Builds the lunet error for errno `code` raised by `op` on `target`.
 *
 * @example
 * ```ts ignore
 * throw errnoError(111, "connect", "127.0.0.1:1"); // ConnectionRefused
 * ```
 */
export function errnoError(code: number, op: string, target: string): Error {
  const where = target ? `${op} ${target}` : op;
  const reason = Deno.UnsafePointerView.getCString(libc().strerror(code)!);
  return fromErrno(errnoName(code), where, reason, { cause: { errno: code, message: reason } });
}

/**
 * Throws the lunet error for the current `errno` when `result` is negative;
 * returns `result` otherwise.
 *
 * @example
 * ```ts ignore
 * const fd = check(libc().socket(2, 1, 0), "socket", "127.0.0.1:80");
 * ```
 */
export function check(result: number, op: string, target: string): number {
  if (result < 0) throw errnoError(errno(), op, target);
  return result;
}
