/**
 * What a handler returns: an {@linkcode HttpResponse} built with
 * {@linkcode json}, {@linkcode text}, {@linkcode respond} or
 * {@linkcode redirect}, a Fetch API `Response`, or a plain value (a
 * string is sent as text, an object as JSON, `undefined` as 204).
 * Header names and values are checked when the response is built: a CR,
 * LF or other control character is refused with a `TypeError`. The
 * engine owns the framing: Content-Length, Transfer-Encoding and
 * Connection fields given by a handler are dropped.
 *
 * @module
 */
import { isFieldValue, isToken, trimOws } from "./_ascii.ts";

/**
 * A response body: text (sent as UTF-8), bytes, a stream or async
 * iterable of chunks (sent chunked on HTTP/1.1, delimited by closing the
 * connection on HTTP/1.0), or nothing. The engine frames every body: a
 * Content-Length or Transfer-Encoding field given with it is dropped.
 *
 * @example
 * ```ts
 * import type { ResponseBody } from "@lunet/lunet/http";
 * async function* numbers() {
 *   for (let i = 0; i < 3; i++) yield `${i}\n`;
 * }
 * const body: ResponseBody = numbers();
 * ```
 */
export type ResponseBody =
  | string
  | PushBody
  | Uint8Array
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array | string>
  | null
  | undefined;

/**
 * A body the engine pushes out as a producer writes it: the producer gets
 * a `write` function and the response ends when it returns. Used by
 * {@linkcode sse}; sent chunked (HTTP/1.1) or close-delimited (HTTP/1.0).
 *
 * @example
 * ```ts
 * import { PushBody, respond } from "@lunet/lunet/http";
 * const res = respond(new PushBody(async (write) => {
 *   await write("one\n");
 *   await write("two\n");
 * }));
 * ```
 */
export class PushBody {
  /** The producer. */
  readonly produce: (write: (chunk: string | Uint8Array) => Promise<void>) => Promise<void> | void;
  /**
   * Wraps a producer.
   *
   * @param produce called once with a function that sends one piece */
  constructor(
    produce: (write: (chunk: string | Uint8Array) => Promise<void>) => Promise<void> | void,
  ) {
    this.produce = produce;
  }
}

/**
 * Header fields for a response: a record (an array value repeats the
 * field), a list of pairs, or a Fetch API `Headers`.
 *
 * @example
 * ```ts
 * import type { HeadersInput } from "@lunet/lunet/http";
 * const h: HeadersInput = { "cache-control": "no-store", "set-cookie": ["a=1", "b=2"] };
 * ```
 */
export type HeadersInput =
  | Record<string, string | string[]>
  | ReadonlyArray<readonly [string, string]>
  | Headers;

/**
 * Status and headers of a response.
 *
 * @example
 * ```ts
 * import { json, type ResponseOptions } from "@lunet/lunet/http";
 * const init: ResponseOptions = { status: 201, headers: { location: "/users/7" } };
 * const res = json({ id: 7 }, init);
 * ```
 */
export interface ResponseOptions {
  /** Status code (default 200): a final response, 200 to 599, else a RangeError. */
  status?: number;
  /** Header fields. */
  headers?: HeadersInput;
}

/**
 * Validated response header fields, as `[lower-case name, value]` pairs.
 *
 * @example
 * ```ts
 * import type { HeaderList } from "@lunet/lunet/http";
 * const h: HeaderList = [["content-type", "text/plain"]];
 * ```
 */
export type HeaderList = ReadonlyArray<readonly [string, string]>;

const NO_HEADERS: HeaderList = Object.freeze([]);
/** The shared header list of JSON responses (not exported from the entry point). */
export const JSON_HEADERS: HeaderList = Object.freeze([
  Object.freeze(["content-type", "application/json"] as const),
]);
/** The shared header list of text responses (not exported from the entry point). */
export const TEXT_HEADERS: HeaderList = Object.freeze([
  Object.freeze(["content-type", "text/plain; charset=utf-8"] as const),
]);

function checkField(name: string, value: string): void {
  if (!isToken(name)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
  if (!isFieldValue(value)) {
    throw new TypeError(
      `invalid value for header "${name}": control characters (CR, LF, ...) are refused`,
    );
  }
}

/** True for the fields that frame a message, which the engine writes itself. */
function isFraming(lower: string): boolean {
  return lower === "content-length" || lower === "transfer-encoding" || lower === "connection";
}

/**
 * The last header object normalised, its fields as they were then, and
 * the frozen list made of them: a handler that answers with the same
 * object (`{ headers: SERVER }`) gets the same list, checked field by
 * field, and its header block is serialised once (see ./_writer.ts).
 */
let memoInput: object | undefined;
let memoBase: HeaderList = NO_HEADERS;
let memoFields: unknown[] = [];
let memoOut: HeaderList = NO_HEADERS;

// The list normalised from `input` last time, when its fields are unchanged.
function remembered(input: Record<string, unknown>, base: HeaderList): HeaderList | undefined {
  if (input !== memoInput || base !== memoBase) return undefined;
  const fields = memoFields;
  let i = 0;
  for (const name in input) {
    if (name !== fields[i] || input[name] !== fields[i + 1]) return undefined;
    i += 2;
  }
  return i === fields.length ? memoOut : undefined;
}

// Remembers the list normalised from `input` when its values are strings.
function remember(input: Record<string, unknown>, base: HeaderList, out: HeaderList): HeaderList {
  const fields: unknown[] = [];
  for (const name in input) {
    const value = input[name];
    if (typeof value !== "string" || !Object.hasOwn(input, name)) return out;
    fields.push(name, value);
  }
  memoInput = input;
  memoBase = base;
  memoFields = fields;
  memoOut = Object.freeze(out.map((field) => Object.freeze(field)));
  return memoOut;
}

function normalizeHeaders(input: HeadersInput | undefined, base: HeaderList): HeaderList {
  if (input === undefined) return base;
  const plain = !(input instanceof Headers) && !Array.isArray(input);
  if (plain) {
    const known = remembered(input as Record<string, unknown>, base);
    if (known !== undefined) return known;
  }
  const out: [string, string][] = [];
  const add = (name: string, value: string) => {
    value = String(value);
    checkField(name, value);
    const lower = name.toLowerCase();
    if (!isFraming(lower)) out.push([lower, trimOws(value)]);
  };
  if (input instanceof Headers) {
    for (const [n, v] of input) add(n, v);
  } else if (Array.isArray(input)) {
    for (const [n, v] of input as HeaderList) add(n, v);
  } else {
    for (const [n, v] of Object.entries(input)) {
      if (Array.isArray(v)) { for (const one of v) add(n, one); }
      else add(n, v);
    }
  }
  for (const [n, v] of base) if (!out.some(([m]) => m === n)) out.push([n, v]);
  return plain ? remember(input as Record<string, unknown>, base, out) : out;
}

// A final response's status: an interim one (1xx) would leave the exchange
// without its response, and RFC 9110 defines nothing past 599.
function checkStatus(status: number): number {
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new RangeError(`http: a response status is an integer from 200 to 599, got ${status}`);
  }
  return status;
}

/**
 * A response: status, validated header fields (names lower-cased) and a
 * body. Content-Length, chunked framing, Date and Connection are added by
 * the engine; Content-Length, Transfer-Encoding and Connection fields in
 * `init.headers` are dropped, so a response is never framed twice.
 *
 * @example
 * ```ts
 * import { HttpResponse } from "@lunet/lunet/http";
 * const res = new HttpResponse("created", { status: 201, headers: { "x-id": "7" } });
 * console.log(res.status, res.headers);
 * ```
 */
export class HttpResponse {
  /** Status code. */
  readonly status: number;
  /** Header fields as `[lower-case name, value]`. */
  readonly headers: HeaderList;
  /** The body. */
  readonly body: ResponseBody;

  /**
   * Builds a response and validates its header fields.
   *
   * @param body the body
   * @param init status and headers
   * @param base header fields added unless `init.headers` sets them
   */
  constructor(body?: ResponseBody, init?: ResponseOptions, base: HeaderList = NO_HEADERS) {
    this.status = init?.status === undefined ? 200 : checkStatus(init.status);
    this.headers = normalizeHeaders(init?.headers, base);
    this.body = body;
  }
}

/**
 * A JSON response (`application/json`). A `bigint` is sent as a number
 * when it is a safe integer (`Number.isSafeInteger`), else as a string of
 * its decimal digits, so no precision is lost.
 *
 * @example
 * ```ts
 * import { json } from "@lunet/lunet/http";
 * const res = json({ message: "hello", id: 42n }, { status: 200 }); // {"message":"hello","id":42}
 * ```
 */
export function json(data: unknown, init?: ResponseOptions): HttpResponse {
  return new HttpResponse(stringify(data), init, JSON_HEADERS);
}

// JSON.stringify, retried with bigints converted only when it fails.
function stringify(data: unknown): string {
  try {
    return JSON.stringify(data) ?? "null";
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    return JSON.stringify(data, bigintAsJson) ?? "null";
  }
}

function bigintAsJson(_key: string, value: unknown): unknown {
  if (typeof value !== "bigint") return value;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : value.toString();
}

/**
 * A text response (`text/plain; charset=utf-8`).
 *
 * @example
 * ```ts
 * import { text } from "@lunet/lunet/http";
 * const res = text("hello\n");
 * ```
 */
export function text(body: string, init?: ResponseOptions): HttpResponse {
  return new HttpResponse(body, init, TEXT_HEADERS);
}

/**
 * A response with any body.
 *
 * @example
 * ```ts
 * import { respond } from "@lunet/lunet/http";
 * const res = respond(new Uint8Array([1, 2, 3]), { headers: { "content-type": "application/octet-stream" } });
 * ```
 */
export function respond(body: ResponseBody, init?: ResponseOptions): HttpResponse {
  return new HttpResponse(body, init);
}

/**
 * A redirect to `location` (302 unless told otherwise).
 *
 * @example
 * ```ts
 * import { redirect } from "@lunet/lunet/http";
 * const res = redirect("/login", 303);
 * ```
 */
export function redirect(location: string, status = 302): HttpResponse {
  return new HttpResponse(null, { status, headers: { location } });
}

/**
 * What a handler may return: an {@linkcode HttpResponse}, a Fetch API
 * `Response`, a string (text), bytes, `undefined` (204) or any other value
 * (sent as JSON).
 *
 * @example
 * ```ts
 * import type { Reply } from "@lunet/lunet/http";
 * const replies: Reply[] = ["hello", { ok: true }, undefined];
 * ```
 */
export type Reply =
  | HttpResponse
  | Response
  | string
  | Uint8Array
  | object
  | number
  | boolean
  | null
  | undefined;

/**
 * Turns whatever a handler returned into an {@linkcode HttpResponse} (or
 * leaves a Fetch API `Response` as it is) — what a middleware needs to add
 * headers to any reply.
 *
 * @example
 * ```ts
 * import { HttpResponse, type Middleware, toResponse } from "@lunet/lunet/http";
 * const poweredBy: Middleware = async (_req, next) => {
 *   const res = toResponse(await next());
 *   if (res instanceof Response) return res;
 *   const headers = [...res.headers, ["x-powered-by", "lunet"] as [string, string]];
 *   return new HttpResponse(res.body, { status: res.status, headers });
 * };
 * ```
 */
export function toResponse(reply: Reply): HttpResponse | Response {
  if (reply instanceof HttpResponse || reply instanceof Response) return reply;
  if (typeof reply === "string") return new HttpResponse(reply, undefined, TEXT_HEADERS);
  if (reply === undefined) return new HttpResponse(null, { status: 204 });
  if (reply instanceof Uint8Array) return new HttpResponse(reply);
  return json(reply);
}
