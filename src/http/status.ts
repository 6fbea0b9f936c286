/**
 * Status texts and the error a handler (or the engine) throws to answer
 * with a given status.
 *
 * @example
 * ```ts
 * import { HttpError, statusText } from "@lunet/lunet/http";
 * const err = new HttpError(404, "no such user");
 * if (err.status !== 404 || statusText(err.status) !== "Not Found") throw err;
 * ```
 * @module
 */

const TEXTS: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  422: "Unprocessable Content",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/**
 * The reason phrase of a status code (`""` when it has no common one).
 *
 * @example
 * ```ts
 * import { statusText } from "@lunet/lunet/http";
 * if (statusText(404) !== "Not Found") throw new Error(statusText(404));
 * ```
 */
export function statusText(status: number): string {
  return TEXTS[status] ?? "";
}

/**
 * Options of an {@linkcode HttpError}.
 *
 * @example
 * ```ts
 * import type { HttpErrorOptions } from "@lunet/lunet/http";
 * const opts: HttpErrorOptions = { headers: [["retry-after", "5"]] };
 * if (opts.headers?.length !== 1) throw new Error("headers");
 * ```
 */
export interface HttpErrorOptions extends ErrorOptions {
  /**
   * Header fields the answer carries beside its JSON body (e.g.
   * `Retry-After` with a 503, `Allow` with a 405). Framing fields are not
   * allowed, as in any response.
   */
  headers?: [string, string][];
}

/**
 * Thrown to answer with `status` and a small JSON body
 * `{ "error": message }`, with the header fields given in `options`. The
 * engine throws it for bad input (400, 408, 413, 414, 431, 501, 505); a
 * handler may throw it too.
 *
 * @example
 * ```ts
 * import { HttpError } from "@lunet/lunet/http";
 * const err = new HttpError(503, "busy", { headers: [["retry-after", "5"]] });
 * if (err.status !== 503 || err.headers[0][1] !== "5") throw new Error("unexpected");
 * ```
 */
export class HttpError extends Error {
  /** The status to answer with. */
  readonly status: number;
  /** Header fields the answer carries (empty unless given). */
  readonly headers: [string, string][];
  /**
   * Creates the error.
   *
   * @param status HTTP status code (400–599)
   * @param message a short description, sent to the client
   * @param options the cause, and header fields for the answer
   */
  constructor(status: number, message: string = statusText(status), options?: HttpErrorOptions) {
    super(message, options);
    this.name = "HttpError";
    this.status = status;
    this.headers = options?.headers ?? [];
  }
}
