/**
 * The MCP 2024-11-05 "HTTP with SSE" transport: `GET /sse` opens an event
 * stream and announces, in an `endpoint` event, the URL to POST messages
 * to (`/message?sessionId=…`); each `POST /message` is answered `202
 * Accepted` and its JSON-RPC reply travels on the stream as a `message`
 * event.
 *
 * The stream's task owns the session: it serves the inbox (each message in
 * a child task, so calls run concurrently) and drains the outbox onto the
 * stream. When the client disconnects, that task is cancelled and the
 * session's running tool calls with it.
 *
 * @example
 * ```ts ignore
 * import { Router } from "../../src/http/mod.ts";
 * import { addSseTransport } from "./sse_transport.ts";
 * addSseTransport(new Router(), { mcp, sessions, heartbeat: 15_000 });
 * ```
 * @module
 */
import { ClosedError, LunetError, spawn, TimeoutError } from "../../mod.ts";
import type { HttpRequest } from "../../src/http/mod.ts";
import { json, respond } from "../../src/http/mod.ts";
import type { Router } from "../../src/http/mod.ts";
import { sse, type SseStream } from "../../src/http/mod.ts";
import { encode, parseBody } from "./jsonrpc.ts";
import type { McpProtocol } from "./protocol.ts";
import type { TransportContext } from "./server.ts";
import type { Session } from "./sessions.ts";

/** Most time a POST waits for room in a busy session's inbox, ms. */
const INBOX_WAIT = 10_000;

/** Adds `GET /sse` and `POST /message` to `router`. */
export function addSseTransport(router: Router, ctx: TransportContext): Router {
  return router
    .get("/sse", () => openStream(ctx))
    .post("/message", (req) => postMessage(req, ctx));
}

function openStream(ctx: TransportContext) {
  const session = ctx.sessions.create("sse");
  if (!session) return json({ error: "Too many sessions" }, { status: 503 });
  return sse(async (stream) => {
    await stream.send({ event: "endpoint", data: `/message?sessionId=${session.id}` });
    const worker = spawn(() => serveInbox(session, ctx.mcp), {
      name: `mcp sse inbox ${session.id}`,
    });
    try {
      await drainOutbox(session, stream, ctx.sessions.ttl / 2);
    } finally {
      worker.cancel();
      await worker.then(undefined, () => {});
      ctx.sessions.delete(session.id);
    }
  }, { heartbeat: ctx.heartbeat, headers: { "x-accel-buffering": "no" } });
}

/** Sends the session's outgoing messages until the session closes; an open stream keeps it alive. */
async function drainOutbox(session: Session, stream: SseStream, keepAlive: number): Promise<void> {
  for (;;) {
    let message: string;
    try {
      message = await session.outbox!.recv({ timeout: keepAlive });
    } catch (err) {
      if (err instanceof TimeoutError) {
        session.touch();
        continue;
      }
      if (err instanceof ClosedError) return;
      throw err;
    }
    await stream.send({ event: "message", data: message });
  }
}

/** Handles each POSTed body in a child task and queues its reply for the stream. */
async function serveInbox(session: Session, mcp: McpProtocol): Promise<void> {
  for await (const body of session.inbox!) {
    spawn(async () => {
      try {
        const handled = await mcp.handle(body, session);
        if (handled.body) await session.outbox!.send(encode(handled.body));
      } catch (err) {
        if (!(err instanceof LunetError && (err.code === "closed" || err.code === "cancelled"))) {
          throw err;
        }
      }
    }, { name: "mcp sse message" });
  }
}

async function postMessage(req: HttpRequest, ctx: TransportContext) {
  const session = ctx.sessions.get(req.query.get("sessionId"));
  if (!session || session.transport !== "sse") {
    return json({ error: "Session not found" }, { status: 404 });
  }
  const parsed = parseBody(await req.text());
  if ("error" in parsed) return json(parsed.error, { status: 400 });
  try {
    await session.inbox!.send(parsed.value, { timeout: INBOX_WAIT });
  } catch (err) {
    if (err instanceof ClosedError) return json({ error: "Session not found" }, { status: 404 });
    if (err instanceof TimeoutError) return json({ error: "Session busy" }, { status: 503 });
    throw err;
  }
  return respond("Accepted", { status: 202, headers: { "content-type": "text/plain" } });
}
