/**
 * lunet/ws: WebSocket (RFC 6455) server and client on lunet sockets, with
 * permessage-deflate (RFC 7692) and process-wide topics.
 *
 * - Server: inside any lunet/http handler, `await accept(req, opts)`
 *   answers the handshake and returns a {@linkcode WsConn}; the handler's
 *   task owns it (closed with 1000 when the handler returns, 1011 when it
 *   throws).
 * - Client: `await connect("ws://…" | "wss://…", opts)`.
 * - Both: `send`, `recv`, `for await`, `ping`, `close`, `closed`,
 *   `subscribe`/`unsubscribe`, and {@linkcode publish} to a topic;
 *   {@linkcode topicsOnBus} carries topics across processes on a bus.
 *
 * Strict on input: masking rules, reserved bits and opcodes, control frame
 * rules, close codes, UTF-8 of text checked as it arrives (1007 at the
 * first bad byte), `maxMessageBytes` (1009, also for what decompression
 * produces), idle timeout and pings.
 *
 * @example Echo server and client
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "@lunet/lunet/http";
 * import { accept, connect } from "@lunet/lunet/ws";
 * const server = await serve(async (req) => {
 *   const ws = await accept(req);
 *   for await (const msg of ws) await ws.send(msg);
 * }, { port: 0 });
 * const ws = await connect(`ws://127.0.0.1:${server.addr.port}/echo`);
 * await ws.send("ping?");
 * assert.equal(await ws.recv(), "ping?");
 * await ws.close();
 * await server.shutdown();
 * ```
 * @module
 */
export { accept, type AcceptOptions, HandshakeError } from "./accept.ts";
export { connect, type ConnectOptions } from "./connect.ts";
export { publish } from "./topics.ts";
export { type TopicBusOptions, topicsOnBus } from "./_hub.ts";
export type { Bus, BusEntry, BusMessage, BusSubscription, ReadOptions } from "../bus/_types.ts";
export { WsConn } from "./websocket.ts";
export type { CloseInfo, WebSocketOptions } from "./options.ts";
export type { CompressOptions } from "./_deflate.ts";
export type { WaitOptions } from "../_wait.ts";
