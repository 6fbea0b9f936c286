/**
 * CORS for the MCP server, as lunet/http middleware: `OPTIONS` preflights
 * are answered with 204, and every answer carries the headers a browser
 * client needs — `Mcp-Session-Id` and `MCP-Protocol-Version` exposed.
 * Which origins may call at all is {@linkcode ./guard.ts}'s decision,
 * made before this runs.
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
import { HttpResponse, toResponse } from "../../src/http/mod.ts";

const ALLOW_METHODS = "GET, POST, DELETE, OPTIONS";
const ALLOW_HEADERS =
  "content-type, accept, authorization, mcp-session-id, mcp-protocol-version, last-event-id";
const EXPOSE_HEADERS = "mcp-session-id, mcp-protocol-version";

/** The CORS middleware. */
export function cors(): Middleware {
  return async (req, next) => {
    const origin = req.headers.get("origin");
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
