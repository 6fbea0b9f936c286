/**
 * The strict checks of single request-head fields the parser applies:
 * Connection options, Transfer-Encoding lists, Host values, target forms
 * and Content-Length. Each throws {@linkcode HttpError} (400, or 501 for an
 * unknown transfer coding) on what the RFCs forbid.
 *
 * @example
 * ```ts
 * import { checkHost } from "./_field_checks.ts";
 * const ok = new TextEncoder().encode("example.com:8080");
 * checkHost(ok, 0, ok.length); // no throw
 * const bad = new TextEncoder().encode("exa mple.com");
 * let refused = false;
 * try {
 *   checkHost(bad, 0, bad.length);
 * } catch {
 *   refused = true;
 * }
 * if (!refused) throw new Error("accepted a space in Host");
 * ```
 * @module
 */
import { equalsLower, HOST_CHAR, latin1, skipOws, skipToken } from "./_ascii.ts";
import { HttpError } from "./status.ts";

const SP = 32, HT = 9, COLON = 58, COMMA = 0x2c;

/** Refuses the head with 400. */
export function bad(what: string): never {
  throw new HttpError(400, what);
}

/** Bits of {@linkcode connectionOptions}. */
export const CLOSE = 1, KEEP_ALIVE = 2, UPGRADE = 4;

/**
 * The options of a Connection field (RFC 9110 §7.6.1): a list of tokens,
 * empty elements allowed, OWS (SP, HTAB) around them. Returns the
 * `CLOSE`, `KEEP_ALIVE` and `UPGRADE` bits found.
 */
export function connectionOptions(buf: Uint8Array, s: number, e: number): number {
  let found = 0, i = s;
  for (;;) {
    while (i < e && (buf[i] === COMMA || buf[i] === SP || buf[i] === HT)) i++;
    if (i === e) return found;
    const t = i;
    i = skipToken(buf, i, e);
    if (i === t) bad("malformed Connection");
    if (equalsLower(buf, t, i, "close")) found |= CLOSE;
    else if (equalsLower(buf, t, i, "keep-alive")) found |= KEEP_ALIVE;
    else if (equalsLower(buf, t, i, "upgrade")) found |= UPGRADE;
    i = skipOws(buf, i, e);
    if (i < e && buf[i] !== COMMA) bad("malformed Connection");
  }
}

/**
 * Checks a Transfer-Encoding list (RFC 9112 §6.1): tokens separated by
 * commas with OWS around them, no empty element. Only `chunked`, without
 * parameters, is implemented (501 for another coding), and only once.
 */
export function checkTransferCodings(buf: Uint8Array, s: number, e: number): void {
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
export function checkHost(buf: Uint8Array, s: number, e: number): void {
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

/** Checks the asterisk and absolute forms of a request target (RFC 9112 §3.2). */
export function checkTargetForm(buf: Uint8Array, s: number, e: number, method: string): void {
  if (e - s === 1 && buf[s] === 0x2a) {
    if (method !== "OPTIONS") bad("asterisk-form target outside OPTIONS");
    return;
  }
  if (equalsLower(buf, s, Math.min(e, s + 7), "http://")) return;
  if (equalsLower(buf, s, Math.min(e, s + 8), "https://")) return;
  bad("malformed request target");
}

/**
 * Content-Length = 1*DIGIT (RFC 9110 §8.6); a list, even of equal values,
 * is refused like a repeated field. Values past 2^53 are `Infinity`.
 */
export function parseContentLength(buf: Uint8Array, s: number, e: number): number {
  if (s === e) bad("malformed Content-Length");
  let n = 0;
  for (let i = s; i < e; i++) {
    const b = buf[i];
    if (b < 0x30 || b > 0x39) bad("malformed Content-Length");
    n = n * 10 + (b - 0x30);
  }
  return n > Number.MAX_SAFE_INTEGER ? Infinity : n;
}
