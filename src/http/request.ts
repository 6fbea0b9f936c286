/**
 * The request object a handler receives. Everything beyond the method is
 * computed on first use: target, path, query, headers, cookies, URL.
 *
 * @module
 */
import { current } from "../_wait.ts";
import type { SocketAddr } from "../socket.ts";
import { latin1, trimOws } from "./_ascii.ts";
import type { Body } from "./body.ts";
import { makeHeaders, type RequestHeaders } from "./headers.ts";
import { multipartBoundary, type MultipartLimits, parseMultipart, type Part } from "./multipart.ts";
import { HTTP2_MINOR, type RequestHead } from "./_parser.ts";
import { HttpError } from "./status.ts";
import type { Upgrader } from "./_upgrade.ts";

const NO_PARAMS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/**
 * Builds the request of an exchange (the engine's constructor; not
 * exported from the entry point).
 */
export let makeRequest: (
  head: RequestHead,
  body: Body,
  remote: SocketAddr,
  upgrader: Upgrader,
) => HttpRequest;
/** The connection's upgrade hook for `req` (see ./_upgrade.ts). */
export let upgraderOf: (req: HttpRequest) => Upgrader;

/**
 * An HTTP request. The handler runs inside the connection's task, so
 * every lunet wait in it is cancelled when the client goes away; `signal`
 * aborts at the same moment, for APIs that take an `AbortSignal`.
 *
 * @example
 * ```ts
 * import { json, serve } from "@lunet/lunet/http";
 * const server = await serve(async (req) => {
 *   if (req.method === "POST") return json({ got: await req.json() });
 *   return json({ path: req.path, q: req.query.get("q"), agent: req.headers.get("user-agent") });
 * }, { port: 0 });
 * await server.shutdown();
 * ```
 */
export class HttpRequest {
  /** The method, e.g. `"GET"`. */
  readonly method: string;
  /** Route parameters (`:name` and `*` segments) filled in by the router. */
  params: Record<string, string> = NO_PARAMS;
  /** The client's address. */
  readonly remote: SocketAddr;
  #head: RequestHead;
  #body: Body;
  #target: string | undefined;
  #pathEnd = -1;
  #query: URLSearchParams | undefined;
  #headers: RequestHeaders | undefined;
  #cookies: Record<string, string> | undefined;
  #upgrader: Upgrader;

  /** @ignore */
  private constructor(head: RequestHead, body: Body, remote: SocketAddr, upgrader: Upgrader) {
    this.method = head.method;
    this.#head = head;
    this.#body = body;
    this.remote = remote;
    this.#upgrader = upgrader;
  }

  static {
    makeRequest = (head, body, remote, upgrader) => new HttpRequest(head, body, remote, upgrader);
    upgraderOf = (req) => req.#upgrader;
  }

  /** The request target as sent (`/path?query`, or an absolute URL). */
  get target(): string {
    return this.#target ??= target(this.#head.bytes, this.#head.targetStart, this.#head.targetEnd);
  }

  /** `"HTTP/1.1"`, `"HTTP/1.0"` or `"HTTP/2"`. */
  get version(): string {
    const minor = this.#head.minor;
    return minor === 1 ? "HTTP/1.1" : minor === HTTP2_MINOR ? "HTTP/2" : "HTTP/1.0";
  }

  #split(): number {
    if (this.#pathEnd === -1) {
      const q = this.target.indexOf("?");
      this.#pathEnd = q === -1 ? this.target.length : q;
    }
    return this.#pathEnd;
  }

  /** The path of the target, still percent-encoded (`/users/42`). */
  get path(): string {
    const t = this.target;
    if (t.charCodeAt(0) !== 0x2f) return t === "*" ? t : safeUrl(t)?.pathname ?? t;
    const end = this.#split();
    return end === t.length ? t : t.slice(0, end);
  }

  /** The query parameters. */
  get query(): URLSearchParams {
    if (this.#query) return this.#query;
    const t = this.target;
    const end = this.#split();
    return this.#query = new URLSearchParams(end < t.length ? t.slice(end + 1) : "");
  }

  /** The full URL, built from the Host header and the target. */
  get url(): string {
    const t = this.target;
    if (t.charCodeAt(0) !== 0x2f) return t;
    return `http://${this.headers.get("host") ?? "localhost"}${t}`;
  }

  /** The header fields. */
  get headers(): RequestHeaders {
    return this.#headers ??= makeHeaders(this.#head.bytes, this.#head.fields);
  }

  /** Cookies from every `Cookie` header (the first of a repeated name wins). */
  get cookies(): Record<string, string> {
    if (this.#cookies) return this.#cookies;
    const out: Record<string, string> = {};
    for (const header of this.headers.getAll("cookie")) {
      for (const pair of header.split(";")) {
        const eq = pair.indexOf("=");
        if (eq <= 0) continue;
        const name = trimOws(pair.slice(0, eq));
        if (!name || name in out) continue;
        let value = trimOws(pair.slice(eq + 1));
        if (value.length >= 2 && value[0] === '"' && value.at(-1) === '"') {
          value = value.slice(1, -1);
        }
        try {
          out[name] = decodeURIComponent(value);
        } catch {
          out[name] = value;
        }
      }
    }
    return this.#cookies = out;
  }

  /** The body, readable once (as a stream, or through the helpers below). */
  get body(): Body {
    return this.#body;
  }

  /** Aborts when the client goes away (the handler's task is cancelled). */
  get signal(): AbortSignal {
    const task = current();
    if (!task) throw new Error("HttpRequest.signal: read it inside the handler");
    return task.signal;
  }

  /** Reads the body into one array. */
  bytes(): Promise<Uint8Array> {
    return this.#body.bytes();
  }

  /** Reads the body as UTF-8 text. */
  text(): Promise<string> {
    return this.#body.text();
  }

  /** Reads the body as JSON (malformed JSON gets 400). */
  json<T = unknown>(): Promise<T> {
    return this.#body.json<T>();
  }

  /**
   * Streams the parts of a `multipart/form-data` body (415 for another
   * content type).
   */
  multipart(limits?: MultipartLimits): AsyncGenerator<Part, void, undefined> {
    const boundary = multipartBoundary(this.headers.get("content-type"));
    if (boundary === null) throw new HttpError(415, "expected multipart/form-data");
    const body = this.#body;
    return parseMultipart(() => body.read(), boundary, limits);
  }

  /**
   * Reads an `application/x-www-form-urlencoded` or `multipart/form-data`
   * body whole. Files become `File` objects, still bounded by the limits.
   */
  async form(limits?: MultipartLimits): Promise<FormData> {
    const type = this.headers.get("content-type") ?? "";
    const out = new FormData();
    if (/^[ \t]*application\/x-www-form-urlencoded[ \t]*(;|$)/i.test(type)) {
      for (const [k, v] of new URLSearchParams(await this.text())) out.append(k, v);
      return out;
    }
    for await (const part of this.multipart(limits)) {
      const data = await part.bytes();
      if (part.filename === undefined) out.append(part.name, new TextDecoder().decode(data));
      else {
        out.append(
          part.name,
          new File([data as BlobPart], part.filename, { type: part.contentType }),
        );
      }
    }
    return out;
  }
}

function safeUrl(s: string): URL | undefined {
  try {
    return new URL(s);
  } catch {
    return undefined;
  }
}

// The last request target decoded: a repeated target is the same string,
// whose hash the router's lookup has computed already.
let lastTarget = "";

function target(buf: Uint8Array, start: number, end: number): string {
  const last = lastTarget, n = end - start;
  if (last.length === n) {
    let i = 0;
    while (i < n && buf[start + i] === last.charCodeAt(i)) i++;
    if (i === n) return last;
  }
  return lastTarget = latin1(buf, start, end);
}
