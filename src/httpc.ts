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
import { BodyReader } from "./httpc/_body.ts";
import { exchange, waitOptions } from "./httpc/_exchange.ts";
import { DEFAULT_MAX_BODY, type RequestBody, type RequestOptions } from "./httpc/_options.ts";
import {
  HttpcResponse,
  type HttpcStream,
  type JsonResponse,
  newStream,
  parseJson,
} from "./httpc/_response.ts";

export type { WaitOptions } from "./_wait.ts";
export type { RequestBody, RequestOptions } from "./httpc/_options.ts";
export { HttpcResponse, HttpcStream, type JsonResponse } from "./httpc/_response.ts";

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
 * @throws {ProtocolError} on a TLS failure, a malformed or cut-short
 * response, more than `maxRedirects` redirects, a redirect to a location
 * that is malformed or not `http:`/`https:`, or a body larger than
 * `maxBodyBytes`.
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
    return newStream(
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
