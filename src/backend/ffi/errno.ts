/**
 * `errno` for the FFI backend: read through `__errno_location` right after
 * a failed synchronous call (the pointer belongs to the calling thread,
 * which is the JavaScript thread for every synchronous FFI call), and
 * translated into the lunet error vocabulary with "op target: reason"
 * messages like the Deno backend's.
 *
 * @module
 */
import {
  AddressInUse,
  AlreadyExists,
  ConnectionRefused,
  ConnectionReset,
  NotFound,
  PermissionDenied,
  TimeoutError,
} from "../../errors.ts";
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

const RESET = new Set([32, 103, 104]); // EPIPE, ECONNABORTED, ECONNRESET

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
  const cause = { cause: { errno: code, message: reason } };
  switch (code) {
    case 111:
      return new ConnectionRefused(`${where}: connection refused`, cause);
    case 98:
      return new AddressInUse(`${where}: address in use`, cause);
    case 1:
    case 13:
      return new PermissionDenied(`${where}: permission denied (${reason})`, cause);
    case 2:
      return new NotFound(`${where}: not found`, cause);
    case 17:
      return new AlreadyExists(`${where}: already exists`, cause);
    case 110:
      return new TimeoutError(where, cause);
  }
  if (RESET.has(code)) return new ConnectionReset(`${where}: connection reset`, cause);
  return new Error(`${where}: ${reason}`, cause);
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
