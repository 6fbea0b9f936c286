/**
 * The DNS-rebinding defence MCP asks local servers for, as lunet/http
 * middleware in front of every path (status page and both transports
 * included): a request whose `Host` is not one of the server's names, or
 * whose browser `Origin` is not allowed, is refused with 403 before any
 * handler runs. A page on `evil.example.com` whose name was rebound to
 * 127.0.0.1 sends `Host: evil.example.com`, so it never reaches a tool.
 *
 * @example
 * ```ts ignore
 * import { Router } from "../../src/http/mod.ts";
 * import { guard } from "./guard.ts";
 * const app = new Router().use(guard()).get("/", () => "hi");
 * ```
 * @module
 */
import type { Middleware } from "../../src/http/mod.ts";
import { json } from "../../src/http/mod.ts";

/** Options of {@linkcode guard}. */
export interface GuardOptions {
  /**
   * Host names the server answers to, any port (default: the loopback
   * names `localhost`, `127.0.0.1` and `[::1]`). `"*"` turns the check off.
   */
  allowedHosts?: readonly string[] | "*";
  /**
   * Browser origins allowed to call the server: a list of origins
   * (`"http://localhost:6274"`), or `"*"` for any. By default, any origin
   * on a loopback host, whatever its port.
   */
  allowedOrigins?: readonly string[] | "*";
}

const LOOPBACK_HOSTS: readonly string[] = ["localhost", "127.0.0.1", "[::1]"];

/** The Host and Origin check. */
export function guard(opts: GuardOptions = {}): Middleware {
  const hosts = opts.allowedHosts ?? LOOPBACK_HOSTS;
  const origins = opts.allowedOrigins ?? "loopback";
  const hostAllowed = (host: string): boolean =>
    hosts === "*" || hosts.includes(hostName(host).toLowerCase());
  const originAllowed = (origin: string): boolean =>
    origins === "*"
      ? true
      : origins === "loopback"
      ? isLoopbackOrigin(origin)
      : origins.includes(origin);
  return (req, next) => {
    const host = req.headers.get("host");
    if (host !== null && !hostAllowed(host)) {
      return json({ error: "Forbidden: host not allowed", host }, { status: 403 });
    }
    const origin = req.headers.get("origin");
    if (origin !== null && !originAllowed(origin)) {
      return json({ error: "Forbidden: origin not allowed", origin }, { status: 403 });
    }
    return next();
  };
}

/** The name part of a `Host` value (`[::1]:8080` → `[::1]`). */
function hostName(host: string): string {
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    return end < 0 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(":");
  return colon < 0 ? host : host.slice(0, colon);
}

/** True for an origin whose host is a loopback name or address. */
export function isLoopbackOrigin(origin: string): boolean {
  let host: string;
  try {
    host = new URL(origin).hostname;
  } catch {
    return false;
  }
  return host === "localhost" || host === "[::1]" || /^127(\.\d{1,3}){3}$/.test(host);
}
