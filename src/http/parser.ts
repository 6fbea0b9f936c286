/**
 * The request-head parser: finds the end of a head in received bytes and
 * validates it strictly in one pass, recording where each header field
 * lies so that names and values are decoded only when asked for.
 *
 * Rejected with {@linkcode HttpError}: malformed request line or header
 * (400), obs-fold (400), bare CR or LF (400), missing Host on HTTP/1.1,
 * a repeated Host or an invalid Host value (400), a malformed
 * Transfer-Encoding or Connection list (400; only SP and HTAB are
 * whitespace, and Transfer-Encoding has no empty elements),
 * Transfer-Encoding together with Content-Length (400), differing
 * Content-Lengths (400), Transfer-Encoding on HTTP/1.0 (400), an unknown
 * transfer coding (501), CONNECT (501: the engine has no tunnels), an
 * unknown expectation (417), a declared body over the limit (413), a long
 * request line (414), too many or too large headers (431), a version
 * other than 1.x (505).
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
import { equalsLower, HOST_CHAR, latin1, skipOws, skipToken, TCHAR } from "./ascii.ts";
import type { HttpLimits } from "./limits.ts";
import { HttpError } from "./status.ts";

const CR = 13, LF = 10, SP = 32, HT = 9, COLON = 58, COMMA = 0x2c;

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

/**
 * Length of the empty lines (CRLF each) at `buf[start, end)` to skip
 * before a request. A bare CR or LF is not an empty line: it stays, to be
 * refused as part of the request line.
 */
export function leadingBlankLines(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i + 1 < end && buf[i] === CR && buf[i + 1] === LF) i += 2;
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
  if (i - start === 7 && method === "CONNECT") {
    throw new HttpError(501, "CONNECT is not supported");
  }
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
  let contentLength = -1, chunked = false, teSeen = false, connection = 0;
  let hosts = 0, expectContinue = false;
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
        if (equalsLower(buf, lineStart, nameEnd, "host")) {
          checkHost(buf, valueStart, valueEnd);
          hosts++;
        }
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
          connection |= connectionOptions(buf, valueStart, valueEnd);
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
          if (chunked) bad("chunked applied twice");
          checkTransferCodings(buf, valueStart, valueEnd);
          chunked = true;
          teSeen = true;
        }
        break;
    }
  }
  if (teSeen) {
    if (contentLength !== -1) bad("both Content-Length and Transfer-Encoding");
    if (minor === 0) bad("Transfer-Encoding in an HTTP/1.0 request");
  }
  if (minor === 1 ? hosts !== 1 : hosts > 1) {
    bad(hosts === 0 ? "missing Host header" : "repeated Host header");
  }
  if (contentLength > limits.maxBodyBytes) {
    throw new HttpError(413, `body larger than ${limits.maxBodyBytes} bytes`);
  }
  const close = (connection & CLOSE) !== 0;
  const keepAlive = minor === 1 ? !close : (connection & KEEP_ALIVE) !== 0 && !close;
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

const CLOSE = 1, KEEP_ALIVE = 2;

/**
 * The options of a Connection field (RFC 9110 §7.6.1): a list of tokens,
 * empty elements allowed, OWS (SP, HTAB) around them. Returns the
 * `CLOSE` and `KEEP_ALIVE` bits found.
 */
function connectionOptions(buf: Uint8Array, s: number, e: number): number {
  let found = 0, i = s;
  for (;;) {
    while (i < e && (buf[i] === COMMA || buf[i] === SP || buf[i] === HT)) i++;
    if (i === e) return found;
    const t = i;
    i = skipToken(buf, i, e);
    if (i === t) bad("malformed Connection");
    if (equalsLower(buf, t, i, "close")) found |= CLOSE;
    else if (equalsLower(buf, t, i, "keep-alive")) found |= KEEP_ALIVE;
    i = skipOws(buf, i, e);
    if (i < e && buf[i] !== COMMA) bad("malformed Connection");
  }
}

/**
 * Checks a Transfer-Encoding list (RFC 9112 §6.1): tokens separated by
 * commas with OWS around them, no empty element. Only `chunked`, without
 * parameters, is implemented (501 for another coding), and only once.
 */
function checkTransferCodings(buf: Uint8Array, s: number, e: number): void {
  let i = s, chunked = false;
  for (;;) {
    const t = i;
    i = skipToken(buf, i, e);
    if (i === t) bad("malformed Transfer-Encoding");
    if (!equalsLower(buf, t, i, "chunked")) {
      throw new HttpError(501, `transfer coding "${latin1(buf, t, i)}" not implemented`);
    }
    if (chunked) bad("chunked applied twice");
    chunked = true;
    i = skipOws(buf, i, e);
    if (i === e) return;
    if (buf[i] !== COMMA) bad("malformed Transfer-Encoding");
    i = skipOws(buf, i + 1, e);
  }
}

/**
 * Checks a Host value (RFC 9112 §3.2, RFC 3986 §3.2.2): empty, or
 * uri-host [":" port], where uri-host is a bracketed IP literal or a
 * reg-name (IPv4 addresses included) with valid `%` escapes.
 */
function checkHost(buf: Uint8Array, s: number, e: number): void {
  let i = s;
  if (i < e && buf[i] === 0x5b) {
    for (i++; i < e && buf[i] !== 0x5d; i++) {
      const b = buf[i];
      if (HOST_CHAR[b] !== 1 && b !== COLON && b !== 0x25) bad("invalid Host");
    }
    if (i === e) bad("invalid Host");
    i++;
  } else {
    for (; i < e && buf[i] !== COLON; i++) {
      const b = buf[i];
      if (b === 0x25) {
        if (i + 2 >= e || !isHex(buf[i + 1]) || !isHex(buf[i + 2])) bad("invalid Host");
        i += 2;
      } else if (HOST_CHAR[b] !== 1) bad("invalid Host");
    }
  }
  if (i === e) return;
  if (buf[i] !== COLON) bad("invalid Host");
  for (i++; i < e; i++) if (buf[i] < 0x30 || buf[i] > 0x39) bad("invalid Host port");
}

function isHex(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || ((b | 0x20) >= 0x61 && (b | 0x20) <= 0x66);
}

function checkTargetForm(buf: Uint8Array, s: number, e: number, method: string): void {
  if (e - s === 1 && buf[s] === 0x2a) {
    if (method !== "OPTIONS") bad("asterisk-form target outside OPTIONS");
    return;
  }
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
