/**
 * The server side: {@linkcode accept} checks an upgrade request inside a
 * lunet/http handler, answers `101 Switching Protocols` and takes the
 * connection over.
 *
 * @module
 */
import { current, isEarlyWake } from "../_wait.ts";
import { onCancel } from "../task.ts";
import { HttpError } from "../http/status.ts";
import type { HttpRequest } from "../http/request.ts";
import { upgrade } from "../http/_upgrade.ts";
import { acceptOffer, type CompressOptions, Deflate, parseExtensions } from "./_deflate.ts";
import { acceptKey, hasToken, isToken, isValidKey, tokens } from "./_handshake.ts";
import { createWsConn, type WsConn } from "./websocket.ts";
import type { WebSocketOptions } from "./options.ts";

/**
 * Options of {@linkcode accept}.
 *
 * @example
 * ```ts
 * import type { AcceptOptions } from "@lunet/lunet/ws";
 * const opts: AcceptOptions = { protocols: ["chat"], compress: true, allowedOrigins: ["https://example.com"] };
 * ```
 */
export interface AcceptOptions extends WebSocketOptions {
  /** Subprotocols this server speaks; the first one the client offers is chosen. */
  protocols?: string[];
  /** Accept permessage-deflate when the client offers it (default false); an object tunes it. */
  compress?: boolean | CompressOptions;
  /**
   * Origins allowed to connect (exact `Origin` values, e.g.
   * `"https://example.com"`); others get 403. Requests without `Origin`
   * (not from a browser) are allowed. Default: any.
   */
  allowedOrigins?: string[];
}

/**
 * The refusal of a request that is not a WebSocket handshake this server
 * takes: an `HttpError` (400, 403, or 426 for a version other than 13)
 * with the header fields the answer should carry.
 *
 * @example
 * ```ts
 * import { HandshakeError } from "@lunet/lunet/ws";
 * const err = new HandshakeError(426, "unsupported version", [["sec-websocket-version", "13"]]);
 * if (err.status !== 426 || err.headers.length !== 1) throw new Error("unexpected");
 * ```
 */
export class HandshakeError extends HttpError {
  /**
   * Creates the error.
   *
   * @param status the HTTP status
   * @param message what was wrong
   * @param headers header fields for the answer
   */
  constructor(status: number, message: string, headers: [string, string][] = []) {
    super(status, message, { headers });
    this.name = "HandshakeError";
  }
}

/**
 * Inside a lunet/http handler: completes the WebSocket handshake (101) and
 * takes the connection over. A request that is not a valid upgrade is
 * refused with a {@linkcode HandshakeError} (an `HttpError`: 400; 403 for
 * an origin not allowed; 426 when the version is not 13) and nothing is
 * upgraded. The handler's task owns the socket: when the handler returns,
 * the connection is closed with 1000; when it throws, with 1011 (1001 when
 * the server shuts down and cancels it).
 *
 * @example An echo server
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "@lunet/lunet/http";
 * import { accept, connect } from "@lunet/lunet/ws";
 * const server = await serve(async (req) => {
 *   const ws = await accept(req, { compress: true });
 *   for await (const msg of ws) await ws.send(msg);
 * }, { port: 0 });
 * const ws = await connect(`ws://127.0.0.1:${server.addr.port}/`, { compress: true });
 * await ws.send(new Uint8Array([1, 2, 3]));
 * assert.deepEqual(await ws.recv(), new Uint8Array([1, 2, 3]));
 * await ws.close();
 * await server.shutdown();
 * ```
 */
export async function accept(req: HttpRequest, opts: AcceptOptions = {}): Promise<WsConn> {
  const h = req.headers;
  if (req.method !== "GET") throw new HandshakeError(400, "websocket: the method must be GET");
  if (req.version !== "HTTP/1.1") throw new HandshakeError(400, "websocket: HTTP/1.1 required");
  if (!hasToken(h.getAll("upgrade"), "websocket")) {
    throw new HandshakeError(400, "websocket: Upgrade: websocket expected");
  }
  if (!hasToken(h.getAll("connection"), "upgrade")) {
    throw new HandshakeError(400, "websocket: Connection: upgrade expected");
  }
  const versions = h.getAll("sec-websocket-version");
  if (versions.length !== 1 || versions[0].trim() !== "13") {
    throw new HandshakeError(426, "websocket: Sec-WebSocket-Version 13 required", [
      ["upgrade", "websocket"],
      ["sec-websocket-version", "13"],
    ]);
  }
  const keys = h.getAll("sec-websocket-key");
  if (keys.length !== 1 || !isValidKey(keys[0].trim())) {
    throw new HandshakeError(400, "websocket: invalid Sec-WebSocket-Key");
  }
  const origin = h.get("origin");
  if (opts.allowedOrigins && origin !== null && !opts.allowedOrigins.includes(origin)) {
    throw new HandshakeError(403, `websocket: origin ${origin} not allowed`);
  }
  const offered = tokens(h.getAll("sec-websocket-protocol"));
  if (!offered.every(isToken)) throw new HandshakeError(400, "websocket: invalid subprotocol");
  const protocol = offered.find((p) => opts.protocols?.includes(p)) ?? "";
  let deflate: Deflate | undefined, extensions = "";
  if (opts.compress) {
    const compress = opts.compress === true ? {} : opts.compress;
    const offers = parseExtensions(h.getAll("sec-websocket-extensions"));
    if (!offers) throw new HandshakeError(400, "websocket: malformed Sec-WebSocket-Extensions");
    const agreed = acceptOffer(offers);
    if (agreed) {
      deflate = new Deflate(agreed.params, compress);
      extensions = agreed.response;
    }
  }
  const headers: [string, string][] = [
    ["upgrade", "websocket"],
    ["connection", "Upgrade"],
    ["sec-websocket-accept", await acceptKey(keys[0].trim())],
  ];
  if (protocol) headers.push(["sec-websocket-protocol", protocol]);
  if (extensions) headers.push(["sec-websocket-extensions", extensions]);
  const made: { ws?: WsConn } = {};
  const { conn, head } = await upgrade(req, headers, async (error) => {
    const code = error === undefined ? 1000 : isEarlyWake(error) ? 1001 : 1011;
    // Inside a cancelled task the wait fails at once, after the close frame went out.
    await made.ws?.close(code).catch(() => {});
  });
  if (conn.peer.transport === "tcp") conn.setNoDelay(true);
  const ws = made.ws = createWsConn({
    conn,
    head,
    client: false,
    protocol,
    extensions,
    deflate,
    opts,
  });
  // The server's shutdown deadline cancels the task and closes the socket
  // at once: the close frame (1001) goes out as the task is cancelled.
  const task = current();
  if (task) onCancel(task, () => ws.close(1001).catch(() => {}));
  return ws;
}
