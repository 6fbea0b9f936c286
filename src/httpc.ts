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
 * @example
 * ```ts ignore
 * import { spawn } from "@lunet/lunet";
 * import * as httpc from "@lunet/lunet/httpc";
 * await spawn(async () => {
 *   const res = await httpc.get("https://example.com/", { timeout: 5000 });
 *   console.log(res.status, res.headers.get("content-type"), res.text().length);
 * });
 * ```
 * @module
 */
import { envFlag } from "./env.ts";
import { ProtocolError } from "./errors.ts";
import { deadlineOf, isEarlyWake, race, type WaitOptions } from "./_wait.ts";
import { BodyReader } from "./httpc/body.ts";
import { type Outgoing, transportError, Wire } from "./httpc/transport.ts";

export type { WaitOptions } from "./_wait.ts";

/** A request body: text, bytes, or a stream (a stream cannot be resent on a 307/308). */
export type RequestBody = string | Uint8Array | ReadableStream<Uint8Array>;

/**
 * Options of {@linkcode request} and {@linkcode stream}.
 *
 * @example
 * ```ts
 * import type { RequestOptions } from "@lunet/lunet/httpc";
 * const opts: RequestOptions = { url: "http://127.0.0.1:8080/", timeout: 1000 };
 * ```
 */
export interface RequestOptions extends WaitOptions {
  /** Absolute `http:` or `https:` URL. */
  url: string | URL;
  /** Method; `GET` by default. */
  method?: string;
  /** Request headers. */
  headers?: HeadersInit;
  /** Request body. */
  body?: RequestBody;
  /**
   * Budget in milliseconds for the whole request, redirects and body
   * included (for {@linkcode stream}: until the response head). 30 000 by
   * default; `Infinity` for none.
   */
  timeout?: number;
  /**
   * Largest accepted body in bytes. {@linkcode request}: 10 MiB by
   * default. {@linkcode stream}: unlimited unless given.
   */
  maxBodyBytes?: number;
  /** Redirects to follow; 10 by default. With 0 a 3xx is returned as is. */
  maxRedirects?: number;
  /** Skip TLS certificate verification. Defaults to `LUNET_HTTPC_INSECURE=1`. */
  insecure?: boolean;
  /** Extra trusted root certificates, PEM encoded. */
  caCerts?: string[];
}

/**
 * A complete response: status, headers, the whole body, and the final URL
 * after redirects.
 *
 * @example
 * ```ts ignore
 * import { get } from "@lunet/lunet/httpc";
 * const res = await get("http://127.0.0.1:8080/data.json");
 * if (res.ok) console.log(res.json());
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

  /** The body parsed as JSON; {@linkcode ProtocolError} when it is not JSON. */
  json<T = unknown>(): T {
    return parseJson<T>(this.text(), this.url);
  }
}

let makeStream: (head: Response, url: string, body: BodyReader, wire: Wire) => HttpcStream;

/**
 * A response whose body is read chunk by chunk. Close it when done: an
 * unfinished body is dropped with its connection.
 *
 * @example
 * ```ts ignore
 * import { stream } from "@lunet/lunet/httpc";
 * const res = await stream({ url: "http://127.0.0.1:8080/big" });
 * try {
 *   for await (const chunk of res) console.log(chunk.byteLength);
 * } finally {
 *   res.close();
 * }
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

  /** Reads the rest of the body as one array. */
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
 * ```ts ignore
 * import { requestJson } from "@lunet/lunet/httpc";
 * const { status, data } = await requestJson<{ id: number }>("http://127.0.0.1:8080/items", { name: "a" });
 * console.log(status, data?.id);
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
 * status; rejects on transport failures: `ConnectionRefused`,
 * `ConnectionReset`, `NotFound` (unknown host), `ProtocolError` (TLS
 * failure, too many redirects, body over `maxBodyBytes`), `TimeoutError`,
 * `Cancelled`.
 *
 * @example
 * ```ts ignore
 * import { request } from "@lunet/lunet/httpc";
 * const res = await request({
 *   url: "http://127.0.0.1:8080/items",
 *   method: "PUT",
 *   headers: { "content-type": "text/plain" },
 *   body: "hello",
 *   timeout: 2000,
 * });
 * console.log(res.status, res.text());
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
 * head; each read takes its own.
 *
 * @example
 * ```ts ignore
 * import { stream } from "@lunet/lunet/httpc";
 * const res = await stream({ url: "http://127.0.0.1:8080/events" });
 * const first = await res.read({ timeout: 5000 });
 * res.close();
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
 * `GET url`: shorthand for {@linkcode request}.
 *
 * @example
 * ```ts ignore
 * import { get } from "@lunet/lunet/httpc";
 * console.log((await get("http://127.0.0.1:8080/")).status);
 * ```
 */
export function get(url: string | URL, opts?: Omit<RequestOptions, "url">): Promise<HttpcResponse> {
  return request({ ...opts, url, method: "GET" });
}

/**
 * `POST url` with `body`: shorthand for {@linkcode request}.
 *
 * @example
 * ```ts ignore
 * import { post } from "@lunet/lunet/httpc";
 * const res = await post("http://127.0.0.1:8080/echo", "hello", {
 *   headers: { "content-type": "text/plain" },
 * });
 * console.log(res.text());
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
 * and parses the response body as JSON, whatever the status. Throws
 * {@linkcode ProtocolError} when the body is not JSON.
 *
 * @param url The URL to call.
 * @param value The JSON body; `undefined` sends none.
 * @param opts Method, headers, limits and wait options of the request.
 * @returns The status, headers, final URL and parsed body (`undefined`
 * for an empty body).
 *
 * @example
 * ```ts ignore
 * import { requestJson } from "@lunet/lunet/httpc";
 * const { status, data } = await requestJson<{ ok: boolean }>("http://127.0.0.1:8080/api", { q: 1 });
 * console.log(status, data?.ok);
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
