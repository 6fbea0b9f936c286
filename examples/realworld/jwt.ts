/**
 * JSON Web Tokens signed with HS256 (HMAC-SHA-256, RFC 7519) through Web
 * Crypto: the key is imported once and never leaves `crypto.subtle`;
 * verification checks the header, the signature (in constant time, by
 * `crypto.subtle.verify`) and the expiry.
 *
 * @module
 */

/** The claims the app puts in a token. */
export interface Claims {
  /** The user id, as a string. */
  sub: string;
  /** The username when the token was issued. */
  username: string;
  /** Issued at, seconds since the epoch. */
  iat: number;
  /** Expires at, seconds since the epoch. */
  exp: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const HEADER = base64url(encoder.encode(JSON.stringify({ alg: "HS256", typ: "JWT" })));

function base64url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function unbase64url(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

/**
 * Signs and verifies the app's tokens with one secret.
 *
 * @example
 * ```ts
 * import { Jwt } from "./jwt.ts";
 * const jwt = await Jwt.create("a secret of at least thirty-two bytes!!");
 * const token = await jwt.sign({ sub: "7", username: "jake" });
 * const claims = await jwt.verify(token);
 * if (claims?.sub !== "7") throw new Error("round trip");
 * if (await jwt.verify(token.slice(0, -2) + "xx") !== null) throw new Error("tampered");
 * ```
 */
export class Jwt {
  #key: CryptoKey;
  #ttl: number;

  /** @ignore */
  private constructor(key: CryptoKey, ttl: number) {
    this.#key = key;
    this.#ttl = ttl;
  }

  /**
   * Imports `secret` as an HMAC-SHA-256 key.
   *
   * @param secret the signing secret (32 bytes or more)
   * @param ttl token lifetime in seconds (default 30 days)
   */
  static async create(secret: string, ttl = 30 * 24 * 3600): Promise<Jwt> {
    const raw = encoder.encode(secret);
    if (raw.length < 32) throw new RangeError("jwt: the secret needs 32 bytes or more");
    const key = await crypto.subtle.importKey(
      "raw",
      raw,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    return new Jwt(key, ttl);
  }

  /** A token for `claims`, issued now. */
  async sign(claims: Pick<Claims, "sub" | "username">): Promise<string> {
    const iat = Math.floor(Date.now() / 1000);
    const payload = { ...claims, iat, exp: iat + this.#ttl };
    const body = `${HEADER}.${base64url(encoder.encode(JSON.stringify(payload)))}`;
    const sig = await crypto.subtle.sign("HMAC", this.#key, encoder.encode(body));
    return `${body}.${base64url(new Uint8Array(sig))}`;
  }

  /** The claims of `token`, or `null` when it is malformed, forged or expired. */
  async verify(token: string): Promise<Claims | null> {
    const parts = token.split(".");
    if (parts.length !== 3) return null;
    const [head, body, sig] = parts;
    const header = parseJson(unbase64url(head));
    if (header?.alg !== "HS256") return null;
    const mac = unbase64url(sig);
    if (mac === null) return null;
    const ok = await crypto.subtle.verify(
      "HMAC",
      this.#key,
      mac,
      encoder.encode(`${head}.${body}`),
    );
    if (!ok) return null;
    const claims = parseJson(unbase64url(body));
    if (typeof claims?.sub !== "string" || typeof claims.exp !== "number") return null;
    if (claims.exp * 1000 <= Date.now()) return null;
    return claims as unknown as Claims;
  }
}

function parseJson(bytes: Uint8Array | null): Record<string, unknown> | null {
  if (bytes === null) return null;
  try {
    const v = JSON.parse(decoder.decode(bytes));
    return v !== null && typeof v === "object" && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}
