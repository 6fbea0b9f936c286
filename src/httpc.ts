/**
 * lunet/httpc: an outbound HTTP(S) client for tasks. It keeps the original
 * lunet client's semantics on top of `fetch`:
 *
 * - 4xx and 5xx answers are ordinary responses; only transport failures
 *   (refused, reset, TLS, too many redirects, too large) throw.
 * - The whole request — connect, redirects, head and body — has one budget:
 *   `timeout` (30 s by default) and/or an absolute `deadline`.
 * - `maxBodyBytes` (10 MiB by default) is enforced while the body streams
 *   in; a larger body fails the request and drops the connection, it is never
 *   buffered whole.
 * - Redirects are followed up to `maxRedirects` (10); credentials are not
 *   carried to another origin.
 * - TLS certificates are verified; `caCerts` adds trusted roots, and
 *   `insecure: true` (or `LUNET_HTTPC_INSECURE=1`, announced on stderr)
 *   turns verification off.
 * - Cancelling the calling task aborts the request.
 *
 * @example Call a local server from a task
 * ```ts
 * import { spawn } from "@lunet/lunet";
 * import { serve, text } from "@lunet/lunet/http";
 * import * as httpc from "@lunet/lunet/httpc";
 * const server = await serve(() => text("hello"), { port: 0 });
 * const url = `http://127.0.0.1:${server.addr.port}/`;
 * const res = await spawn(() => httpc.get(url, { timeout: 5000 }));
 * await server.shutdown();
 * if (res.status !== 200 || res.text() !== "hello") throw new Error(`${res.status} ${res.text()}`);
 * if (!res.headers.get("content-type")?.startsWith("text/plain")) throw new Error("content-type");
 * ```
 * @module
 */
import { envFlag } from "./env.ts";
import { ProtocolError } from "./errors.ts";
import { deadlineOf, isEarlyWake, race, type WaitOptions } from "./_wait.ts";
import { BodyReader } from "./httpc/body.ts";
import { type Outgoing, transportError, Wire } from "./httpc/transport.ts";

export type { WaitOptions } from "./_wait.ts";

/**
 * A request body: text (sent as UTF-8), bytes, or a stream (a stream cannot
 * be resent on a 307/308 redirect).
 *
 * @example
 * ```ts
 * import type { RequestBody } from "@lunet/lunet/httpc";
 * const bodies: RequestBody[] = ["text", new Uint8Array([1, 2]), ReadableStream.from([])];
 * if (bodies.length !== 3) throw new Error("three kinds");
 * ```
 */
export type RequestBody = string | Uint8Array | ReadableStream<Uint8Array>;

/**
 * Options of {@linkcode request} and {@linkcode stream}.
 *
 * @example
 * ```ts
 * import type { RequestOptions } from "@lunet/lunet/httpc";
 * const opts: RequestOptions = { url: "http://127.0.0.1:8080/", timeout: 1000 };
 * if (opts.method !== undefined) throw new Error("GET is the default");
 * ```
 */
export interface RequestOptions extends WaitOptions {
  /** Absolute `http:` or `https:` URL. */
  url: string | URL;
  /**
   * Request method (case-insensitive).
   *
   * @default {"GET"}
   */
  method?: string;
  /** Request headers. */
  headers?: HeadersInit;
  /** Request body. */
  body?: RequestBody;
  /**
   * Budget in milliseconds for the whole request, redirects and body
   * included (for {@linkcode stream}: until the response head);
   * `Infinity` for none. When it runs out, the call throws
   * {@linkcode TimeoutError}.
   *
   * @default {30000}
   */
  timeout?: number;
  /**
   * Largest accepted body in bytes; a larger one fails the call with
   * {@linkcode ProtocolError}. {@linkcode request}: 10 MiB by default.
   * {@linkcode stream}: unlimited unless given.
   *
   * @default {10485760}
   */
  maxBodyBytes?: number;
  /**
   * Redirects to follow; with 0 a 3xx is returned as is.
   *
   * @default {10}
   */
  maxRedirects?: number;
  /**
   * Skip TLS certificate verification. Unset, it is skipped only when
   * `LUNET_HTTPC_INSECURE=1` (announced once on stderr).
   *
   * @default {false}
   */
  insecure?: boolean;
  /** Extra trusted root certificates, PEM encoded. */
  caCerts?: string[];
}

/**
 * A complete response: status, headers, the whole body, and the final URL
 * after redirects.
 *
 * @example Read a JSON answer
 * ```ts
 * import { json, serve } from "@lunet/lunet/http";
 * import { get } from "@lunet/lunet/httpc";
 * import { deepStrictEqual } from "node:assert/strict";
 * const server = await serve(() => json({ items: [1, 2] }), { port: 0 });
 * const res = await get(`http://127.0.0.1:${server.addr.port}/data.json`);
 * await server.shutdown();
 * if (!res.ok) throw new Error(`status ${res.status}`);
 * deepStrictEqual(res.json(), { items: [1, 2] });
 * ```
 */
export class HttpcResponse {
  /** HTTP status code. */
  readonly status: number;
  /** Reason phrase. */
  readonly statusText: string;
  /** Response headers. */
  readonly headers: Headers;
  /** The body bytes. */
  readonly body: Uint8Array;
  /** The URL that answered, after redirects. */
  readonly url: string;

  /**
   * Builds a response from a head and the body read for it.
   *
   * @param head status, reason phrase and headers
   * @param body the body bytes
   * @param url the final URL
   */
  constructor(head: Response, body: Uint8Array, url: string) {
    this.status = head.status;
    this.statusText = head.statusText;
    this.headers = head.headers;
    this.body = body;
    this.url = url;
  }

  /** True for a 2xx status. */
  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  /** The body decoded as UTF-8. */
  text(): string {
    return new TextDecoder().decode(this.body);
  }

  /**
   * The body parsed as JSON.
   *
   * @throws {ProtocolError} when the body is not JSON.
   */
  json<T = unknown>(): T {
    return parseJson<T>(this.text(), this.url);
  }
}

let makeStream: (head: Response, url: string, body: BodyReader, wire: Wire) => HttpcStream;

/**
 * A response whose body is read chunk by chunk. Close it when done: an
 * unfinished body is dropped with its connection.
 *
 * @example Count the bytes of a body without holding it whole
 * ```ts
 * import { serve, text } from "@lunet/lunet/http";
 * import { stream } from "@lunet/lunet/httpc";
 * const server = await serve(() => text("x".repeat(100_000)), { port: 0 });
 * const res = await stream({ url: `http://127.0.0.1:${server.addr.port}/big` });
 * let total = 0;
 * try {
 *   for await (const chunk of res) total += chunk.byteLength;
 * } finally {
 *   res.close();
 * }
 * await server.shutdown();
 * if (total !== 100_000) throw new Error(`got ${total} bytes`);
 * ```
 */
export class HttpcStream implements AsyncIterable<Uint8Array> {
  /** HTTP status code. */
  readonly status: number;
  /** Reason phrase. */
  readonly statusText: string;
  /** Response headers. */
  readonly headers: Headers;
  /** The URL that answered, after redirects. */
  readonly url: string;
  readonly #body: BodyReader;
  readonly #wire: Wire;

  static {
    makeStream = (head, url, body, wire) => new HttpcStream(head, url, body, wire);
  }

  /** @ignore */
  private constructor(head: Response, url: string, body: BodyReader, wire: Wire) {
    this.status = head.status;
    this.statusText = head.statusText;
    this.headers = head.headers;
    this.url = url;
    this.#body = body;
    this.#wire = wire;
  }

  /**
   * The next body chunk, or `null` at the end (the connection is then
   * released). A timed-out or cancelled read loses nothing: the next read
   * returns the chunk that was on its way.
   *
   * @param opts Timeout, deadline and abort signal of this read.
   * @throws {TimeoutError} when the timeout or deadline passes first.
   * @throws {Cancelled} when the task is cancelled or the signal aborts.
   * @throws {ProtocolError} when the body grows past `maxBodyBytes` (the
   * stream is then closed).
   */
  async read(opts?: WaitOptions): Promise<Uint8Array | null> {
    try {
      const chunk = await this.#body.read(opts);
      if (chunk === null) this.close();
      return chunk;
    } catch (err) {
      if (!isEarlyWake(err)) this.close();
      throw err;
    }
  }

  /**
   * Reads the rest of the body as one array, then closes the stream.
   *
   * @param opts Timeout, deadline and abort signal of the whole read.
   * @throws {ProtocolError} when the body grows past `maxBodyBytes`.
   */
  async bytes(opts?: WaitOptions): Promise<Uint8Array> {
    try {
      return await this.#body.readAll(opts);
    } finally {
      this.close();
    }
  }

  /** Releases the connection, dropping any unread body; idempotent. */
  close(): void {
    this.#wire.close();
  }

  /** Yields the body chunks; leaving the loop early closes the stream. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    try {
      for (let chunk; (chunk = await this.read()) !== null;) yield chunk;
    } finally {
      this.close();
    }
  }
}

/**
 * A JSON exchange's result: the parsed body (`undefined` when it was empty).
 *
 * @example
 * ```ts
 * import type { JsonResponse } from "@lunet/lunet/httpc";
 * const empty: JsonResponse<{ id: number }> = {
 *   status: 204,
 *   headers: new Headers(),
 *   url: "http://127.0.0.1:8080/items",
 *   data: undefined,
 * };
 * if (empty.data?.id !== undefined) throw new Error("an empty body has no data");
 * ```
 */
export interface JsonResponse<T> {
  /** HTTP status code. */
  status: number;
  /** Response headers. */
  headers: Headers;
  /** The URL that answered, after redirects. */
  url: string;
  /** The parsed body, or `undefined` when the body was empty. */
  data: T | undefined;
}

const DEFAULT_TIMEOUT = 30_000;
const DEFAULT_MAX_BODY = 10 * 1024 * 1024;
const DEFAULT_MAX_REDIRECTS = 10;

/**
 * Sends a request and reads the whole response. Resolves for every HTTP
 * status (a 404 or a 500 is an ordinary response); rejects only on
 * transport failures.
 *
 * @param opts The URL, method, headers, body, limits and budget.
 * @returns The status, headers, final URL and the whole body.
 * @throws {ConnectionRefused} when nothing listens at the address.
 * @throws {ConnectionReset} when the server drops the connection.
 * @throws {NotFound} when the host name does not resolve.
 * @throws {ProtocolError} on a TLS failure, more than `maxRedirects`
 * redirects, or a body larger than `maxBodyBytes`.
 * @throws {TimeoutError} when `timeout` or `deadline` passes first.
 * @throws {Cancelled} when the task is cancelled or `signal` aborts.
 * @throws {TypeError} for a URL that is not `http:` or `https:`.
 *
 * @example Send a body and read the answer
 * ```ts
 * import { type HttpRequest, serve, text } from "@lunet/lunet/http";
 * import { request } from "@lunet/lunet/httpc";
 * const echo = async (req: HttpRequest) => text(`${req.method} ${await req.text()}`);
 * const server = await serve(echo, { port: 0 });
 * const res = await request({
 *   url: `http://127.0.0.1:${server.addr.port}/items`,
 *   method: "PUT",
 *   headers: { "content-type": "text/plain" },
 *   body: "hello",
 *   timeout: 2000,
 * });
 * await server.shutdown();
 * if (res.status !== 200 || res.text() !== "PUT hello") throw new Error(res.text());
 * ```
 *
 * @example One budget for the whole request
 * ```ts
 * import { sleep, TimeoutError } from "@lunet/lunet";
 * import { serve } from "@lunet/lunet/http";
 * import { request } from "@lunet/lunet/httpc";
 * const server = await serve(() => sleep(5000), { port: 0 });
 * const err = await request({ url: `http://127.0.0.1:${server.addr.port}/`, timeout: 200 })
 *   .then(() => undefined, (e) => e);
 * await server.shutdown({ timeout: 0 }); // cancel the sleeping handler
 * if (!(err instanceof TimeoutError)) throw new Error(`expected a timeout, got ${err}`);
 * ```
 */
export async function request(opts: RequestOptions): Promise<HttpcResponse> {
  const wait = waitOptions(opts);
  const { head, url, wire, what } = await exchange(opts, wait);
  try {
    const body = new BodyReader(head, what, opts.maxBodyBytes ?? DEFAULT_MAX_BODY);
    return new HttpcResponse(head, await body.readAll(wait), url);
  } finally {
    wire.close();
  }
}

/**
 * Sends a request and resolves at the response head, with the body to be
 * read as a stream. The `timeout`/`deadline` covers the request up to the
 * head; each read takes its own. Close the stream when done.
 *
 * @param opts The URL, method, headers, body, limits and budget.
 * @returns The response head, with the body left to read.
 * @throws {ConnectionRefused} when nothing listens at the address.
 * @throws {ProtocolError} on a TLS failure, too many redirects, or a
 * `Content-Length` over `maxBodyBytes`.
 * @throws {TimeoutError} when the head does not arrive within the budget.
 * @throws {Cancelled} when the task is cancelled or `signal` aborts.
 *
 * @example Read the first chunk, then drop the rest
 * ```ts
 * import { serve, text } from "@lunet/lunet/http";
 * import { stream } from "@lunet/lunet/httpc";
 * const server = await serve(() => text("event: tick\n\n"), { port: 0 });
 * const res = await stream({ url: `http://127.0.0.1:${server.addr.port}/events` });
 * const first = await res.read({ timeout: 5000 });
 * res.close();
 * await server.shutdown();
 * if (res.status !== 200 || first === null) throw new Error("no first chunk");
 * ```
 */
export async function stream(opts: RequestOptions): Promise<HttpcStream> {
  const { head, url, wire, what } = await exchange(opts, waitOptions(opts));
  try {
    return makeStream(
      head,
      url,
      new BodyReader(head, what, opts.maxBodyBytes ?? Infinity),
      wire,
    );
  } catch (err) {
    wire.close();
    throw err;
  }
}

/**
 * `GET url`: shorthand for {@linkcode request}, which lists what it throws.
 *
 * @param url The URL to fetch.
 * @param opts Headers, limits and budget of the request.
 * @returns The whole response; a 4xx or 5xx resolves like any other.
 *
 * @example An error status is a response, not an exception
 * ```ts
 * import { serve, text } from "@lunet/lunet/http";
 * import { get } from "@lunet/lunet/httpc";
 * const server = await serve(() => text("gone", { status: 404 }), { port: 0 });
 * const res = await get(`http://127.0.0.1:${server.addr.port}/`);
 * await server.shutdown();
 * if (res.status !== 404 || res.ok) throw new Error(`status ${res.status}`);
 * ```
 */
export function get(url: string | URL, opts?: Omit<RequestOptions, "url">): Promise<HttpcResponse> {
  return request({ ...opts, url, method: "GET" });
}

/**
 * `POST url` with `body`: shorthand for {@linkcode request}, which lists
 * what it throws.
 *
 * @param url The URL to post to.
 * @param body The request body.
 * @param opts Headers, limits and budget of the request.
 * @returns The whole response.
 *
 * @example Echo a body
 * ```ts
 * import { serve, text } from "@lunet/lunet/http";
 * import { post } from "@lunet/lunet/httpc";
 * const server = await serve(async (req) => text(await req.text()), { port: 0 });
 * const res = await post(`http://127.0.0.1:${server.addr.port}/echo`, "hello", {
 *   headers: { "content-type": "text/plain" },
 * });
 * await server.shutdown();
 * if (res.text() !== "hello") throw new Error(res.text());
 * ```
 */
export function post(
  url: string | URL,
  body: RequestBody,
  opts?: Omit<RequestOptions, "url" | "body">,
): Promise<HttpcResponse> {
  return request({ ...opts, url, body, method: "POST" });
}

/**
 * A JSON exchange: sends `value` as a JSON body (with `POST` unless
 * `opts.method` says otherwise; a plain `GET` when `value` is `undefined`)
 * and parses the response body as JSON, whatever the status. Transport
 * failures throw as {@linkcode request} lists.
 *
 * @param url The URL to call.
 * @param value The JSON body; `undefined` sends none.
 * @param opts Method, headers, limits and wait options of the request.
 * @returns The status, headers, final URL and parsed body (`undefined`
 * for an empty body).
 * @throws {ProtocolError} when the response body is not JSON.
 *
 * @example Post JSON, read JSON
 * ```ts
 * import { json, serve } from "@lunet/lunet/http";
 * import { requestJson } from "@lunet/lunet/httpc";
 * import { deepStrictEqual } from "node:assert/strict";
 * const server = await serve(async (req) => json({ got: await req.json() }), { port: 0 });
 * const url = `http://127.0.0.1:${server.addr.port}/api`;
 * const { status, data } = await requestJson<{ got: unknown }>(url, { q: 1 });
 * await server.shutdown();
 * if (status !== 200) throw new Error(`status ${status}`);
 * deepStrictEqual(data, { got: { q: 1 } });
 * ```
 */
export async function requestJson<T = unknown>(
  url: string | URL,
  value?: unknown,
  opts?: Omit<RequestOptions, "url" | "body">,
): Promise<JsonResponse<T>> {
  const headers = new Headers(opts?.headers);
  if (!headers.has("accept")) headers.set("accept", "application/json");
  const req: RequestOptions = { method: "GET", ...opts, url, headers };
  if (value !== undefined) {
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
    req.body = JSON.stringify(value);
    req.method = opts?.method ?? "POST";
  }
  const res = await request(req);
  const text = res.text();
  return {
    status: res.status,
    headers: res.headers,
    url: res.url,
    data: text.trim() === "" ? undefined : parseJson<T>(text, res.url),
  };
}

/**
 * The former name of {@linkcode requestJson}, which collided with the
 * `json` response helper of lunet/http.
 *
 * @deprecated Use {@linkcode requestJson}; this alias goes in the next release.
 * @example
 * ```ts
 * import { json, requestJson } from "@lunet/lunet/httpc";
 * if (json !== requestJson) throw new Error("alias");
 * ```
 */
export const json: typeof requestJson = requestJson;

interface Exchanged {
  head: Response;
  url: string;
  wire: Wire;
  what: string;
}

/** Sends the request and follows redirects up to the final response head. */
async function exchange(opts: RequestOptions, wait: WaitOptions): Promise<Exchanged> {
  let url = parseUrl(opts.url);
  const out: Outgoing = {
    method: (opts.method ?? "GET").toUpperCase(),
    headers: new Headers(opts.headers),
    body: opts.body,
  };
  const maxRedirects = opts.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  const wire = new Wire(
    { insecure: isInsecure(opts), caCerts: opts.caCerts },
    `${out.method} ${url}`,
  );
  try {
    for (let hops = 0;; hops++) {
      const what = `${out.method} ${url}`;
      const head = await race(
        what,
        wire.send(url, out).catch((err) => {
          throw transportError(err, what);
        }),
        wait,
      );
      const location = head.headers.get("location");
      if (!REDIRECTS.has(head.status) || location === null || maxRedirects === 0) {
        return { head, url: url.href, wire, what };
      }
      await head.body?.cancel();
      if (hops >= maxRedirects) {
        throw new ProtocolError(`${what}: more than ${maxRedirects} redirects`);
      }
      const next = parseUrl(new URL(location, url));
      redirect(out, head.status, url, next, what);
      url = next;
    }
  } catch (err) {
    wire.close();
    throw err;
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const CREDENTIALS = ["authorization", "cookie", "proxy-authorization"];

/** Rewrites the outgoing request for a redirect, as browsers and curl do. */
function redirect(out: Outgoing, status: number, from: URL, to: URL, what: string): void {
  if (status === 303 || ((status === 301 || status === 302) && out.method === "POST")) {
    if (out.method !== "HEAD") out.method = "GET";
    out.body = undefined;
    out.headers.delete("content-type");
    out.headers.delete("content-length");
  } else if (out.body instanceof ReadableStream) {
    throw new ProtocolError(`${what}: ${status} redirect cannot resend a streamed body`);
  }
  if (from.origin !== to.origin) { for (const name of CREDENTIALS) out.headers.delete(name); }
}

function parseUrl(input: string | URL): URL {
  const url = new URL(input);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`httpc: unsupported URL scheme ${url.protocol} in ${url}`);
  }
  return url;
}

/** The request's wait options: the default 30 s budget unless told otherwise. */
function waitOptions(opts: RequestOptions): WaitOptions {
  const timeout = opts.timeout ?? DEFAULT_TIMEOUT;
  const deadline = timeout === Infinity
    ? opts.deadline
    : deadlineOf({ timeout, deadline: opts.deadline });
  return { deadline, signal: opts.signal };
}

let warnedInsecure = false;

function isInsecure(opts: RequestOptions): boolean {
  if (opts.insecure !== undefined) return opts.insecure;
  if (!envFlag("LUNET_HTTPC_INSECURE")) return false;
  if (!warnedInsecure) {
    warnedInsecure = true;
    console.error("lunet/httpc: LUNET_HTTPC_INSECURE=1: TLS certificates are not verified");
  }
  return true;
}

function parseJson<T>(text: string, url: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new ProtocolError(`${url}: response body is not JSON`, undefined, { cause: err });
  }
}
