/**
 * Size limits and timeouts of the HTTP engine, with strict defaults.
 *
 * @example
 * ```ts
 * import { resolveLimits } from "./limits.ts";
 * const limits = resolveLimits({ maxBodyBytes: 1 << 20 });
 * console.log(limits.maxHeaderCount); // 100
 * ```
 * @module
 */

/**
 * Size limits and timeouts (milliseconds) of an HTTP server. Every field is
 * optional in {@linkcode ServeOptions}; unset fields take the defaults of
 * {@linkcode DEFAULT_LIMITS}.
 *
 * @example
 * ```ts
 * import type { HttpLimits } from "@lunet/lunet/http";
 * const strict: Partial<HttpLimits> = { maxBodyBytes: 65536, headerTimeout: 5000 };
 * ```
 */
export interface HttpLimits {
  /** Longest request line (method, target, version); longer gets 414. */
  maxRequestLineBytes: number;
  /** Most bytes in the request line plus all header lines; more gets 431. */
  maxHeaderBytes: number;
  /** Most header fields in one request; more gets 431. */
  maxHeaderCount: number;
  /** Largest request body, declared or streamed; larger gets 413. */
  maxBodyBytes: number;
  /** Time from the first byte of a request to the end of its headers; then 408. */
  headerTimeout: number;
  /** Time a keep-alive connection may wait for the next request. */
  idleTimeout: number;
  /** Longest pause while a request body is read or a response is written. */
  bodyTimeout: number;
  /** Time the handler has to produce its response (its head). */
  responseTimeout: number;
  /** Time spent discarding input before closing after an error (lingering close). */
  drainTimeout: number;
}

/**
 * The default limits: stricter than common servers, yet roomy for normal
 * traffic (8 KiB request line, 16 KiB of headers, 100 headers, 16 MiB
 * bodies, 30 s header/idle/stall timeouts, 120 s to respond, 2 s drain).
 *
 * @example
 * ```ts
 * import { DEFAULT_LIMITS } from "@lunet/lunet/http";
 * console.log(DEFAULT_LIMITS.maxBodyBytes); // 16777216
 * ```
 */
export const DEFAULT_LIMITS: Readonly<HttpLimits> = Object.freeze({
  maxRequestLineBytes: 8192,
  maxHeaderBytes: 16384,
  maxHeaderCount: 100,
  maxBodyBytes: 16 * 1024 * 1024,
  headerTimeout: 30_000,
  idleTimeout: 30_000,
  bodyTimeout: 30_000,
  responseTimeout: 120_000,
  drainTimeout: 2_000,
});

/**
 * Completes partial limits with the defaults and validates them.
 *
 * @example
 * ```ts
 * import { resolveLimits } from "./limits.ts";
 * console.log(resolveLimits({ idleTimeout: 5000 }).idleTimeout); // 5000
 * ```
 */
export function resolveLimits(opts: Partial<HttpLimits> = {}): HttpLimits {
  const out = { ...DEFAULT_LIMITS } as HttpLimits;
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof HttpLimits)[]) {
    const value = opts[key];
    if (value === undefined) continue;
    if (typeof value !== "number" || !(value > 0)) {
      throw new RangeError(`http: limit ${key} must be a positive number, got ${value}`);
    }
    out[key] = value;
  }
  if (out.maxRequestLineBytes > out.maxHeaderBytes) out.maxHeaderBytes = out.maxRequestLineBytes;
  return out;
}
