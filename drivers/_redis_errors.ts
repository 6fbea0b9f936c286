/**
 * {@linkcode RedisError} and the mapping of node-redis errors to it.
 *
 * @module
 */
import { permissionRefusal } from "../src/_errno.ts";
import { LunetError } from "../src/errors.ts";

/**
 * A Redis error. A reply error of the server carries its prefix (`ERR`,
 * `WRONGTYPE`, `NOSCRIPT`, `BUSYGROUP`, …) as `prefix`; a connection
 * failure carries the client's code (`ECONNREFUSED`, `SOCKET_CLOSED`,
 * `OFFLINE`, `CLOSED`) as `driverCode`. Its `code` is `"db"`, like
 * {@linkcode DbError}.
 *
 * @example
 * ```ts
 * import { RedisError } from "@lunet/lunet/redis";
 * const err = new RedisError("GET k: WRONGTYPE Operation against a key", { prefix: "WRONGTYPE" });
 * if (err.code !== "db" || err.prefix !== "WRONGTYPE" || err.driverCode !== undefined) throw err;
 * ```
 */
export class RedisError extends LunetError {
  /** The server's error prefix (the reply's first word), for reply errors. */
  readonly prefix?: string;
  /** The client's code, for connection failures. */
  readonly driverCode?: string;
  /**
   * Creates the error.
   * @param message full message
   * @param details server prefix, client code and cause
   */
  constructor(
    message: string,
    details: { prefix?: string; driverCode?: string; cause?: unknown } = {},
  ) {
    super("db", message, { cause: details.cause });
    this.name = "RedisError";
    if (details.prefix !== undefined) this.prefix = details.prefix;
    if (details.driverCode !== undefined) this.driverCode = details.driverCode;
  }
}

/** The client codes of node-redis's connection errors, by class name. */
const CLIENT_CODES: Record<string, [string, string]> = {
  SocketClosedUnexpectedlyError: ["SOCKET_CLOSED", "connection lost"],
  ClientOfflineError: ["OFFLINE", "not connected (reconnecting)"],
  ClientClosedError: ["CLOSED", "client closed"],
  DisconnectsClientError: ["CLOSED", "client closed"],
  ConnectionTimeoutError: ["ETIMEDOUT", "connect timed out"],
  SocketTimeoutError: ["ETIMEDOUT", "socket timed out"],
};

/**
 * Translates an error of node-redis into {@linkcode RedisError}: the
 * message names the operation and says what happened. lunet errors pass
 * through unchanged.
 *
 * @example
 * ```ts ignore
 * throw toRedisError(err, "redis 127.0.0.1:6379: GET k");
 * ```
 */
export function toRedisError(err: unknown, what: string): Error {
  if (err instanceof LunetError) return err;
  const refusal = permissionRefusal(err, what);
  if (refusal) return refusal;
  const e = (err ?? {}) as { message?: string; code?: unknown; constructor?: { name?: string } };
  const name = e.constructor?.name ?? "";
  const known = CLIENT_CODES[name];
  if (known) return new RedisError(`${what}: ${known[1]}`, { driverCode: known[0], cause: err });
  const code = typeof e.code === "string" ? e.code : undefined;
  if (code === "ECONNREFUSED") {
    return new RedisError(`${what}: connection refused`, { driverCode: code, cause: err });
  }
  if (code === "ECONNRESET") {
    return new RedisError(`${what}: connection reset`, { driverCode: code, cause: err });
  }
  if (code !== undefined) {
    return new RedisError(`${what}: ${e.message ?? code} (${code})`, {
      driverCode: code,
      cause: err,
    });
  }
  const message = e.message ?? String(err);
  if (name === "SimpleError" || name === "BlobError" || name === "ErrorReply") {
    const prefix = /^[A-Z][A-Z_-]*(?=\s|$)/.exec(message)?.[0];
    return new RedisError(`${what}: ${message}`, { prefix, cause: err });
  }
  return new RedisError(`${what}: ${message}`, { cause: err });
}
