/**
 * Integer socket options (`setsockopt` / `getsockopt` with an `int` value)
 * for the FFI backend.
 *
 * @module
 */
import { check } from "./errno.ts";
import { libc } from "./libc.ts";

const value = new Int32Array(1);
const valueBytes = new Uint8Array(value.buffer);
const valueLen = new Uint32Array(1);

/**
 * Sets an `int` socket option; `op` and `label` name it in errors.
 *
 * @example
 * ```ts ignore
 * setIntOption(fd, IPPROTO_TCP, TCP_NODELAY, 1, "setNoDelay", "127.0.0.1:80");
 * ```
 */
export function setIntOption(
  fd: number,
  level: number,
  name: number,
  on: number,
  op: string,
  label: string,
): void {
  value[0] = on;
  check(libc().setsockopt(fd, level, name, valueBytes, 4), op, label);
}

/**
 * Reads an `int` socket option; `op` and `label` name it in errors.
 *
 * @example
 * ```ts ignore
 * const err = getIntOption(fd, SOL_SOCKET, SO_ERROR, "connect", "127.0.0.1:80");
 * ```
 */
export function getIntOption(
  fd: number,
  level: number,
  name: number,
  op: string,
  label: string,
): number {
  valueLen[0] = 4;
  check(libc().getsockopt(fd, level, name, valueBytes, valueLen), op, label);
  return value[0];
}
