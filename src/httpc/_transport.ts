/**
 * One HTTP exchange on the wire, for lunet/httpc: `fetch` with a
 * `Deno.HttpClient` when extra CA certificates are given, and `node:https`
 * for the one case `fetch` cannot do — an HTTPS request with certificate
 * verification turned off. Either way the caller gets a standard
 * `Response` and one `close()` that drops whatever is still open.
 *
 * @module
 */
import { request as httpsRequest } from "node:https";
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import {
  ConnectionRefused,
  ConnectionReset,
  LunetError,
  NotFound,
  ProtocolError,
} from "../errors.ts";
import { traceClose, traceOpen } from "../trace.ts";

/**
 * TLS settings of a request.
 *
 * @example
 * ```ts
 * import type { TlsSettings } from "./_transport.ts";
 * const tls: TlsSettings = { insecure: false };
 * if (tls.caCerts !== undefined) throw new Error("no extra roots");
 * ```
 */
export interface TlsSettings {
  /** Skip certificate verification. */
  insecure: boolean;
  /** Extra trusted root certificates (PEM). */
  caCerts?: string[];
}

/**
 * What one request sends.
 *
 * @example
 * ```ts
 * import type { Outgoing } from "./_transport.ts";
 * const out: Outgoing = { method: "POST", headers: new Headers(), body: "hi" };
 * if (out.method !== "POST") throw new Error(out.method);
 * ```
 */
export interface Outgoing {
  method: string;
  headers: Headers;
  body?: string | Uint8Array | ReadableStream<Uint8Array>;
}

/**
 * The wire side of one logical request (its redirects included): owns the
 * abort controller and, when one was needed, the HTTP client.
 *
 * @example Send one request, then release everything
 * ```ts
 * import { serve, text } from "../http/mod.ts";
 * import { Wire } from "./_transport.ts";
 * const server = await serve(() => text("ok"), { port: 0 });
 * const url = new URL(`http://127.0.0.1:${server.addr.port}/`);
 * const wire = new Wire({ insecure: false }, `GET ${url}`);
 * const head = await wire.send(url, { method: "GET", headers: new Headers() });
 * const body = await head.text();
 * wire.close();
 * await server.shutdown();
 * if (head.status !== 200 || body !== "ok") throw new Error(`${head.status} ${body}`);
 * ```
 */
export class Wire {
  readonly #tls: TlsSettings;
  readonly #controller = new AbortController();
  #client: Deno.HttpClient | undefined;
  #trace: number;
  #closed = false;

  constructor(tls: TlsSettings, label: string) {
    this.#tls = tls;
    this.#trace = traceOpen("httpc", label);
  }

  /**
   * Sends one request and resolves with the response head; the body is
   * left to read. Fails with the raw `fetch` or `node:https` error (see
   * {@linkcode transportError}).
   */
  send(url: URL, out: Outgoing): Promise<Response> {
    const signal = this.#controller.signal;
    if (url.protocol === "https:" && this.#tls.insecure) {
      return sendInsecure(url, out, this.#tls.caCerts, signal);
    }
    if (this.#tls.caCerts?.length && !this.#client) {
      this.#client = Deno.createHttpClient({ caCerts: this.#tls.caCerts });
    }
    const init: RequestInit & { client?: Deno.HttpClient } = {
      method: out.method,
      headers: out.headers,
      body: out.body as BodyInit | undefined,
      redirect: "manual",
      signal,
    };
    if (this.#client) init.client = this.#client;
    return fetch(url, init);
  }

  /** Aborts anything in flight and releases the client; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#controller.abort();
    this.#client?.close();
    traceClose("httpc", this.#trace);
  }
}

async function sendInsecure(
  url: URL,
  out: Outgoing,
  caCerts: string[] | undefined,
  signal: AbortSignal,
): Promise<Response> {
  const headers: Record<string, string> = {};
  out.headers.forEach((value, name) => headers[name] = value);
  const req = httpsRequest(url, {
    method: out.method,
    headers,
    rejectUnauthorized: false,
    ca: caCerts,
    agent: false,
    signal,
  });
  const head = new Promise<IncomingMessage>((resolve, reject) => {
    req.once("response", resolve);
    req.once("error", reject);
  });
  const body = out.body;
  if (body instanceof ReadableStream) {
    for await (const chunk of body) req.write(chunk);
  } else if (body !== undefined) {
    req.write(body);
  }
  req.end();
  const res = await head;
  const status = res.statusCode ?? 0;
  const responseHeaders = new Headers();
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) responseHeaders.append(raw[i], raw[i + 1]);
  const stream = NULL_BODY.has(status) || out.method === "HEAD"
    ? (res.destroy(), null)
    : Readable.toWeb(res) as ReadableStream<Uint8Array>;
  return new Response(stream, {
    status,
    statusText: res.statusMessage,
    headers: responseHeaders,
  });
}

const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * Maps a transport failure of `fetch` or `node:https` to the lunet error
 * vocabulary, with a message naming the request. Lunet errors pass
 * through; a failure it cannot classify becomes a plain `Error`.
 *
 * @example
 * ```ts
 * import { ConnectionRefused } from "../errors.ts";
 * import { transportError } from "./_transport.ts";
 * const err = transportError(new TypeError("tcp connect error: Connection refused"), "GET /");
 * if (!(err instanceof ConnectionRefused)) throw new Error(String(err));
 * if (err.message !== "GET /: connection refused") throw new Error(err.message);
 * ```
 */
export function transportError(err: unknown, what: string): Error {
  if (err instanceof LunetError) return err;
  const detail = describe(err);
  const text = detail.toLowerCase();
  const options = { cause: err };
  if (text.includes("connection refused") || text.includes("econnrefused")) {
    return new ConnectionRefused(`${what}: connection refused`, options);
  }
  if (
    text.includes("certificate") || text.includes("unknownissuer") ||
    text.includes("handshake") || text.includes("cert_")
  ) {
    return new ProtocolError(`${what}: TLS: ${detail}`, undefined, options);
  }
  if (text.includes("dns error") || text.includes("enotfound") || text.includes("lookup")) {
    return new NotFound(`${what}: host not found`, options);
  }
  if (
    text.includes("reset") || text.includes("broken pipe") || text.includes("epipe") ||
    text.includes("connection closed") || text.includes("incomplete") ||
    text.includes("unexpected eof") || text.includes("socket hang up")
  ) {
    return new ConnectionReset(`${what}: connection reset (${detail})`, options);
  }
  if (MALFORMED.test(detail)) {
    return new ProtocolError(`${what}: malformed response (${detail})`, undefined, options);
  }
  if (text.includes("error reading a body")) {
    // fetch says no more: the body ended before its length, or its framing was bad.
    return new ProtocolError(
      `${what}: response body cut short or malformed (${detail})`,
      undefined,
      options,
    );
  }
  return new Error(`${what}: ${detail}`, options);
}

// What fetch (hyper) and node:https (llhttp, `HPE_*`) say of a response
// that breaks HTTP/1.1's syntax.
const MALFORMED = /invalid HTTP|invalid content-length|invalid chunk|parse error|\[HPE_/i;

/** The messages (and node error codes) along an error's cause chain. */
function describe(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 5; depth++) {
    if (!(e instanceof Error)) {
      parts.push(String(e));
      break;
    }
    const code = (e as { code?: unknown }).code;
    parts.push(typeof code === "string" ? `${e.message} [${code}]` : e.message);
    e = e.cause;
  }
  return parts.join(": ");
}
