/**
 * The opening handshake's arithmetic (RFC 6455 §4): the key and its
 * accept value through Web Crypto SHA-1, and the comma-separated token
 * lists of `Connection`, `Upgrade` and `Sec-WebSocket-Protocol`.
 *
 * @module
 */

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const encoder = new TextEncoder();

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s);
}

/** The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`. */
export async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", encoder.encode(key + GUID));
  return base64(new Uint8Array(digest));
}

/** A fresh `Sec-WebSocket-Key`: 16 random bytes, base64. */
export function randomKey(): string {
  return base64(crypto.getRandomValues(new Uint8Array(16)));
}

/** True when `key` is the base64 form of 16 bytes. */
export function isValidKey(key: string): boolean {
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) return false;
  try {
    return atob(key).length === 16;
  } catch {
    return false;
  }
}

/** The comma-separated elements of header values, trimmed, empty ones dropped. */
export function tokens(values: string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    for (const part of v.split(",")) {
      const t = part.trim();
      if (t) out.push(t);
    }
  }
  return out;
}

/** True when the token list of `values` holds `want` (case-insensitive). */
export function hasToken(values: string[], want: string): boolean {
  return tokens(values).some((t) => t.toLowerCase() === want);
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** True for a valid subprotocol name (an HTTP token). */
export function isToken(s: string): boolean {
  return TOKEN.test(s);
}
