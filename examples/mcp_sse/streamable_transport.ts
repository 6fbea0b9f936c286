/**
 * The MCP Streamable HTTP transport (2025-03-26 and later) on one endpoint,
 * `/mcp`:
 *
 * - `POST` carries a message or a batch. An `initialize` without a session
 *   opens one, whose id comes back in `Mcp-Session-Id`; every later request
 *   must carry that header (400 without it, 404 once the session expired,
 *   so the client starts over). Notifications alone get `202 Accepted`.
 *   Replies are JSON, except for `tools/call` when the client accepts
 *   `text/event-stream`: then the reply comes as an SSE event, the stream's
 *   head going out at once so a long call does not leave the request silent.
 * - `DELETE` ends the session.
 * - `GET` (a server-to-client stream) is not offered: 405, as the
 *   specification allows.
 *
 * The handler runs in the request's connection task: a client that goes
 * away cancels its tool call.
 *
 * @example
 * ```ts ignore
 * import { Router } from "../../src/http/mod.ts";
 * import { addStreamableTransport } from "./streamable_transport.ts";
 * addStreamableTransport(new Router(), { mcp, sessions, heartbeat: 15_000 });
 * ```
 * @module
 */
import type { HttpRequest } from "../../src/http/mod.ts";
import { HttpResponse, json } from "../../src/http/mod.ts";
import type { Router } from "../../src/http/mod.ts";
import { sse } from "../../src/http/mod.ts";
import { encode, failure, INVALID_REQUEST, parseBody } from "./jsonrpc.ts";
import { McpProtocol, PROTOCOL_VERSIONS } from "./protocol.ts";
import type { Session } from "./sessions.ts";
import type { TransportContext } from "./server.ts";

/** The session header. */
const SESSION_HEADER = "mcp-session-id";

/** Adds `POST /mcp` and `DELETE /mcp` to `router`. */
export function addStreamableTransport(router: Router, ctx: TransportContext): Router {
  return router
    .post("/mcp", (req) => post(req, ctx))
    .delete("/mcp", (req) => remove(req, ctx));
}

async function post(req: HttpRequest, ctx: TransportContext) {
  const type = req.headers.get("content-type");
  if (type !== null && !type.toLowerCase().includes("application/json")) {
    return rpcError(415, "Unsupported Media Type: expected application/json");
  }
  const version = req.headers.get("mcp-protocol-version");
  if (version !== null && !PROTOCOL_VERSIONS.includes(version)) {
    return rpcError(400, `Bad Request: unsupported MCP-Protocol-Version ${version}`);
  }
  const parsed = parseBody(await req.text());
  if ("error" in parsed) return json(parsed.error, { status: 400 });
  const body = parsed.value;
  const id = req.headers.get(SESSION_HEADER);
  let session: Session | undefined;
  if (id === null) {
    if (!McpProtocol.isInitialize(body)) {
      return rpcError(400, "Bad Request: Mcp-Session-Id header required");
    }
    session = ctx.sessions.create("streamable");
    if (!session) return rpcError(503, "Service Unavailable: too many sessions");
  } else {
    session = ctx.sessions.get(id);
    if (!session || session.transport !== "streamable") return rpcError(404, "Session not found");
  }
  const headers = { [SESSION_HEADER]: session.id };
  const accept = req.headers.get("accept") ?? "";
  if (McpProtocol.callsTool(body) && accept.includes("text/event-stream")) {
    const open = session;
    return sse(async (stream) => {
      const handled = await ctx.mcp.handle(body, open);
      if (handled.body) await stream.send({ event: "message", data: encode(handled.body) });
    }, { heartbeat: ctx.heartbeat, headers });
  }
  const handled = await ctx.mcp.handle(body, session);
  if (id === null && !isSuccess(handled.body)) ctx.sessions.delete(session.id);
  if (!handled.hadRequests) return new HttpResponse(null, { status: 202, headers });
  return json(handled.body, { headers });
}

function remove(req: HttpRequest, ctx: TransportContext) {
  const id = req.headers.get(SESSION_HEADER);
  if (id === null) return rpcError(400, "Bad Request: Mcp-Session-Id header required");
  if (!ctx.sessions.delete(id)) return rpcError(404, "Session not found");
  return new HttpResponse(null, { status: 204 });
}

function rpcError(status: number, message: string): HttpResponse {
  return json(failure(null, INVALID_REQUEST, message), { status });
}

function isSuccess(reply: unknown): boolean {
  return typeof reply === "object" && reply !== null && "result" in reply;
}
