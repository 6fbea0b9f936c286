/**
 * Byte-level helpers shared by the HTTP parsers: token tables, case-blind
 * comparison and fast latin1 decoding of short slices.
 *
 * @module
 */

/** `TCHAR[b] === 1` when byte `b` may appear in a token (RFC 9110 §5.6.2). */
export const TCHAR: Uint8Array = (() => {
  const t = new Uint8Array(256);
  const extra = "!#$%&'*+-.^_`|~";
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  for (let i = 0; i < extra.length; i++) t[extra.charCodeAt(i)] = 1;
  return t;
})();

/**
 * `HOST_CHAR[b] === 1` when byte `b` may appear in a reg-name or an
 * IPv4 address (RFC 3986 §3.2.2: unreserved and sub-delims; `%` escapes
 * are checked apart).
 */
export const HOST_CHAR: Uint8Array = (() => {
  const t = new Uint8Array(256);
  const extra = "-._~!$&'()*+,;=";
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  for (let i = 0; i < extra.length; i++) t[extra.charCodeAt(i)] = 1;
  return t;
})();

/**
 * Index of the first byte at or after `i` in `buf[i, end)` that is not
 * optional whitespace (RFC 9110 §5.6.3: SP or HTAB, nothing else).
 *
 * @example
 * ```ts ignore
 * skipOws(new TextEncoder().encode(" \tx"), 0, 3); // 2
 * ```
 */
export function skipOws(buf: Uint8Array, i: number, end: number): number {
  while (i < end && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
  return i;
}

/**
 * Index just past the token starting at `i` in `buf[i, end)` (`i` when
 * there is none).
 *
 * @example
 * ```ts ignore
 * skipToken(new TextEncoder().encode("chunked, x"), 0, 10); // 7
 * ```
 */
export function skipToken(buf: Uint8Array, i: number, end: number): number {
  while (i < end && TCHAR[buf[i]] === 1) i++;
  return i;
}

/**
 * `s` without leading and trailing SP and HTAB: unlike `String#trim`, no
 * other character (such as U+00A0) counts as whitespace.
 *
 * @example
 * ```ts ignore
 * trimOws("\t a\u00a0 "); // "a\u00a0"
 * ```
 */
export function trimOws(s: string): string {
  let a = 0, b = s.length;
  while (a < b && (s.charCodeAt(a) === 0x20 || s.charCodeAt(a) === 0x09)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 0x20 || s.charCodeAt(b - 1) === 0x09)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

const decoder = new TextDecoder("latin1");

/** Decodes `buf[start, end)` as latin1 (every byte one UTF-16 unit). */
export function latin1(buf: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n > 48) return decoder.decode(buf.subarray(start, end));
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]);
  return s;
}

/**
 * True when `buf[start, end)` equals the lower-case ASCII string `lower`,
 * ignoring the case of the bytes.
 */
export function equalsLower(buf: Uint8Array, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    let b = buf[start + i];
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (b !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** True when `s` is a non-empty token (valid method or header name). */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f || TCHAR[c] !== 1) return false;
  }
  return true;
}

/** True when `s` may be sent as a header value: no CR, LF, NUL or other controls. */
export function isFieldValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return false;
  }
  return true;
}
