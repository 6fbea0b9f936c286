/**
 * The error vocabulary shared by every lunet module. Each class carries a
 * stable `code` string, so callers can branch on `err.code` without
 * `instanceof` across module copies.
 *
 * End of stream is not an error: reads return `null` at EOF.
 *
 * @example Branch on the code
 * ```ts
 * import { sleep, TimeoutError } from "@lunet/lunet";
 * const err = await sleep(1000, { timeout: 10 }).then(() => undefined, (e) => e);
 * if (!(err instanceof TimeoutError) || err.code !== "timeout") throw err;
 * if (err.message !== "sleep: timed out") throw new Error(err.message);
 * ```
 * @module
 */

/** Stable codes carried by {@linkcode LunetError} subclasses. */
export type ErrorCode =
  | "timeout"
  | "cancelled"
  | "closed"
  | "connection_reset"
  | "connection_refused"
  | "address_in_use"
  | "permission_denied"
  | "not_found"
  | "already_exists"
  | "resource_exhausted"
  | "message_too_long"
  | "not_connected"
  | "system"
  | "protocol"
  | "db";

/**
 * Base class of every lunet error.
 *
 * @example
 * ```ts
 * import { LunetError, TimeoutError } from "@lunet/lunet";
 * const err: LunetError = new TimeoutError("read 127.0.0.1:80");
 * if (!(err instanceof LunetError) || err.code !== "timeout") throw err;
 * if (err.message !== "read 127.0.0.1:80: timed out" || err.name !== "TimeoutError") throw err;
 * ```
 */
export class LunetError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;
  /**
   * Creates an error with a stable code.
   * @param code stable code
   * @param message what was being done, with what
   * @param options standard error options (`cause`)
   */
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * A wait passed its timeout or deadline.
 *
 * @example
 * ```ts
 * import { sleep, TimeoutError, withTimeout } from "@lunet/lunet";
 * const err = await withTimeout(5, () => sleep(100)).then(() => undefined, (e) => e);
 * if (!(err instanceof TimeoutError)) throw new Error("expected a timeout");
 * ```
 */
export class TimeoutError extends LunetError {
  /**
   * Creates the error.
   * @param what the operation that timed out
   * @param options standard error options (`cause`)
   */
  constructor(what = "operation", options?: ErrorOptions) {
    super("timeout", `${what}: timed out`, options);
  }
}

/**
 * The task, or the signal passed to a wait, was cancelled. The cancel
 * reason is kept as `cause`.
 *
 * @example
 * ```ts
 * import { Cancelled, sleep, spawn } from "@lunet/lunet";
 * const t = spawn(() => sleep(1000));
 * t.cancel("shutting down");
 * const err = await t.then(() => undefined, (e) => e);
 * if (!(err instanceof Cancelled) || err.cause !== "shutting down") throw err;
 * ```
 */
export class Cancelled extends LunetError {
  /**
   * Creates the error.
   * @param what the operation that was cancelled
   * @param options standard error options (`cause`: the cancel reason)
   */
  constructor(what = "operation", options?: ErrorOptions) {
    super("cancelled", `${what}: cancelled`, options);
  }
}

/**
 * The handle was closed locally; parked operations wake with this error.
 *
 * @example
 * ```ts
 * import { Channel, ClosedError } from "@lunet/lunet";
 * const ch = new Channel<number>();
 * ch.close();
 * const err = await ch.send(1).then(() => undefined, (e) => e);
 * if (!(err instanceof ClosedError) || err.message !== "channel send: closed") throw err;
 * ```
 */
export class ClosedError extends LunetError {
  /**
   * Creates the error.
   * @param what the handle or operation, e.g. `"read 127.0.0.1:80"`
   * @param options standard error options (`cause`)
   */
  constructor(what = "handle", options?: ErrorOptions) {
    super("closed", `${what}: closed`, options);
  }
}

/**
 * The peer reset the connection.
 *
 * @example
 * ```ts
 * import { ConnectionReset } from "@lunet/lunet";
 * const err = new ConnectionReset("read 127.0.0.1:8080: connection reset");
 * if (err.code !== "connection_reset") throw err;
 * ```
 */
export class ConnectionReset extends LunetError {
  /**
   * Creates the error.
   * @param message full message
   */
  constructor(message: string, options?: ErrorOptions) {
    super("connection_reset", message, options);
  }
}

/**
 * Nothing listens at the address.
 *
 * @example Connect to a port nobody listens on
 * ```ts
 * import { ConnectionRefused } from "@lunet/lunet";
 * import { connect, listen } from "@lunet/lunet/socket";
 * const server = await listen("tcp", "127.0.0.1", 0);
 * const port = server.addr.port;
 * server.close();
 * const err = await connect("127.0.0.1", port).then(() => undefined, (e) => e);
 * if (!(err instanceof ConnectionRefused) || err.code !== "connection_refused") throw err;
 * ```
 */
export class ConnectionRefused extends LunetError {
  /**
   * Creates the error.
   * @param message full message
   */
  constructor(message: string, options?: ErrorOptions) {
    super("connection_refused", message, options);
  }
}

/**
 * The address is already bound by another socket.
 *
 * @example Listen twice on one port
 * ```ts
 * import { AddressInUse } from "@lunet/lunet";
 * import { listen } from "@lunet/lunet/socket";
 * const first = await listen("tcp", "127.0.0.1", 0);
 * const err = await listen("tcp", "127.0.0.1", first.addr.port).then(() => undefined, (e) => e);
 * first.close();
 * if (!(err instanceof AddressInUse) || err.code !== "address_in_use") throw err;
 * ```
 */
export class AddressInUse extends LunetError {
  /**
   * Creates the error.
   * @param message full message
   */
  constructor(message: string, options?: ErrorOptions) {
    super("address_in_use", message, options);
  }
}

/**
 * The operation is not allowed: a missing Deno permission, an OS refusal,
 * or a public address without the explicit opt-in.
 *
 * @example
 * ```ts
 * import { PermissionDenied } from "@lunet/lunet";
 * const err = new PermissionDenied("listen 0.0.0.0:80: not loopback");
 * if (err.code !== "permission_denied") throw err;
 * ```
 */
export class PermissionDenied extends LunetError {
  /**
   * Creates the error.
   * @param message full message
   */
  constructor(message: string, options?: ErrorOptions) {
    super("permission_denied", message, options);
  }
}

/**
 * A path or name does not exist.
 *
 * @example
 * ```ts
 * import { NotFound } from "@lunet/lunet";
 * if (new NotFound("open /x/y: not found").code !== "not_found") throw new Error("code");
 * ```
 */
export class NotFound extends LunetError {
  /**
   * Creates the error.
   * @param message full message
   */
  constructor(message: string, options?: ErrorOptions) {
    super("not_found", message, options);
  }
}

/**
 * A path or name exists already.
 *
 * @example
 * ```ts
 * import { AlreadyExists } from "@lunet/lunet";
 * const err = new AlreadyExists("open /tmp/x: already exists");
 * if (err.code !== "already_exists") throw err;
 * ```
 */
export class AlreadyExists extends LunetError {
  /**
   * Creates the error.
   * @param message full message
   */
  constructor(message: string, options?: ErrorOptions) {
    super("already_exists", message, options);
  }
}

/**
 * The system ran out of a resource: file descriptors (`EMFILE`, `ENFILE`),
 * socket buffers (`ENOBUFS`) or memory (`ENOMEM`). Usually transient: a
 * listener keeps accepting once some are free again.
 *
 * @example
 * ```ts
 * import { ResourceExhausted } from "@lunet/lunet";
 * const err = new ResourceExhausted("accept 127.0.0.1:80: too many open files", "EMFILE");
 * if (err.code !== "resource_exhausted" || err.errno !== "EMFILE") throw err;
 * ```
 */
export class ResourceExhausted extends LunetError {
  /** The system's error name, e.g. `"EMFILE"`. */
  readonly errno: string;
  /**
   * Creates the error.
   * @param message full message
   * @param errno the system's error name
   */
  constructor(message: string, errno: string, options?: ErrorOptions) {
    super("resource_exhausted", message, options);
    this.errno = errno;
  }
}

/**
 * A datagram is larger than the socket can send at once (`EMSGSIZE`).
 *
 * @example
 * ```ts
 * import { MessageTooLong } from "@lunet/lunet";
 * const err = new MessageTooLong("send 127.0.0.1:9: message too long");
 * if (err.code !== "message_too_long") throw err;
 * ```
 */
export class MessageTooLong extends LunetError {
  /**
   * Creates the error.
   * @param message full message
   */
  constructor(message: string, options?: ErrorOptions) {
    super("message_too_long", message, options);
  }
}

/**
 * The socket is not connected (`ENOTCONN`), e.g. a shutdown after the
 * peer reset the connection.
 *
 * @example
 * ```ts
 * import { NotConnected } from "@lunet/lunet";
 * const err = new NotConnected("shutdown 127.0.0.1:80: not connected");
 * if (err.code !== "not_connected") throw err;
 * ```
 */
export class NotConnected extends LunetError {
  /**
   * Creates the error.
   * @param message full message
   */
  constructor(message: string, options?: ErrorOptions) {
    super("not_connected", message, options);
  }
}

/**
 * Any other system error; `errno` names it (`"EHOSTUNREACH"`, …), or is
 * `"unknown"` when the system gave no name.
 *
 * @example
 * ```ts
 * import { SystemError } from "@lunet/lunet";
 * const err = new SystemError("connect 10.0.0.1:80: no route to host", "EHOSTUNREACH");
 * if (err.code !== "system" || err.errno !== "EHOSTUNREACH") throw err;
 * ```
 */
export class SystemError extends LunetError {
  /** The system's error name, e.g. `"EHOSTUNREACH"`. */
  readonly errno: string;
  /**
   * Creates the error.
   * @param message full message
   * @param errno the system's error name
   */
  constructor(message: string, errno: string, options?: ErrorOptions) {
    super("system", message, options);
    this.errno = errno;
  }
}

/**
 * The peer sent input that breaks the protocol (or exceeds a limit).
 * `partial` carries bytes received before the failure, when there are any.
 *
 * @example
 * ```ts
 * import { ProtocolError } from "@lunet/lunet";
 * const partial = new Uint8Array(2);
 * const err = new ProtocolError("readExactly: end of stream after 2 of 4 bytes", partial);
 * if (err.code !== "protocol" || err.partial?.length !== 2) throw err;
 * ```
 */
export class ProtocolError extends LunetError {
  /** Bytes that arrived before the failure (e.g. a short `readExactly`). */
  readonly partial?: Uint8Array;
  /**
   * Creates the error.
   * @param message full message
   * @param partial bytes received before the failure
   */
  constructor(message: string, partial?: Uint8Array, options?: ErrorOptions) {
    super("protocol", message, options);
    if (partial) this.partial = partial;
  }
}

/**
 * A database error, with the driver's error code and the SQLSTATE when the
 * server gave one.
 *
 * @example
 * ```ts
 * import { DbError } from "@lunet/lunet";
 * const err = new DbError("query: duplicate key", { sqlState: "23505" });
 * if (err.code !== "db" || err.sqlState !== "23505" || err.driverCode !== undefined) throw err;
 * ```
 */
export class DbError extends LunetError {
  /** The driver's or server's own error code (e.g. `ER_DUP_ENTRY`). */
  readonly driverCode?: string | number;
  /** The five-character SQLSTATE, when known. */
  readonly sqlState?: string;
  /**
   * Creates the error.
   * @param message full message
   * @param details driver code, SQLSTATE and cause
   */
  constructor(
    message: string,
    details: { driverCode?: string | number; sqlState?: string; cause?: unknown } = {},
  ) {
    super("db", message, { cause: details.cause });
    if (details.driverCode !== undefined) this.driverCode = details.driverCode;
    if (details.sqlState !== undefined) this.sqlState = details.sqlState;
  }
}

export { fromDenoError, fromErrno } from "./_errno.ts";
