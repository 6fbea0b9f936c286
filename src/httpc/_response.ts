/**
 * What an outbound request answers: a whole response, a streamed one, and
 * the result of a JSON exchange.
 *
 * @module
 */
import { ProtocolError } from "../errors.ts";
import { isEarlyWake, type WaitOptions } from "../_wait.ts";
import type { BodyReader } from "./_body.ts";
import type { Wire } from "./_transport.ts";

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
    this.#body.cancel();
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

/**
 * Makes the streamed response of {@linkcode HttpcStream} (its constructor is
 * private) around a body reader and the connection it reads from.
 */
export function newStream(head: Response, url: string, body: BodyReader, wire: Wire): HttpcStream {
  return makeStream(head, url, body, wire);
}

/** Parses a response body as JSON; {@linkcode ProtocolError} when it is not. */
export function parseJson<T>(text: string, url: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new ProtocolError(`${url}: response body is not JSON`, undefined, { cause: err });
  }
}
