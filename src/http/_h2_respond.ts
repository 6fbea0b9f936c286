/**
 * Writing one response on an HTTP/2 stream: what a handler returned (see
 * ./response.ts) becomes a HEADERS frame (`:status`, the handler's fields
 * less the connection-specific ones, `date`, and `content-length` when the
 * length is known) and DATA frames paced by flow control. Fixed bodies,
 * streams, async iterables, pushed bodies (SSE), file bodies and Fetch API
 * `Response`s are all sent, compressed as the server is set up to, as on
 * HTTP/1.1.
 *
 * @example
 * ```ts ignore
 * const sent = sendResponse(stream, connection, text("hi"), head);
 * if (sent) await sent;
 * ```
 *
 * @module
 */
import type { RequestHead } from "./_parser.ts";
import { type HeaderList, type HttpResponse, PushBody } from "./response.ts";
import { type Compression, encodeFixed, encodeStreamed } from "./_compress.ts";
import { FileBody } from "./_file_body.ts";
import type { H2Stream } from "./_h2_stream.ts";

type Streamed = Exclude<HttpResponse["body"], string | Uint8Array | null | undefined>;

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);
/** Fields HTTP/2 does not carry (RFC 9113 section 8.2.2). */
const DROPPED = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

/** What a response needs from its connection. */
export interface ResponseHost {
  /** Sends the header block `fields` on `stream` (HEADERS and CONTINUATION frames). */
  headers(stream: H2Stream, fields: [string, string][], end: boolean): void;
  /** The current HTTP date. */
  date(): string;
  /** The server's response compression. */
  readonly compression: Compression | null;
}

function fieldsOf(
  status: number,
  headers: HeaderList | Headers,
  date: string,
  length: number,
): [string, string][] {
  const out: [string, string][] = [[":status", String(status)]];
  for (const [name, value] of headers) {
    if (!DROPPED.has(name) && name !== "content-length" && name !== "date") out.push([name, value]);
  }
  out.push(["date", date]);
  if (length >= 0) out.push(["content-length", String(length)]);
  return out;
}

/**
 * Sends `res`, the response to the request `head`, on `stream`;
 * synchronous while nothing has to wait.
 */
export function sendResponse(
  stream: H2Stream,
  host: ResponseHost,
  res: HttpResponse | Response,
  head: RequestHead,
): void | Promise<void> {
  const omit = head.method === "HEAD";
  if (res instanceof Response) return sendFetch(stream, host, res, head, omit);
  // The first compressed response waits for node:zlib to load.
  const loading = host.compression?.loading(head, res.status, res.headers, res.body);
  if (loading) return loading.then(() => sendResponse(stream, host, res, head));
  let headers = res.headers, body = res.body;
  if (
    body === null || body === undefined || typeof body === "string" || body instanceof Uint8Array
  ) {
    if (body && host.compression !== null) {
      const coded = encodeFixed(host.compression, head, res.status, headers, body);
      if (coded !== null) [headers, body] = coded;
    }
    const bytes = body === null || body === undefined
      ? EMPTY
      : typeof body === "string"
      ? encoder.encode(body)
      : body;
    const noBody = omit || bytes.length === 0;
    host.headers(stream, fieldsOf(res.status, headers, host.date(), bytes.length), noBody);
    if (noBody) return;
    return stream.send(bytes, true);
  }
  let length = -1;
  let streamed: Streamed = body;
  const coded = host.compression === null
    ? null
    : encodeStreamed(host.compression, head, res.status, headers, body);
  if (coded !== null) [headers, streamed] = coded;
  else if (body instanceof FileBody) length = body.length;
  host.headers(stream, fieldsOf(res.status, headers, host.date(), length), omit);
  if (omit) return body instanceof ReadableStream ? body.cancel() : undefined;
  return sendStreamed(stream, streamed);
}

async function sendFetch(
  stream: H2Stream,
  host: ResponseHost,
  res: Response,
  head: RequestHead,
  omit: boolean,
): Promise<void> {
  let headers: HeaderList = [...res.headers];
  if (res.body === null || omit) {
    host.headers(stream, fieldsOf(res.status, headers, host.date(), -1), true);
    await res.body?.cancel();
    return;
  }
  let body: Streamed = res.body;
  const loading = host.compression?.loading(head, res.status, headers, body);
  if (loading) await loading;
  const coded = host.compression === null
    ? null
    : encodeStreamed(host.compression, head, res.status, headers, body);
  if (coded !== null) [headers, body] = coded;
  host.headers(stream, fieldsOf(res.status, headers, host.date(), -1), false);
  await sendStreamed(stream, body);
}

async function sendStreamed(stream: H2Stream, body: Streamed): Promise<void> {
  const write = async (chunk: string | Uint8Array) => {
    const bytes = typeof chunk === "string" ? encoder.encode(chunk) : chunk;
    if (bytes.length === 0) return;
    const sent = stream.send(bytes, false);
    if (sent) await sent;
  };
  if (body instanceof PushBody) await body.produce(write);
  else {
    for await (const piece of body as AsyncIterable<Uint8Array | string>) await write(piece);
  }
  const sent = stream.send(EMPTY, true);
  if (sent) await sent;
}
