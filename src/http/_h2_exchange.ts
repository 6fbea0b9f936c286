/**
 * One request/response exchange on an HTTP/2 stream, run in the stream's
 * own task: the request is the same {@linkcode HttpRequest} class HTTP/1.1
 * handlers get (its body read through `Body` from the stream's DATA
 * queue), the handler's reply or failure becomes the response, as on
 * HTTP/1.1 (an `HttpError` its status, any other error a 500 reported to
 * `onError`). A reset stream or a lost connection cancels the task.
 *
 * @example
 * ```ts ignore
 * const task = spawn(() => exchange(connection, stream, head));
 * ```
 *
 * @module
 */
import { ClosedError, ConnectionReset, TimeoutError } from "../errors.ts";
import { isEarlyWake } from "../_wait.ts";
import { newConn } from "../_conn.ts";
import type { Conn } from "../socket.ts";
import { Body } from "./body.ts";
import { Input, type ReadArena } from "./_input.ts";
import type { HttpLimits } from "./limits.ts";
import type { RequestHead } from "./_parser.ts";
import { type HttpRequest, makeRequest } from "./request.ts";
import { type HttpResponse, type Reply, toResponse } from "./response.ts";
import { errorJson } from "./_respond.ts";
import { HttpError } from "./status.ts";
import { type ResponseHost, sendResponse } from "./_h2_respond.ts";
import { H2StreamError } from "./_h2_frames.ts";
import type { H2Stream } from "./_h2_stream.ts";
import type { Upgrader } from "./_upgrade.ts";

/** What an exchange needs from its connection. */
export interface ExchangeHost extends ResponseHost {
  /** The connection (its peer is the request's `remote`). */
  readonly conn: Conn;
  /** The handler. */
  readonly handler: (req: HttpRequest) => Reply | Promise<Reply>;
  /** The limits in force. */
  readonly limits: HttpLimits;
  /** The server's read arena. */
  readonly arena: ReadArena;
  /** The input of bodiless requests (never read). */
  readonly noInput: Input;
  /** Reports a handler failure. */
  onError(err: unknown, req: HttpRequest): void;
  /** Resets `stream` with `code` (a stream error raised while answering). */
  resetStream(stream: H2Stream, code: number): void;
}

const refuseUpgrade: Upgrader = () =>
  Promise.reject(new TypeError("http upgrade: not available on HTTP/2"));

/** The body input of `stream` (and the connection it reads), or the shared empty one. */
function bodyOf(host: ExchangeHost, stream: H2Stream): [Body, Input | null, Conn | null] {
  if (stream.body === null) return [new Body(host.noInput, host.limits, 0, null), null, null];
  const conn = newConn(stream.body);
  const input = new Input(conn, host.arena);
  return [new Body(input, host.limits, -1, null), input, conn];
}

/**
 * Serves the request `head` on `stream`: runs the handler (or answers
 * `status` at once when it is not 0) and sends the response. Never throws.
 */
export async function exchange(
  host: ExchangeHost,
  stream: H2Stream,
  head: RequestHead,
  status = 0,
): Promise<void> {
  const [body, input, bodyConn] = bodyOf(host, stream);
  stream.input = input;
  const req = makeRequest(head, body, host.conn.peer, refuseUpgrade);
  try {
    let res: HttpResponse | Response;
    if (status !== 0) res = errorJson(status, "request header fields too large");
    else {
      stream.startedAt = Date.now();
      try {
        const reply = host.handler(req);
        res = toResponse(reply instanceof Promise ? await reply : reply);
      } catch (err) {
        res = errorResponse(host, stream, err, req, body);
      }
      stream.startedAt = 0;
    }
    if (stream.reset) return;
    const sent = sendResponse(stream, host, res, head);
    if (sent) await sent;
  } catch (err) {
    if (err instanceof H2StreamError) host.resetStream(stream, err.code);
    else if (!isQuiet(err) && !stream.reset && stream.task?.cancelled !== true) {
      host.onError(err, req);
    }
  } finally {
    bodyConn?.close();
  }
}

function errorResponse(
  host: ExchangeHost,
  stream: H2Stream,
  err: unknown,
  req: HttpRequest,
  body: Body,
): HttpResponse {
  if (stream.task?.cancelled || stream.reset) throw err;
  if (err instanceof HttpError) return errorJson(err.status, err.message, err.headers);
  if (body.failed && err instanceof TimeoutError) return errorJson(408, "request body timeout");
  if (body.failed) throw err;
  host.onError(err, req);
  return errorJson(500, "internal server error");
}

function isQuiet(err: unknown): boolean {
  return err instanceof ClosedError || err instanceof ConnectionReset || isEarlyWake(err);
}
