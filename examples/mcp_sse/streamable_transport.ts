/**
 * The MCP Streamable HTTP transport (2025-03-26 and later) on one endpoint,
 * `/mcp`:
 *
 * - `POST` carries a message or a batch (batches only on 2025-03-26
 *   sessions). An `initialize` without a session opens one, whose id comes
 *   back in `Mcp-Session-Id`; every later request must carry that header
 *   (400 without it, 404 once the session expired, so the client starts
 *   over) and, from 2025-06-18, the negotiated `MCP-Protocol-Version`.
 *   Notifications and replies alone get `202 Accepted`. Replies are JSON,
 *   except for `tools/call` when the client accepts `text/event-stream`:
 *   then the call gets a stream of its own — progress, log entries and the
 *   server's requests to the client travel on it before the reply.
 * - `GET` opens the standalone stream (server-initiated messages: list
 *   changes, resource updates); with `Last-Event-ID` it resumes any stream
 *   of the session after that event instead.
 * - `DELETE` ends the session; its running calls stop without a reply.
 *
 * A client that goes away cancels its call, whether its reply was to be
 * JSON or SSE; a stream the server closed on purpose (SEP-1699) does not.
 *
 * On shared state (`MCP_REDIS_URL`) the session's requests may land on any
 * instance: each finds the session there, and answers `503` while Redis is
 * out of reach. Every response names the instance in `Mcp-Instance`.
 *
 * A request of the stateless revision (2026-07-28 in `MCP-Protocol-Version`,
 * or no session and a body whose `_meta` names its version) is handed to
 * `stateless_transport.ts` instead; `GET` and `DELETE` of that revision get
 * `405`.
 *
 * @example
 * ```ts ignore
 * import { Router } from "../../src/http/mod.ts";
 * import { addStreamableTransport } from "./streamable_transport.ts";
 * addStreamableTransport(new Router(), ctx);
 * ```
 * @module
 */
import { shield } from "../../mod.ts";
import type { HttpRequest } from "../../src/http/mod.ts";
import { HttpResponse, json, PushBody, sse } from "../../src/http/mod.ts";
import type { Router } from "../../src/http/mod.ts";
import { isStateless, PROTOCOL_VERSIONS } from "./eras.ts";
import { streamOf } from "./event_store.ts";
import { encode, failure, INVALID_REQUEST, parseBody, type RpcMessage } from "./jsonrpc.ts";
import { ALREADY_INITIALIZED, McpProtocol } from "./protocol.ts";
import type { TransportContext } from "./server.ts";
import type { Session } from "./sessions.ts";
import { carriesVersion, unsupportedVersion } from "./stateless.ts";
import { notInStateless, postStateless } from "./stateless_transport.ts";
import { STANDALONE } from "./streams.ts";

/** The session header. */
const SESSION_HEADER = "mcp-session-id";

/** The header naming the instance that answered. */
const INSTANCE_HEADER = "mcp-instance";

/** Adds `POST`, `GET` and `DELETE /mcp` to `router`. */
export function addStreamableTransport(router: Router, ctx: TransportContext): Router {
  return router
    .post("/mcp", (req) => stamped(post(req, ctx), ctx))
    .get("/mcp", (req) => stamped(get(req, ctx), ctx))
    .delete("/mcp", (req) => stamped(remove(req, ctx), ctx));
}

/** The response with `Mcp-Instance`; a failure of shared state answered with 503. */
async function stamped(
  reply: Promise<HttpResponse> | HttpResponse,
  ctx: TransportContext,
): Promise<HttpResponse> {
  let res;
  try {
    res = await reply;
  } catch (err) {
    if (!isSharedStateError(err)) throw err;
    res = rpcError(503, `Service Unavailable: session state out of reach (${err.message})`);
  }
  return new HttpResponse(res.body, {
    status: res.status,
    headers: [...res.headers, [INSTANCE_HEADER, ctx.sessions.instance]],
  });
}

/** A Redis failure (the driver's error, matched by name: this module loads no driver). */
function isSharedStateError(err: unknown): err is Error {
  return err instanceof Error && err.name === "RedisError";
}

async function post(req: HttpRequest, ctx: TransportContext) {
  const type = req.headers.get("content-type");
  if (type !== null && !type.toLowerCase().includes("application/json")) {
    return rpcError(415, "Unsupported Media Type: expected application/json");
  }
  const accept = req.headers.get("accept");
  const sseOk = accepts(accept, "text/event-stream");
  if (!sseOk && !accepts(accept, "application/json")) {
    return rpcError(406, "Not Acceptable: accept application/json or text/event-stream");
  }
  const version = req.headers.get("mcp-protocol-version");
  const parsed = parseBody(await req.text());
  if ("error" in parsed) return json(parsed.error, { status: 400 });
  const body = parsed.value;
  const id = req.headers.get(SESSION_HEADER);
  // The revision is decided per request: a stateless version in the header, or no session
  // and a body whose _meta names its version, is the stateless revision (2026-07-28).
  if (
    isStateless(version) ||
    (id === null && !McpProtocol.isInitialize(body) && carriesVersion(body))
  ) {
    return postStateless(req, body, ctx, sseOk);
  }
  if (version !== null && !PROTOCOL_VERSIONS.includes(version)) {
    const e = unsupportedVersion(version);
    return json(failure(requestIdOf(body), e.code, e.message, e.data), { status: 400 });
  }
  let session: Session | undefined;
  if (id === null) {
    if (!McpProtocol.isInitialize(body)) {
      return rpcError(400, "Bad Request: Mcp-Session-Id header required");
    }
    session = ctx.sessions.create("streamable");
    if (!session) return rpcError(503, "Service Unavailable: too many sessions");
  } else {
    session = await ctx.sessions.find(id);
    if (!session || session.transport !== "streamable") return rpcError(404, "Session not found");
    const problem = checkSession(session, version, body);
    if (problem) return problem;
    if (McpProtocol.initializes(body)) {
      const reply = failure(requestIdOf(body), INVALID_REQUEST, ALREADY_INITIALIZED);
      return json(reply, { status: 400 });
    }
  }
  const headers = { [SESSION_HEADER]: session.id };
  if (McpProtocol.callsTool(body)) {
    await ctx.sessions.save(session, body);
    return sseOk
      ? callOnStream(body, session, ctx, headers)
      : callWithJson(body, session, ctx, headers);
  }
  const handled = await ctx.mcp.handle(body, session);
  if (id === null && !isSuccess(handled.body)) ctx.sessions.delete(session.id);
  else {
    try {
      await ctx.sessions.save(session, body);
    } catch (err) {
      if (id === null) ctx.sessions.delete(session.id); // a session nobody else can find
      throw err;
    }
  }
  if (!handled.hadRequests) return new HttpResponse(null, { status: 202, headers });
  return json(handled.body, { headers });
}

/**
 * A tool call answered on a stream of its own. The call runs shielded from
 * the connection: the client going away cancels it, but a stream the
 * server detached (SEP-1699) leaves it running, its reply stored for the
 * client's resumption.
 */
function callOnStream(
  body: unknown,
  session: Session,
  ctx: TransportContext,
  headers: Record<string, string>,
): HttpResponse {
  const hub = session.hub!;
  const streamId = hub.open();
  return sse(async (stream) => {
    const served = hub.serve(streamId, stream); // attaches before the call sends anything
    const work = shield(async () => {
      try {
        const handled = await ctx.mcp.handle(body, session, streamId);
        if (handled.body) await session.send(handled.body as RpcMessage, streamId);
      } finally {
        await hub.complete(streamId).catch(() => {}); // shared state out of reach: resumption ends there
      }
    });
    let end;
    try {
      end = await served;
    } finally {
      if (end !== "detached") work.cancel();
    }
    if (end !== "detached") await work.then(undefined, () => {});
  }, { heartbeat: ctx.heartbeat, headers });
}

/**
 * A tool call answered with JSON. The reply goes out as a streamed body so
 * the connection is watched meanwhile: a client that goes away cancels the
 * call (a plain response would only notice when writing the reply).
 */
function callWithJson(
  body: unknown,
  session: Session,
  ctx: TransportContext,
  headers: Record<string, string>,
): HttpResponse {
  return new HttpResponse(
    new PushBody(async (write) => {
      const handled = await ctx.mcp.handle(body, session);
      if (handled.body) await write(encode(handled.body));
    }),
    { headers: { ...headers, "content-type": "application/json" } },
  );
}

async function get(req: HttpRequest, ctx: TransportContext) {
  if (isStateless(req.headers.get("mcp-protocol-version"))) return notInStateless("GET");
  if (!accepts(req.headers.get("accept"), "text/event-stream")) {
    return rpcError(406, "Not Acceptable: a GET stream needs text/event-stream");
  }
  const id = req.headers.get(SESSION_HEADER);
  if (id === null) return rpcError(400, "Bad Request: Mcp-Session-Id header required");
  const session = await ctx.sessions.find(id);
  if (!session || session.transport !== "streamable") return rpcError(404, "Session not found");
  const problem = checkSession(session, req.headers.get("mcp-protocol-version"), undefined);
  if (problem) return problem;
  const hub = session.hub!;
  const headers = { [SESSION_HEADER]: session.id };
  const last = req.headers.get("last-event-id");
  if (last !== null) {
    if (!(await hub.resumable(last))) {
      return rpcError(400, `Bad Request: unknown Last-Event-ID ${last}`);
    }
    return sse(async (stream) => {
      await hub.serve(streamOf(last)!, stream, last);
    }, { heartbeat: ctx.heartbeat, headers });
  }
  if (hub.standaloneHeld) return rpcError(409, "Conflict: the session's stream is already open");
  return sse(async (stream) => {
    await hub.serve(STANDALONE, stream);
  }, { heartbeat: ctx.heartbeat, headers });
}

async function remove(req: HttpRequest, ctx: TransportContext) {
  if (isStateless(req.headers.get("mcp-protocol-version"))) return notInStateless("DELETE");
  const id = req.headers.get(SESSION_HEADER);
  if (id === null) return rpcError(400, "Bad Request: Mcp-Session-Id header required");
  if (!(await ctx.sessions.end(id))) return rpcError(404, "Session not found");
  return new HttpResponse(null, { status: 204 });
}

/**
 * Refuses what the session's revision does not allow: a protocol version
 * header other than the negotiated one (the header came with 2025-06-18;
 * `2025-03-26`, the version a client without it is assumed to speak,
 * counts as absent), and batches from 2025-06-18 on.
 */
function checkSession(
  session: Session,
  version: string | null,
  body: unknown,
): HttpResponse | undefined {
  const negotiated = session.protocolVersion;
  if (
    version !== null && negotiated !== undefined && version !== negotiated &&
    version !== "2025-03-26"
  ) {
    return rpcError(
      400,
      `Bad Request: MCP-Protocol-Version ${version} differs from the negotiated ${negotiated}`,
    );
  }
  if (Array.isArray(body) && !session.features.batches) {
    return rpcError(400, `Bad Request: protocol version ${negotiated} has no batches`);
  }
  return undefined;
}

/** True when an `Accept` value (absent: anything) allows `type`. */
function accepts(accept: string | null, type: string): boolean {
  if (accept === null || accept === "") return true;
  const major = type.slice(0, type.indexOf("/"));
  return accept.split(",").some((range) => {
    const [media, ...params] = range.trim().toLowerCase().split(";");
    if (params.some((p) => /^\s*q\s*=\s*0(\.0*)?\s*$/.test(p))) return false;
    return media === type || media === `${major}/*` || media === "*/*";
  });
}

function rpcError(status: number, message: string): HttpResponse {
  return json(failure(null, INVALID_REQUEST, message), { status });
}

/** The id of a single request, for an error reply; `null` for anything else. */
function requestIdOf(body: unknown): string | number | null {
  const id = (body as { id?: unknown } | null)?.id;
  return typeof id === "string" || typeof id === "number" ? id : null;
}

function isSuccess(reply: unknown): boolean {
  return typeof reply === "object" && reply !== null && "result" in reply;
}
