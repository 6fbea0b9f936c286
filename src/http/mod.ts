/**
 * lunet/http: an HTTP/1.1 server engine on lunet sockets. One task per
 * connection runs the handler (cancelled when the client goes away);
 * keep-alive, pipelining with batched writes, chunked bodies both ways,
 * streaming, Server-Sent Events, multipart uploads, strict size limits
 * and timeouts, smuggling defences, lingering close, graceful shutdown,
 * a router with `:params`, and multi-core serving through workers.
 *
 * @example Hello JSON
 * ```ts
 * import { json, serve } from "@lunet/lunet/http";
 * const server = await serve((req) => json({ message: "hello", path: req.path }), { port: 0 });
 * const res = await fetch(`http://127.0.0.1:${server.addr.port}/hi`);
 * console.log(await res.json()); // { message: "hello", path: "/hi" }
 * await server.shutdown();
 * ```
 * @module
 */
export type { SocketAddr } from "../socket.ts";
export { DEFAULT_LIMITS, type HttpLimits } from "./limits.ts";
export { HttpError, type HttpErrorOptions, statusText } from "./status.ts";
export { RequestHeaders } from "./headers.ts";
export type { Body } from "./body.ts";
export { HttpRequest } from "./request.ts";
export { type MultipartLimits, Part } from "./multipart.ts";
export {
  type HeaderList,
  type HeadersInput,
  HttpResponse,
  json,
  PushBody,
  redirect,
  type Reply,
  respond,
  type ResponseBody,
  type ResponseOptions,
  text,
  toResponse,
} from "./response.ts";
export { formatEvent, sse, type SseEvent, type SseOptions, SseStream } from "./sse.ts";
export { type SseFanout, sseFanout, type SseFanoutOptions } from "./sse_fanout.ts";
export type { Bus, BusEntry, BusMessage, BusSubscription, ReadOptions } from "../bus/_types.ts";
export type { WaitOptions } from "../_wait.ts";
export { type Middleware, Router } from "./router.ts";
export { type App, type Handler, serve, type ServeOptions } from "./server.ts";
export type {
  BaseServeOptions,
  Server,
  ServerShutdownOptions,
  ShutdownOptions,
} from "./lifecycle.ts";
export {
  currentWorker,
  every,
  type EveryOptions,
  type IntervalHandle,
  type SharedDictOptions,
  supervise,
  type SupervisionOptions,
  watchdog,
  type WorkerInfo,
  type WorkersOptions,
  type WorkersServer,
  workerStatus,
} from "./workers.ts";
export type { CompressOptions, CompressServeOptions, Encoding } from "./_compress.ts";
export type { NamedCertificate, TlsCertificate, TlsServeOptions } from "./_tls_serve.ts";
export { serveDir, type ServeDirOptions, serveFile, type ServeFileOptions } from "./static.ts";
