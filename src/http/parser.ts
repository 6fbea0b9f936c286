/**
 * The request-head parser: finds the end of a head in received bytes and
 * validates it strictly in one pass, recording where each header field
 * lies so that names and values are decoded only when asked for.
 *
 * Rejected with {@linkcode HttpError}: malformed request line or header
 * (400), obs-fold (400), bare CR or LF (400), missing or repeated Host on
 * HTTP/1.1 (400), Transfer-Encoding together with Content-Length (400),
 * differing Content-Lengths (400), Transfer-Encoding on HTTP/1.0 (400),
 * an unknown transfer coding (501), an unknown expectation (417), a
 * declared body over the limit (413), a long request line (414), too many
 * or too large headers (431), a version other than 1.x (505).
 *
 * @example
 * ```ts
 * import { findHeadEnd, parseHead } from "./parser.ts";
 * import { resolveLimits } from "./limits.ts";
 * const limits = resolveLimits();
 * const bytes = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
 * const end = findHeadEnd(bytes, 0, 0, bytes.length, limits);
 * console.log(parseHead(bytes, 0, end, limits).method); // "GET"
 * ```
 * @module
 */
import { equalsLower, latin1, TCHAR } from "./ascii.ts";
import type { HttpLimits } from "./limits.ts";
import { HttpError } from "./status.ts";

const CR = 13, LF = 10, SP = 32, HT = 9, COLON = 58;

/** A parsed request head; header fields are kept as offsets into `bytes`. */
export interface RequestHead {
  /** The received bytes holding the head. */
  bytes: Uint8Array;
  /** The method, e.g. `"GET"`. */
  method: string;
  /** Start of the request target in `bytes`. */
  targetStart: number;
  /** End of the request target in `bytes`. */
  targetEnd: number;
  /** Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: number;
  /** Header fields as `[nameStart, nameEnd, valueStart, valueEnd]` runs. */
  fields: number[];
  /** Declared Content-Length, or -1. */
  contentLength: number;
  /** True when the body is chunked. */
  chunked: boolean;
  /** True unless the connection must close after this exchange. */
  keepAlive: boolean;
  /** True when the client waits for `100 Continue` before the body. */
  expectContinue: boolean;
}

/**
 * Looks for the end of a request head in `buf[start, end)`, resuming the
 * search at `from`. Returns the index just past the blank line, or -1 when
 * more bytes are needed. Throws 414 or 431 when the limits are exceeded.
 */
export function findHeadEnd(
  buf: Uint8Array,
  start: number,
  from: number,
  end: number,
  limits: HttpLimits,
): number {
  let i = from > start + 1 ? from - 1 : start;
  for (;;) {
    i = buf.indexOf(LF, i);
    if (i === -1 || i >= end) break;
    const p = buf[i - 1];
    if (i > start && (p === LF || (p === CR && i - 2 >= start && buf[i - 2] === LF))) {
      if (i + 1 - start > limits.maxHeaderBytes) {
        throw new HttpError(431, "request header fields too large");
      }
      return i + 1;
    }
    i++;
  }
  if (end - start > limits.maxHeaderBytes) {
    const lf = buf.subarray(start, end).indexOf(LF);
    if (lf === -1 || lf > limits.maxRequestLineBytes) {
      throw new HttpError(414, "request line too long");
    }
    throw new HttpError(431, "request header fields too large");
  }
  if (end - start > limits.maxRequestLineBytes) {
    const lf = buf.subarray(start, end).indexOf(LF);
    if (lf === -1) throw new HttpError(414, "request line too long");
  }
  return -1;
}

/** Length of the blank lines (CRLF or LF) at `buf[start, end)` to skip before a request. */
export function leadingBlankLines(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end && (buf[i] === CR || buf[i] === LF)) i++;
  return i - start;
}

function bad(what: string): never {
  throw new HttpError(400, what);
}

function internMethod(buf: Uint8Array, s: number, e: number): string {
  const n = e - s, c = buf[s];
  if (n === 3 && c === 0x47 && buf[s + 1] === 0x45 && buf[s + 2] === 0x54) return "GET";
  if (n === 4 && c === 0x50 && buf[s + 1] === 0x4f && buf[s + 2] === 0x53 && buf[s + 3] === 0x54) {
    return "POST";
  }
  return latin1(buf, s, e);
}

/**
 * Parses and validates the head in `buf[start, end)` (as found by
 * {@linkcode findHeadEnd}).
 */
export function parseHead(
  buf: Uint8Array,
  start: number,
  end: number,
  limits: HttpLimits,
): RequestHead {
  // Request line: method SP target SP HTTP/1.x CRLF
  let i = start;
  while (i < end && TCHAR[buf[i]] === 1) i++;
  if (i === start || buf[i] !== SP) bad("malformed request line");
  const method = internMethod(buf, start, i);
  const targetStart = ++i;
  while (i < end) {
    const b = buf[i];
    if (b <= SP || b >= 0x7f) break;
    i++;
  }
  const targetEnd = i;
  if (targetEnd === targetStart || buf[i] !== SP) bad("malformed request target");
  i++;
  if (
    buf[i] !== 0x48 || buf[i + 1] !== 0x54 || buf[i + 2] !== 0x54 || buf[i + 3] !== 0x50 ||
    buf[i + 4] !== 0x2f || buf[i + 6] !== 0x2e
  ) bad("malformed HTTP version");
  const major = buf[i + 5] - 0x30, minorDigit = buf[i + 7] - 0x30;
  if (!(major >= 0 && major <= 9 && minorDigit >= 0 && minorDigit <= 9)) {
    bad("malformed HTTP version");
  }
  i += 8;
  if (buf[i] !== CR || buf[i + 1] !== LF) bad("malformed request line");
  if (i - start > limits.maxRequestLineBytes) throw new HttpError(414, "request line too long");
  if (major !== 1) throw new HttpError(505, "only HTTP/1.0 and HTTP/1.1 are supported");
  const minor = minorDigit === 0 ? 0 : 1;
  const c0 = buf[targetStart];
  if (c0 !== 0x2f) checkTargetForm(buf, targetStart, targetEnd, method);
  i += 2;

  const fields: number[] = [];
  let contentLength = -1, chunked = false, teSeen = false;
  let hosts = 0, close = false, keepAliveToken = false, expectContinue = false;
  // Header lines, up to the blank line that ends the head.
  for (;;) {
    const lineStart = i;
    let b = buf[i];
    if (b === CR) {
      if (buf[i + 1] !== LF) bad("bare CR in header");
      break;
    }
    if (b === LF) bad("bare LF in header");
    if (b === SP || b === HT) bad("obsolete line folding");
    while (TCHAR[buf[i]] === 1) i++;
    const nameEnd = i;
    if (nameEnd === lineStart || buf[i] !== COLON) bad("malformed header field");
    i++;
    while (buf[i] === SP || buf[i] === HT) i++;
    const valueStart = i;
    let valueEnd = i;
    for (;;) {
      b = buf[i];
      if (b === CR) break;
      if ((b < SP && b !== HT) || b === 0x7f) {
        bad(b === LF ? "bare LF in header" : "control character in header");
      }
      i++;
      if (b !== SP && b !== HT) valueEnd = i;
    }
    if (buf[i + 1] !== LF) bad("bare CR in header");
    i += 2;
    if (fields.length >= limits.maxHeaderCount * 4) {
      throw new HttpError(431, "too many header fields");
    }
    fields.push(lineStart, nameEnd, valueStart, valueEnd);
    switch (nameEnd - lineStart) {
      case 4:
        if (equalsLower(buf, lineStart, nameEnd, "host")) hosts++;
        break;
      case 6:
        if (equalsLower(buf, lineStart, nameEnd, "expect")) {
          if (!equalsLower(buf, valueStart, valueEnd, "100-continue")) {
            throw new HttpError(417, "unsupported expectation");
          }
          expectContinue = true;
        }
        break;
      case 10:
        if (equalsLower(buf, lineStart, nameEnd, "connection")) {
          for (const token of latin1(buf, valueStart, valueEnd).toLowerCase().split(",")) {
            const t = token.trim();
            if (t === "close") close = true;
            else if (t === "keep-alive") keepAliveToken = true;
          }
        }
        break;
      case 14:
        if (equalsLower(buf, lineStart, nameEnd, "content-length")) {
          const n = parseContentLength(buf, valueStart, valueEnd);
          if (contentLength !== -1 && contentLength !== n) bad("differing Content-Length values");
          contentLength = n;
        }
        break;
      case 17:
        if (equalsLower(buf, lineStart, nameEnd, "transfer-encoding")) {
          for (const coding of latin1(buf, valueStart, valueEnd).toLowerCase().split(",")) {
            const c = coding.trim();
            if (c === "") continue;
            if (c !== "chunked") throw new HttpError(501, `transfer coding "${c}" not implemented`);
            if (chunked) bad("chunked applied twice");
            chunked = true;
          }
          teSeen = true;
        }
        break;
    }
  }
  if (teSeen) {
    if (!chunked) bad("empty Transfer-Encoding");
    if (contentLength !== -1) bad("both Content-Length and Transfer-Encoding");
    if (minor === 0) bad("Transfer-Encoding in an HTTP/1.0 request");
  }
  if (minor === 1 ? hosts !== 1 : hosts > 1) {
    bad(hosts === 0 ? "missing Host header" : "repeated Host header");
  }
  if (contentLength > limits.maxBodyBytes) {
    throw new HttpError(413, `body larger than ${limits.maxBodyBytes} bytes`);
  }
  const keepAlive = minor === 1 ? !close : keepAliveToken && !close;
  return {
    bytes: buf,
    method,
    targetStart,
    targetEnd,
    minor,
    fields,
    contentLength,
    chunked,
    keepAlive,
    expectContinue,
  };
}

function checkTargetForm(buf: Uint8Array, s: number, e: number, method: string): void {
  if (e - s === 1 && buf[s] === 0x2a) {
    if (method !== "OPTIONS") bad("asterisk-form target outside OPTIONS");
    return;
  }
  if (method === "CONNECT") return;
  if (equalsLower(buf, s, Math.min(e, s + 7), "http://")) return;
  if (equalsLower(buf, s, Math.min(e, s + 8), "https://")) return;
  bad("malformed request target");
}

function parseContentLength(buf: Uint8Array, s: number, e: number): number {
  let value = -1, n = 0, digits = 0;
  for (let i = s; i <= e; i++) {
    const b = i < e ? buf[i] : 0x2c;
    if (b >= 0x30 && b <= 0x39) {
      n = n * 10 + (b - 0x30);
      digits++;
    } else if (b === 0x2c) {
      if (digits === 0) bad("malformed Content-Length");
      if (value !== -1 && value !== n) bad("differing Content-Length values");
      value = n;
      n = 0;
      digits = 0;
      while (i + 1 < e && (buf[i + 1] === SP || buf[i + 1] === HT)) i++;
    } else if ((b === SP || b === HT) && digits > 0) {
      // whitespace before a comma
      while (i + 1 < e && (buf[i + 1] === SP || buf[i + 1] === HT)) i++;
      if (i + 1 < e && buf[i + 1] !== 0x2c) bad("malformed Content-Length");
    } else bad("malformed Content-Length");
  }
  return value > Number.MAX_SAFE_INTEGER ? Infinity : value;
}
