/**
 * Socket addresses: how messages name them, and the checks a bind or a
 * connect target goes through (ports, IP literals, the loopback-by-default
 * rule, stale Unix socket files). Shared by lunet/socket, lunet/tls,
 * lunet/udp and the backends.
 *
 * @module
 */
import { fromDenoError, PermissionDenied } from "./errors.ts";
import { envFlag, envUnreadable } from "./_env.ts";
import type { SocketAddr } from "./_backend/types.ts";

const ALLOW_PUBLIC = "LUNET_ALLOW_PUBLIC";

/**
 * Formats an address for messages: `127.0.0.1:80`, `[::1]:80`, or the path.
 *
 * @example
 * ```ts ignore
 * formatAddr({ transport: "tcp", hostname: "::1", port: 80 }); // "[::1]:80"
 * ```
 */
export function formatAddr(addr: SocketAddr): string {
  if (addr.transport === "unix") return addr.path ?? "unix";
  const host = addr.hostname ?? "";
  return `${host.includes(":") ? `[${host}]` : host}:${addr.port}`;
}

/** A Deno address as a socket address (a Unix datagram address as `"unix"`). */
export function toSocketAddr(addr: Deno.Addr): SocketAddr {
  if (addr.transport === "unix" || addr.transport === "unixpacket") {
    return { transport: "unix", path: (addr as Deno.UnixAddr).path };
  }
  const net = addr as Deno.NetAddr;
  return { transport: "tcp", hostname: net.hostname, port: net.port };
}

/** `host` without the brackets of an IPv6 literal (`[::1]` → `::1`). */
export function stripBrackets(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/** True for an IPv4 or IPv6 literal (a host that needs no lookup). */
export function isIpLiteral(host: string): boolean {
  return host.includes(":") || /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * True when `host` is a loopback address (`127.0.0.0/8`, `::1`) or
 * `localhost`.
 *
 * @example
 * ```ts
 * import { isLoopback } from "@lunet/lunet/socket";
 * if (!isLoopback("127.0.0.1") || isLoopback("0.0.0.0")) throw new Error("unexpected");
 * ```
 */
export function isLoopback(host: string): boolean {
  const h = stripBrackets(host).toLowerCase();
  return h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h.startsWith("::ffff:127.");
}

/** Checks a port argument: an integer 0-65535 (required unless a Unix path is meant). */
export function checkPort(op: string, host: string, port: number | undefined): number {
  if (port === undefined) {
    throw new TypeError(
      `${op} ${host}: a port is required (or a path containing "/" for a Unix socket)`,
    );
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`${op} ${host}:${port}: port must be an integer 0-65535`);
  }
  return port;
}

/**
 * Checks the loopback-by-default rule; throws `PermissionDenied` naming the
 * opt-in when `host` is public and no opt-in was given.
 */
export function checkPublic(op: string, host: string, port: number, allow?: boolean): void {
  if (isLoopback(host) || allow || envFlag(ALLOW_PUBLIC)) return;
  const unreadable = envUnreadable(ALLOW_PUBLIC);
  const hint = unreadable === undefined
    ? `pass { dangerouslyAllowPublic: true } or set ${ALLOW_PUBLIC}=1 to bind it`
    : `pass { dangerouslyAllowPublic: true }, or set ${ALLOW_PUBLIC}=1 and let it be read: ` +
      `${ALLOW_PUBLIC} could not be read (reading it ${unreadable})`;
  throw new PermissionDenied(
    `${op} ${
      formatAddr({ transport: "tcp", hostname: host, port })
    }: not a loopback address; ${hint}`,
  );
}

/**
 * Removes a stale Unix socket file at `path` before binding; refuses
 * (`AlreadyExists`) when something other than a socket is there.
 */
export function removeStaleSocket(op: string, path: string): void {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw fromDenoError(err, op, `unix:${path}`);
  }
  if (!info.isSocket) {
    throw fromDenoError(new Deno.errors.AlreadyExists(path), op, `unix:${path}`);
  }
  try {
    Deno.removeSync(path);
  } catch (err) {
    throw fromDenoError(err, op, `unix:${path}`);
  }
}
