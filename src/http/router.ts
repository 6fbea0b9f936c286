/**
 * A router: routes by method and path with `:param` and `*` segments,
 * middleware around every route, and JSON answers for 404 and 405.
 *
 * @module
 */
import { shown } from "../_shown.ts";
import type { HttpRequest } from "./request.ts";
import { json, type Reply } from "./response.ts";
import { HttpError } from "./status.ts";
import type { App, Handler } from "./server.ts";

/**
 * Middleware: runs around the matched route; call `next()` to go on.
 *
 * @example
 * ```ts
 * import type { Middleware } from "@lunet/lunet/http";
 * const timing: Middleware = async (req, next) => {
 *   const t0 = performance.now();
 *   const res = await next();
 *   console.log(req.method, req.path, performance.now() - t0);
 *   return res;
 * };
 * ```
 */
export type Middleware = (req: HttpRequest, next: () => Promise<Reply>) => Reply | Promise<Reply>;

interface Route {
  segments: string[]; // literal, ":name", or "*" (last only)
  handlers: Map<string, Handler>;
}

function splitPath(path: string): string[] {
  return path.split("/").filter((p) => p !== "");
}

/**
 * Routes requests by method and path. Patterns are `/`-separated:
 * a literal segment, `:name` (one segment, in `req.params.name`, decoded)
 * or a final `*` (the rest, in `req.params["*"]`). Literal routes win over
 * parameter routes. A path with no route gets 404
 * `{"error":"Not found","path":...}`; a path whose routes lack the method
 * gets 405 with `Allow`. HEAD falls back to the GET route.
 *
 * @example
 * ```ts
 * import { Router, serve } from "@lunet/lunet/http";
 * const app = new Router()
 *   .get("/users/:id", (req) => ({ user: { id: Number(req.params.id) } }))
 *   .post("/users", async (req) => ({ created: await req.json() }));
 * const server = await serve(app, { port: 0 });
 * await server.shutdown();
 * ```
 */
export class Router implements App {
  #exact = new Map<string, Route>();
  #patterns: Route[] = [];
  #middleware: Middleware[] = [];

  /** Adds middleware, run in the order added around every matched route. */
  use(mw: Middleware): this {
    if (typeof mw !== "function") {
      throw new TypeError(`middleware must be a function, got ${shown(mw)}`);
    }
    this.#middleware.push(mw);
    return this;
  }

  /** Adds a route for `method` (or `"*"` for any method). */
  on(method: string, pattern: string, handler: Handler): this {
    if (typeof method !== "string") {
      throw new TypeError(`route method must be a string, got ${shown(method)}`);
    }
    if (typeof pattern !== "string") {
      throw new TypeError(`route pattern must be a string, got ${shown(pattern)}`);
    }
    if (!pattern.startsWith("/")) {
      throw new TypeError(`route pattern must start with "/": ${pattern}`);
    }
    if (typeof handler !== "function") {
      throw new TypeError(
        `route handler for ${method.toUpperCase()} ${pattern} must be a function, got ${
          shown(handler)
        }`,
      );
    }
    const segments = splitPath(pattern);
    const star = segments.indexOf("*");
    if (star !== -1 && star !== segments.length - 1) {
      throw new TypeError(`"*" must be the last segment: ${pattern}`);
    }
    const names = new Set<string>();
    for (const s of segments) {
      if (s[0] !== ":") continue;
      const name = s.slice(1);
      if (name === "") throw new TypeError(`route parameter without a name: ${pattern}`);
      if (names.has(name)) {
        throw new TypeError(`route parameter "${name}" appears twice: ${pattern}`);
      }
      names.add(name);
    }
    const dynamic = segments.some((s) => s[0] === ":" || s === "*");
    const key = "/" + segments.join("/");
    let route = dynamic
      ? this.#patterns.find((r) => r.segments.join("/") === segments.join("/"))
      : this.#exact.get(key);
    if (!route) {
      route = { segments, handlers: new Map() };
      if (dynamic) this.#patterns.push(route);
      else this.#exact.set(key, route);
    }
    route.handlers.set(method.toUpperCase(), handler);
    return this;
  }

  /** Adds a GET route. */
  get(pattern: string, handler: Handler): this {
    return this.on("GET", pattern, handler);
  }

  /** Adds a POST route. */
  post(pattern: string, handler: Handler): this {
    return this.on("POST", pattern, handler);
  }

  /** Adds a PUT route. */
  put(pattern: string, handler: Handler): this {
    return this.on("PUT", pattern, handler);
  }

  /** Adds a PATCH route. */
  patch(pattern: string, handler: Handler): this {
    return this.on("PATCH", pattern, handler);
  }

  /** Adds a DELETE route. */
  delete(pattern: string, handler: Handler): this {
    return this.on("DELETE", pattern, handler);
  }

  /** Adds a route for every method. */
  all(pattern: string, handler: Handler): this {
    return this.on("*", pattern, handler);
  }

  #match(path: string, req: HttpRequest): Route | undefined {
    const exact = this.#exact.get(path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path);
    if (exact) return exact;
    if (this.#patterns.length === 0) return undefined;
    const parts = splitPath(path);
    for (const route of this.#patterns) {
      const params = matchSegments(route.segments, parts);
      if (params) {
        req.params = params;
        return route;
      }
    }
    return undefined;
  }

  /** Dispatches one request. */
  handle(req: HttpRequest): Reply | Promise<Reply> {
    const path = req.path;
    const route = this.#match(path, req);
    let handler: Handler | undefined;
    if (route) {
      const h = route.handlers;
      handler = h.get(req.method) ?? (req.method === "HEAD" ? h.get("GET") : undefined) ??
        h.get("*");
      if (!handler) {
        const allow = [...h.keys()];
        if (allow.includes("GET")) allow.push("HEAD");
        handler = () =>
          json({ error: "Method Not Allowed", method: req.method, path }, {
            status: 405,
            headers: { allow: allow.join(", ") },
          });
      }
    } else {
      handler = () => json({ error: "Not found", path }, { status: 404 });
    }
    const mw = this.#middleware;
    if (mw.length === 0) return handler(req);
    const final = handler;
    const run = async (i: number): Promise<Reply> =>
      i === mw.length ? await final(req) : await mw[i](req, () => run(i + 1));
    return run(0);
  }
}

function matchSegments(segments: string[], parts: string[]): Record<string, string> | null {
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    if (s === "*") {
      params["*"] = parts.slice(i).map(decode).join("/");
      return params;
    }
    if (i >= parts.length) return null;
    if (s.charCodeAt(0) === 0x3a) params[s.slice(1)] = decode(parts[i]);
    else if (s !== parts[i]) return null;
  }
  return segments.length === parts.length ? params : null;
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, "malformed percent-encoding in path");
  }
}
