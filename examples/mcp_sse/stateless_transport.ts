/**
 * Streamable HTTP for the stateless revision (2026-07-28), on the same
 * `POST /mcp` as the session-based revisions: the version is decided per
 * request, by the `MCP-Protocol-Version` header (or, without a session, a
 * body whose `_meta` names its version). No session is opened or read
 * (`Mcp-Session-Id` is ignored), no event id is sent and nothing is
 * resumed: any instance can answer any request.
 *
 * Before a request runs, its headers are checked against its body:
 * `MCP-Protocol-Version` must be present and equal
 * `_meta["io.modelcontextprotocol/protocolVersion"]`, `Mcp-Method` must
 * equal the method and `Mcp-Name` the tool or prompt name or the resource
 * URI (base64 sentinel `=?base64?…?=` decoded); otherwise `400` with a
 * `HeaderMismatch` error (-32020). A missing `_meta` field is `400`
 * invalid params, a version spoken only through `initialize` or unknown
 * is `400` with `UnsupportedProtocolVersion` (-32022) listing the
 * versions, a method of this revision not defined is `404` "method not
 * found", and a tool that needs a capability the client did not declare
 * is `400` with `MissingRequiredClientCapability` (-32021).
 *
 * Replies are JSON, except `subscriptions/listen` (an event stream of
 * change notifications) and a `tools/call` or `prompts/get` that asked
 * for progress (`progressToken`) or log entries (`logLevel`) from a
 * client accepting `text/event-stream`: those notifications go on the
 * request's own stream before the reply, and closing that stream cancels
 * the request (no reply). Notifications get `202`.
 *
 * @example
 * ```ts ignore
 * import { postStateless } from "./stateless_transport.ts";
 * router.post("/mcp", async (req) => postStateless(req, JSON.parse(await req.text()), ctx));
 * ```
 * @module
 */
import { HttpResponse, json, sse } from "../../src/http/mod.ts";
import type { HttpRequest } from "../../src/http/mod.ts";
import { isStateless } from "./eras.ts";
import {
  encode,
  failure,
  INVALID_PARAMS,
  INVALID_REQUEST,
  isObject,
  METHOD_NOT_FOUND,
  NO_REPLY,
  type RequestId,
  RpcError,
  type RpcMessage,
  type RpcRequest,
  type RpcResponse,
} from "./jsonrpc.ts";
import { honoured } from "./listen.ts";
import type { TransportContext } from "./server.ts";
import {
  HEADER_MISMATCH,
  META,
  MISSING_REQUIRED_CLIENT_CAPABILITY,
  readMeta,
  type RequestMeta,
  STATELESS_METHODS,
  UNSUPPORTED_PROTOCOL_VERSION,
  unsupportedVersion,
} from "./stateless.ts";

/** Methods whose `Mcp-Name` header names the target, and where the body has it. */
const NAMED: Record<string, "name" | "uri"> = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
};

/** Headers of every event stream of this revision. */
const STREAM_HEADERS = { "x-accel-buffering": "no" };

/**
 * Answers one stateless `POST /mcp` whose body parsed to `body`; `sseOk`
 * tells whether the client accepts `text/event-stream`.
 */
export async function postStateless(
  req: HttpRequest,
  body: unknown,
  ctx: TransportContext,
  sseOk: boolean,
): Promise<HttpResponse> {
  if (Array.isArray(body)) {
    return refuse(400, null, INVALID_REQUEST, "Invalid Request: no batches in 2026-07-28");
  }
  if (!isObject(body)) return refuse(400, null, INVALID_REQUEST, "Invalid Request: not an object");
  const id = readId(body.id);
  if (body.jsonrpc !== "2.0" || typeof body.method !== "string") {
    const what = body.method === undefined && ("result" in body || "error" in body)
      ? "a client sends no responses in 2026-07-28"
      : 'jsonrpc must be "2.0" and method a string';
    return refuse(400, id, INVALID_REQUEST, `Invalid Request: ${what}`);
  }
  if (!("id" in body)) return new HttpResponse(null, { status: 202 }); // a notification
  if (id === null) {
    return refuse(400, null, INVALID_REQUEST, "Invalid Request: id must be a string or a number");
  }
  if (body.params !== undefined && !isObject(body.params)) {
    return refuse(400, id, INVALID_PARAMS, "Invalid params: params must be an object");
  }
  const request = body as unknown as RpcRequest;
  let meta: RequestMeta;
  try {
    meta = readMeta(request.params);
  } catch (err) {
    return fail(id, err);
  }
  const problem = checkHeaders(req, request, meta);
  if (problem) return refuse(400, id, HEADER_MISMATCH, problem);
  if (!isStateless(meta.version)) return fail(id, unsupportedVersion(meta.version));
  if (!STATELESS_METHODS.has(request.method)) {
    return refuse(404, id, METHOD_NOT_FOUND, `Method not found: ${request.method}`);
  }
  if (request.method === "subscriptions/listen") return listen(request, id, ctx, sseOk);
  const params = (request.params ?? {}) as Record<string, unknown>;
  const wantsNotes = isObject(params._meta) &&
    (params._meta.progressToken !== undefined || meta.logLevel !== undefined);
  if (sseOk && wantsNotes && NAMED[request.method] === "name") {
    return sse(async (stream) => {
      const send = (m: RpcMessage) => stream.send({ event: "message", data: encode(m) });
      const reply = await answer(request, id, meta, ctx, send);
      if (reply) await send(reply.body);
    }, { heartbeat: ctx.heartbeat, headers: STREAM_HEADERS });
  }
  const reply = await answer(request, id, meta, ctx);
  if (!reply) return new HttpResponse(null, { status: 204 }); // cancelled: no reply
  return json(reply.body, { status: reply.status });
}

/** A stateless `GET` or `DELETE /mcp`: the revision has neither (405). */
export function notInStateless(method: string): HttpResponse {
  return json(
    failure(null, INVALID_REQUEST, `Method Not Allowed: no ${method} /mcp in 2026-07-28`),
    { status: 405, headers: { allow: "POST" } },
  );
}

/** The reply to a request, with its HTTP status; `undefined` when cancelled. */
async function answer(
  request: RpcRequest,
  id: RequestId,
  meta: RequestMeta,
  ctx: TransportContext,
  send?: (message: RpcMessage) => Promise<void>,
): Promise<{ body: RpcResponse; status: number } | undefined> {
  try {
    const result = await ctx.stateless.handle(request, meta, send);
    if (result === NO_REPLY) return undefined;
    return { body: { jsonrpc: "2.0", id, result }, status: 200 };
  } catch (err) {
    const rpc = err instanceof RpcError
      ? err
      : new RpcError(-32603, `Internal error: ${(err as Error)?.message ?? err}`);
    return { body: failure(id, rpc.code, rpc.message, rpc.data), status: statusOf(rpc.code) };
  }
}

/** `subscriptions/listen`: the stream of the change notifications the client opted in to. */
function listen(
  request: RpcRequest,
  id: RequestId,
  ctx: TransportContext,
  sseOk: boolean,
): HttpResponse {
  if (!sseOk) {
    return refuse(406, id, INVALID_REQUEST, "Not Acceptable: subscriptions/listen is a stream");
  }
  const params = request.params as Record<string, unknown>;
  const filter = honoured(params.notifications, (uri) => ctx.mcp.resources.knows(uri));
  return sse(async (stream) => {
    await ctx.listeners.serve(stream, id, filter, (subscriptionId) => ({
      jsonrpc: "2.0",
      id: subscriptionId,
      result: {
        resultType: "complete",
        _meta: {
          "io.modelcontextprotocol/subscriptionId": subscriptionId,
          [META.serverInfo]: { name: ctx.mcp.info.name, version: ctx.mcp.info.version },
        },
      },
    }));
  }, { heartbeat: ctx.heartbeat, headers: STREAM_HEADERS });
}

/**
 * What is wrong with the request's headers, or `undefined`:
 * `MCP-Protocol-Version`, `Mcp-Method` and, where the method names a
 * target, `Mcp-Name` must be present and equal their body values.
 */
function checkHeaders(req: HttpRequest, request: RpcRequest, meta: RequestMeta) {
  const version = req.headers.get("mcp-protocol-version");
  if (version === null) return "Header mismatch: MCP-Protocol-Version header required";
  if (version !== meta.version) {
    return `Header mismatch: MCP-Protocol-Version header value '${version}' does not match ` +
      `body value '${meta.version}'`;
  }
  const method = req.headers.get("mcp-method");
  if (method === null) return "Header mismatch: Mcp-Method header required";
  if (method !== request.method) {
    return `Header mismatch: Mcp-Method header value '${method}' does not match body value '${request.method}'`;
  }
  const field = NAMED[request.method];
  if (!field) return undefined;
  const raw = req.headers.get("mcp-name");
  if (raw === null) return "Header mismatch: Mcp-Name header required";
  const name = decodeHeader(raw);
  if (name === undefined) return "Header mismatch: Mcp-Name header value is not valid base64";
  const target = (request.params as Record<string, unknown>)[field];
  if (name !== target) {
    return `Header mismatch: Mcp-Name header value '${name}' does not match body value '${target}'`;
  }
  return undefined;
}

/** A header value with the base64 sentinel (`=?base64?…?=`) decoded; `undefined` if malformed. */
function decodeHeader(value: string): string | undefined {
  if (!value.startsWith("=?base64?") || !value.endsWith("?=") || value.length < 11) return value;
  try {
    const bytes = Uint8Array.from(atob(value.slice(9, -2)), (c) => c.charCodeAt(0));
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** The HTTP status of an error reply of this revision. */
function statusOf(code: number): number {
  if (code === METHOD_NOT_FOUND) return 404;
  if (
    code === HEADER_MISMATCH || code === MISSING_REQUIRED_CLIENT_CAPABILITY ||
    code === UNSUPPORTED_PROTOCOL_VERSION || code === INVALID_REQUEST
  ) return 400;
  return 200;
}

function fail(id: RequestId | null, err: unknown): HttpResponse {
  if (!(err instanceof RpcError)) throw err;
  const status = err.code === INVALID_PARAMS ? 400 : statusOf(err.code);
  return json(failure(id, err.code, err.message, err.data), { status });
}

function refuse(
  status: number,
  id: RequestId | null,
  code: number,
  message: string,
): HttpResponse {
  return json(failure(id, code, message), { status });
}

function readId(id: unknown): RequestId | null {
  return typeof id === "string" || (typeof id === "number" && Number.isFinite(id)) ? id : null;
}
