/**
 * Cross-origin rules of the MCP server, as middleware for the lunet/http
 * router: requests from a browser origin that is not allowed are refused
 * with 403 (the DNS-rebinding defence the MCP specification asks local
 * servers for), `OPTIONS` preflights are answered with 204, and every
 * answer carries the CORS headers a browser client needs — the
 * `Mcp-Session-Id` header exposed included.
 *
 * @example
 * ```ts ignore
 * import { Router } from "../../src/http/mod.ts";
 * import { cors } from "./cors.ts";
 * const app = new Router().use(cors()).get("/", () => "hi");
 * ```
 * @module
 */
import type { Middleware } from "../../src/http/mod.ts";
import { HttpResponse, json, toResponse } from "../../src/http/mod.ts";

/** Options of {@linkcode cors}. */
export interface CorsOptions {
  /**
   * Browser origins allowed to call the server: a list of origins
   * (`"http://localhost:6274"`), or `"*"` for any. By default, any origin
   * on a loopback host (`localhost`, `127.0.0.1`, `[::1]`), whatever its port.
   */
  allowedOrigins?: readonly string[] | "*";
}

const ALLOW_METHODS = "GET, POST, DELETE, OPTIONS";
const ALLOW_HEADERS =
  "content-type, accept, authorization, mcp-session-id, mcp-protocol-version, last-event-id";
const EXPOSE_HEADERS = "mcp-session-id, mcp-protocol-version";

/** The CORS and origin-check middleware. */
export function cors(opts: CorsOptions = {}): Middleware {
  const allowed = opts.allowedOrigins ?? "loopback";
  const isAllowed = (origin: string): boolean =>
    allowed === "*"
      ? true
      : allowed === "loopback"
      ? isLoopbackOrigin(origin)
      : allowed.includes(origin);
  return async (req, next) => {
    const origin = req.headers.get("origin");
    if (origin !== null && !isAllowed(origin)) {
      return json({ error: "Forbidden: origin not allowed", origin }, { status: 403 });
    }
    const headers: [string, string][] = [
      ["access-control-allow-origin", origin ?? "*"],
      ["access-control-expose-headers", EXPOSE_HEADERS],
      ["vary", "origin"],
    ];
    if (req.method === "OPTIONS") {
      headers.push(
        ["access-control-allow-methods", ALLOW_METHODS],
        ["access-control-allow-headers", ALLOW_HEADERS],
        ["access-control-max-age", "86400"],
      );
      return new HttpResponse(null, { status: 204, headers });
    }
    const res = toResponse(await next());
    if (res instanceof Response) {
      for (const [name, value] of headers) res.headers.set(name, value);
      return res;
    }
    return new HttpResponse(res.body, {
      status: res.status,
      headers: [...res.headers, ...headers],
    });
  };
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
