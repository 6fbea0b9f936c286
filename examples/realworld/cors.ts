/**
 * CORS for browser front ends: every answer allows any origin, and a
 * preflight (`OPTIONS`) is answered 204 with the methods and headers the
 * API uses. Tokens travel in `Authorization`, not cookies, so no
 * credentials mode is needed.
 *
 * @module
 */
import { HttpResponse, type Middleware, respond, toResponse } from "../../src/http/mod.ts";

const ALLOW: [string, string][] = [["access-control-allow-origin", "*"]];
const PREFLIGHT = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, POST, PUT, DELETE, OPTIONS",
  "access-control-allow-headers": "authorization, content-type, x-requested-with",
  "access-control-max-age": "86400",
};

/**
 * The CORS middleware.
 *
 * @example
 * ```ts
 * import { Router } from "../../src/http/mod.ts";
 * import { cors } from "./cors.ts";
 * const app = new Router().use(cors).get("/api/tags", () => ({ tags: [] }));
 * ```
 */
export const cors: Middleware = async (req, next) => {
  if (req.method === "OPTIONS") return respond(null, { status: 204, headers: PREFLIGHT });
  const res = toResponse(await next());
  if (res instanceof Response) return res;
  return new HttpResponse(res.body, { status: res.status, headers: [...res.headers, ...ALLOW] });
};
