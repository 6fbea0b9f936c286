/**
 * The options of an outbound request and their defaults.
 *
 * @module
 */
import type { WaitOptions } from "../_wait.ts";

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

export const DEFAULT_TIMEOUT = 30_000;
export const DEFAULT_MAX_BODY = 10 * 1024 * 1024;
export const DEFAULT_MAX_REDIRECTS = 10;
