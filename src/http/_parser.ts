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
 * Transfer-Encoding together with Content-Length (400), a repeated
 * Content-Length or a list of them, even of equal values (400), Transfer-Encoding on HTTP/1.0 (400), an unknown
 * transfer coding (501), CONNECT (501: the engine has no tunnels), an
 * unknown expectation (417), a declared body over the limit (413), a
 * request line longer than the limit, malformed or not past it (414), too many or too large headers (431), a version
 * other than 1.x (505).
 *
 * @example
 * ```ts
 * import { findHeadEnd, parseHead } from "./_parser.ts";
 * import { resolveLimits } from "./limits.ts";
 * const limits = resolveLimits();
 * const bytes = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
 * const end = findHeadEnd(bytes, 0, 0, bytes.length, limits);
 * if (parseHead(bytes, 0, end, limits).method !== "GET") throw new Error("not parsed");
 * ```
 *
 * A head whose end has not arrived yet is checked as it comes by
 * {@linkcode checkHeadPrefix}: what is already malformed is refused at
 * once, with the status {@linkcode parseHead} gives the whole head.
 * @module
 */
import { equalsLower, latin1, TCHAR } from "./_ascii.ts";
import type { HttpLimits } from "./limits.ts";
import { HttpError } from "./status.ts";
import {
  bad,
  checkHost,
  checkTargetForm,
  checkTransferCodings,
  CLOSE,
  connectionOptions,
  KEEP_ALIVE,
  parseContentLength,
  UPGRADE,
} from "./_field_checks.ts";

const CR = 13, LF = 10, SP = 32, HT = 9, COLON = 58;

/** The `minor` of a request that came over HTTP/2 (see ./_h2_request.ts). */
export const HTTP2_MINOR = 2;

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
  /** Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1 ({@linkcode HTTP2_MINOR} marks HTTP/2). */
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
  /** True when the Connection field lists `upgrade` (the client offers a protocol switch). */
  upgrade: boolean;
}

/**
 * Looks for the end of a request head in `buf[start, end)`, resuming the
 * search at `from`. Returns the index just past the blank line, or -1 when
 * more bytes are needed. A head longer than the header limit gets the
 * status its first bytes earn, as if they had arrived alone (see
 * {@linkcode checkHeadPrefix}), else 431.
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
      if (i + 1 - start > limits.maxHeaderBytes) headTooLarge(buf, start, limits);
      return i + 1;
    }
    i++;
  }
  if (end - start > limits.maxHeaderBytes) headTooLarge(buf, start, limits);
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

// A request-line error found at `at`: 414 once the line is known to be
// longer than the limit there, so that the status is the one the same
// bytes get when they arrive a few at a time.
function badLine(start: number, at: number, limits: HttpLimits, what: string): never {
  if (at - start > limits.maxRequestLineBytes) throw new HttpError(414, "request line too long");
  bad(what);
}

function badVersion(buf: Uint8Array, start: number, at: number, limits: HttpLimits): never {
  let k = 0;
  while (versionByte(k, buf[at + k])) k++;
  badLine(start, at + k, limits, "malformed HTTP version");
}

// True when `b` may be byte `k` (0–7) of "HTTP/d.d".
function versionByte(k: number, b: number): boolean {
  if (k === 5 || k === 7) return b >= 0x30 && b <= 0x39;
  return b === VERSION.charCodeAt(k);
}

const VERSION = "HTTP/1.1";

// The states of checkHeadPrefix, request line first (VERSION_AT + k is
// byte k of the version); a progress value is `bytes * STATES + state`.
const METHOD = 0, TARGET_START = 1, TARGET = 2, VERSION_AT = 3, LINE_CR = 11, LINE_LF = 12;
const FIELD_START = 13, NAME = 14, VALUE = 15, STATES = 16;

/**
 * Checks the bytes of a request head whose end has not arrived yet, so
 * that a head already malformed is refused at once instead of waiting for
 * a blank line: any byte that no valid head may hold there, or a request
 * line known to be too long, throws the {@linkcode HttpError} that
 * {@linkcode parseHead} throws for every head starting with these bytes.
 * A CR received last is not judged until the next byte.
 *
 * Resumable: pass 0 as `progress` for a new head, and the returned value
 * on the next call for the same head. It counts from `start`, so it stays
 * valid when the unread bytes move. `buf[start, end)` must hold no head
 * end (see {@linkcode findHeadEnd}).
 *
 * @example
 * ```ts
 * import { checkHeadPrefix } from "./_parser.ts";
 * import { resolveLimits } from "./limits.ts";
 * const limits = resolveLimits();
 * const bytes = new TextEncoder().encode("GET / HTTP/1.1\r\nHo\0");
 * const progress = checkHeadPrefix(bytes, 0, 18, 0, limits); // nothing wrong yet
 * let refused = "";
 * try {
 *   checkHeadPrefix(bytes, 0, 19, progress, limits);
 * } catch (err) {
 *   refused = String(err);
 * }
 * if (refused !== "HttpError: malformed header field") throw new Error(refused);
 * ```
 */
export function checkHeadPrefix(
  buf: Uint8Array,
  start: number,
  end: number,
  progress: number,
  limits: HttpLimits,
): number {
  let state = progress % STATES, i = start + (progress - state) / STATES;
  const lineLimit = start + limits.maxRequestLineBytes;
  for (; i < end; i++) {
    const b = buf[i];
    switch (state) {
      case METHOD:
        if (TCHAR[b] === 1) break;
        if (b === SP && i > start) state = TARGET_START;
        else if (b === CR && i === start && i + 1 === end) return progressAt(start, i, state);
        else rejectPrefix(buf, start, i + 1 - start, limits);
        break;
      case TARGET_START:
      case TARGET:
        if (b > SP && b < 0x7f) state = TARGET;
        else if (b === SP && state === TARGET) state = VERSION_AT;
        else rejectPrefix(buf, start, i + 1 - start, limits);
        break;
      case LINE_CR:
        if (b !== CR) rejectPrefix(buf, start, i + 1 - start, limits);
        state = LINE_LF;
        break;
      case LINE_LF:
        if (b !== LF) rejectPrefix(buf, start, i + 1 - start, limits);
        state = FIELD_START;
        break;
      case FIELD_START:
        if (b === CR) state = LINE_LF;
        else if (TCHAR[b] === 1) state = NAME;
        else rejectPrefix(buf, start, i + 1 - start, limits);
        break;
      case NAME:
        if (b === COLON) state = VALUE;
        else if (TCHAR[b] !== 1) rejectPrefix(buf, start, i + 1 - start, limits);
        break;
      case VALUE:
        if (b === CR) state = LINE_LF;
        else if ((b < SP && b !== HT) || b === 0x7f) {
          rejectPrefix(buf, start, i + 1 - start, limits);
        }
        break;
      default: // a byte of the version
        if (!versionByte(state - VERSION_AT, b)) rejectPrefix(buf, start, i + 1 - start, limits);
        state = state === VERSION_AT + 7 ? LINE_CR : state + 1;
    }
    // Past the limit with no CR yet, the request line is too long.
    if (i === lineLimit && state < LINE_LF) {
      rejectPrefix(buf, start, limits.maxRequestLineBytes + 1, limits);
    }
  }
  return progressAt(start, i, state);
}

function progressAt(start: number, i: number, state: number): number {
  return (i - start) * STATES + state;
}

// Throws what parseHead throws for every head beginning with the `length`
// bytes at `start`: they end in a byte no such head may hold, or fill the
// request line past its limit. A NUL after them ends what parseHead reads.
function rejectPrefix(buf: Uint8Array, start: number, length: number, limits: HttpLimits): never {
  const bytes = new Uint8Array(length + 1);
  bytes.set(buf.subarray(start, start + length));
  parseHead(bytes, 0, bytes.length, limits);
  throw new Error("http parser: a head ending in NUL was accepted");
}

// A head longer than the header limit: its first bytes are judged as if
// they had arrived alone, then 431 (414 while still in the request line).
function headTooLarge(buf: Uint8Array, start: number, limits: HttpLimits): never {
  const progress = checkHeadPrefix(buf, start, start + limits.maxHeaderBytes, 0, limits);
  if (progress % STATES < LINE_LF) throw new HttpError(414, "request line too long");
  throw new HttpError(431, "request header fields too large");
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
  if (i === start || buf[i] !== SP) badLine(start, i, limits, "malformed request line");
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
  if (targetEnd === targetStart || buf[i] !== SP) {
    badLine(start, i, limits, "malformed request target");
  }
  i++;
  if (
    buf[i] !== 0x48 || buf[i + 1] !== 0x54 || buf[i + 2] !== 0x54 || buf[i + 3] !== 0x50 ||
    buf[i + 4] !== 0x2f || buf[i + 6] !== 0x2e
  ) badVersion(buf, start, i, limits);
  const major = buf[i + 5] - 0x30, minorDigit = buf[i + 7] - 0x30;
  if (!(major >= 0 && major <= 9 && minorDigit >= 0 && minorDigit <= 9)) {
    badVersion(buf, start, i, limits);
  }
  i += 8;
  if (buf[i] !== CR || buf[i + 1] !== LF) badLine(start, i, limits, "malformed request line");
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
          if (contentLength !== -1) bad("repeated Content-Length");
          contentLength = parseContentLength(buf, valueStart, valueEnd);
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
    upgrade: (connection & UPGRADE) !== 0,
  };
}
