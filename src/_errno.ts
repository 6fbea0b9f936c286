/**
 * Mapping system errors to the lunet vocabulary: an errno name
 * ({@linkcode fromErrno}) or an error thrown by a Deno API
 * ({@linkcode fromDenoError}) becomes the lunet error class with a stable
 * `code` and a message naming the operation and its target.
 *
 * @module
 */
import {
  AddressInUse,
  AlreadyExists,
  ClosedError,
  ConnectionRefused,
  ConnectionReset,
  LunetError,
  MessageTooLong,
  NotConnected,
  NotFound,
  PermissionDenied,
  ResourceExhausted,
  SystemError,
  TimeoutError,
} from "./errors.ts";

// The system's text for an error, as a message ends it: "Too many open
// files (os error 24)" becomes "too many open files".
function reasonText(reason: string): string {
  const text = reason.replace(/ \(os error \d+\)$/, "");
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/**
 * Builds the lunet error for the system error named `errno`
 * (`"ECONNREFUSED"`, `"EMFILE"`, …) raised while doing `where`
 * (`"connect 127.0.0.1:1"`); `reason` is the system's text for it. Every
 * errno gets a stable `code`; those without a class of their own are a
 * {@linkcode SystemError} naming the errno.
 *
 * @example
 * ```ts
 * import { fromErrno } from "@lunet/lunet";
 * const err = fromErrno("EMFILE", "accept 127.0.0.1:80", "Too many open files");
 * if (err.code !== "resource_exhausted") throw err;
 * if (err.message !== "accept 127.0.0.1:80: too many open files") throw err;
 * ```
 */
export function fromErrno(
  errno: string,
  where: string,
  reason: string,
  options?: ErrorOptions,
): LunetError {
  switch (errno) {
    case "ECONNREFUSED":
      return new ConnectionRefused(`${where}: connection refused`, options);
    case "EADDRINUSE":
      return new AddressInUse(`${where}: address in use`, options);
    case "EPERM":
    case "EACCES":
      return new PermissionDenied(`${where}: permission denied (${reason})`, options);
    case "ENOENT":
      return new NotFound(`${where}: not found`, options);
    case "EEXIST":
      return new AlreadyExists(`${where}: already exists`, options);
    case "ETIMEDOUT":
      return new TimeoutError(where, options);
    case "EPIPE":
    case "ECONNABORTED":
    case "ECONNRESET":
      return new ConnectionReset(`${where}: connection reset`, options);
    case "EMFILE":
    case "ENFILE":
    case "ENOBUFS":
    case "ENOMEM":
      return new ResourceExhausted(`${where}: ${reasonText(reason)}`, errno, options);
    case "EMSGSIZE":
      return new MessageTooLong(`${where}: message too long`, options);
    case "ENOTCONN":
      return new NotConnected(`${where}: not connected`, options);
  }
  return new SystemError(`${where}: ${reasonText(reason)}`, errno, options);
}

/**
 * Translates an error thrown by a Deno API into the lunet vocabulary, with a
 * message that names the operation and its target
 * (`"connect 127.0.0.1:1: connection refused"`). Errors that are already
 * lunet errors pass through unchanged; a system error Deno reports with
 * its errno name (`err.code`, e.g. `"EMFILE"`) maps as
 * {@linkcode fromErrno} maps it; anything else becomes a plain `Error`
 * with the same name and the message prefixed.
 *
 * @param err What the Deno API threw.
 * @param op The operation (`"connect"`), first in the message.
 * @param target What it was done with (`"127.0.0.1:1"`); `""` for none.
 * @returns The lunet error, its `cause` the original.
 *
 * @example
 * ```ts
 * import { fromDenoError, NotFound } from "@lunet/lunet";
 * const err = await Deno.stat("/no/such/path").then(
 *   () => undefined,
 *   (e) => fromDenoError(e, "stat", "/no/such/path"),
 * );
 * if (!(err instanceof NotFound)) throw new Error("expected NotFound");
 * if (err.message !== "stat /no/such/path: not found") throw new Error(err.message);
 * ```
 */
export function fromDenoError(err: unknown, op: string, target: string): Error {
  if (err instanceof LunetError) return err;
  const where = target ? `${op} ${target}` : op;
  const detail = err instanceof Error ? err.message : String(err);
  const options = { cause: err };
  const e = Deno.errors;
  if (err instanceof e.NotFound) return new NotFound(`${where}: not found`, options);
  if (err instanceof e.AlreadyExists) return new AlreadyExists(`${where}: already exists`, options);
  if (err instanceof e.AddrInUse) return new AddressInUse(`${where}: address in use`, options);
  if (err instanceof e.ConnectionRefused) {
    return new ConnectionRefused(`${where}: connection refused`, options);
  }
  if (
    err instanceof e.ConnectionReset || err instanceof e.ConnectionAborted ||
    err instanceof e.BrokenPipe
  ) return new ConnectionReset(`${where}: connection reset`, options);
  const refusal = permissionRefusal(err, where);
  if (refusal) return refusal;
  if (err instanceof e.BadResource || err instanceof e.Interrupted) {
    return new ClosedError(where, options);
  }
  if (err instanceof e.TimedOut) return new TimeoutError(where, options);
  if (err instanceof e.NotConnected) return new NotConnected(`${where}: not connected`, options);
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^E[A-Z0-9]+$/.test(code)) {
    return fromErrno(code, where, detail, options);
  }
  const out = new Error(`${where}: ${detail}`, options);
  if (err instanceof Error) out.name = err.name;
  return out;
}

// Deno's refusal text ("Requires net access to …"), which a refusal keeps
// when a library (mysql2, node:sqlite, a worker) rethrows it as an
// error of its own.
const REFUSAL = /^Requires [a-z]+ access to /;

/**
 * The {@linkcode PermissionDenied} for `err` when it is Deno refusing a
 * permission (its own error, or any error carrying its text), else
 * `undefined`: for code that maps a library's errors, such as the drivers.
 *
 * @example
 * ```ts
 * import { PermissionDenied } from "./errors.ts";
 * import { permissionRefusal } from "./_errno.ts";
 * const refused = new Error('Requires net access to "127.0.0.1:5432", run again with the --allow-net flag');
 * const err = permissionRefusal(refused, "connect postgres 127.0.0.1:5432/test");
 * if (!(err instanceof PermissionDenied)) throw new Error("expected PermissionDenied");
 * if (permissionRefusal(new Error("boom"), "connect") !== undefined) throw new Error("not a refusal");
 * ```
 * ```
 */
export function permissionRefusal(err: unknown, where: string): PermissionDenied | undefined {
  const e = Deno.errors;
  const detail = err instanceof Error ? err.message : String(err);
  if (!(err instanceof e.PermissionDenied || err instanceof e.NotCapable || REFUSAL.test(detail))) {
    return undefined;
  }
  return new PermissionDenied(`${where}: permission denied (${detail})`, { cause: err });
}
