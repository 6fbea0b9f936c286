/**
 * The mapping of driver errors to {@linkcode DbError}.
 *
 * @module
 */
import { permissionRefusal } from "../src/_errno.ts";
import { DbError, LunetError, TimeoutError } from "../src/errors.ts";

// The drivers' codes for their own connect timeout (lunet/postgres, mysql2).
const CONNECT_TIMEOUTS = new Set<unknown>(["CONNECT_TIMEOUT", "ETIMEDOUT"]);

// A five-character SQLSTATE has a digit (42P01, HY000, 08S01); errno
// names such as EPIPE do not.
const SQLSTATE = /^(?=.*\d)[0-9A-Z]{5}$/;

/**
 * Translates an error thrown by a driver into {@linkcode DbError}, keeping
 * the driver's code and the SQLSTATE: the message shows the SQLSTATE for
 * server errors, and the code (e.g. `EPIPE`) for network errors. A
 * permission Deno refused is a `PermissionDenied`, the driver's connect
 * timeout a `TimeoutError`; lunet errors pass through unchanged.
 *
 * @example
 * ```ts ignore
 * try {
 *   await client.query("SELEC 1");
 * } catch (err) {
 *   throw toDbError(err, "query mysql 127.0.0.1:3306/test");
 * }
 * ```
 */
export function toDbError(err: unknown, what: string): Error {
  if (err instanceof LunetError) return err;
  const refusal = permissionRefusal(err, what);
  if (refusal) return refusal;
  const e = (err ?? {}) as {
    message?: string;
    code?: string | number;
    errno?: string | number;
    sqlState?: string;
    sqlMessage?: string;
    syscall?: string;
  };
  const code = e.code ?? e.errno;
  if (CONNECT_TIMEOUTS.has(code)) {
    return new TimeoutError(what, { cause: err });
  }
  const sqlState = e.sqlState ??
    (typeof code === "string" && e.syscall === undefined && SQLSTATE.test(code) ? code : undefined);
  let detail = e.sqlMessage ?? e.message ?? String(err);
  if (code === "ECONNREFUSED") detail = "connection refused";
  else if (code === "ECONNRESET") detail = "connection reset";
  else if (sqlState) {
    if (!detail.includes(sqlState)) detail += ` (SQLSTATE ${sqlState})`;
  } else if (typeof code === "string" && !detail.includes(code)) detail += ` (${code})`;
  return new DbError(`${what}: ${detail}`, { driverCode: code, sqlState, cause: err });
}
