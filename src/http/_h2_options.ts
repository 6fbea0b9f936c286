/**
 * The `http2` serve option, resolved: `true` (TLS), `"h2c"` (cleartext
 * too) or an object that also sets the announced SETTINGS and the
 * defences' bounds. Every value is checked here; a wrong one is a
 * `TypeError` that names the option, its range and what was given.
 *
 * @example
 * ```ts
 * import { resolveHttp2 } from "./_h2_options.ts";
 * const config = resolveHttp2({ h2c: true, maxConcurrentStreams: 10 }, 16384)!;
 * if (!config.cleartext || config.maxConcurrentStreams !== 10) throw new Error("resolved");
 * if (resolveHttp2(false, 16384) !== null) throw new Error("off");
 * ```
 *
 * @module
 */
import type { ServeOptions } from "./server.ts";

/** The resolved HTTP/2 settings of one server. */
export interface Http2Config {
  /** Cleartext HTTP/2 (prior knowledge and `Upgrade: h2c`) beside TLS. */
  cleartext: boolean;
  /** SETTINGS_MAX_CONCURRENT_STREAMS; more are refused with REFUSED_STREAM. */
  maxConcurrentStreams: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE: each stream's receive window. */
  initialWindowSize: number;
  /** The connection's receive window. */
  connectionWindowSize: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE; a larger list gets 431. */
  maxHeaderListSize: number;
  /** RST_STREAM frames a client may send in a second. */
  maxResetsPerSecond: number;
  /** CONTINUATION frames one header block may take. */
  maxContinuations: number;
  /** SETTINGS, PING and empty frames a client may send in a second (each). */
  maxControlFramesPerSecond: number;
}

const MAX_WINDOW = 0x7fffffff;

/** Each numeric option: default, least, most. */
const RANGES = {
  maxConcurrentStreams: [100, 1, MAX_WINDOW],
  initialWindowSize: [256 * 1024, 1, MAX_WINDOW],
  connectionWindowSize: [1024 * 1024, 65535, MAX_WINDOW],
  maxHeaderListSize: [0, 1, MAX_WINDOW],
  maxResetsPerSecond: [200, 1, MAX_WINDOW],
  maxContinuations: [16, 0, 1_000_000],
  maxControlFramesPerSecond: [100, 1, MAX_WINDOW],
} as const;

type Numeric = keyof typeof RANGES;

/**
 * The settings `option` asks for, or null when HTTP/2 is off;
 * `maxHeaderBytes` is the header list size when the option sets none.
 * Throws `TypeError` on an unknown key or a value out of range.
 */
export function resolveHttp2(
  option: ServeOptions["http2"],
  maxHeaderBytes: number,
): Http2Config | null {
  if (option === undefined || option === false) return null;
  if (option !== true && option !== "h2c" && (typeof option !== "object" || option === null)) {
    throw new TypeError(
      `http: http2 must be true, "h2c" or an object (got ${JSON.stringify(option)})`,
    );
  }
  const given: Record<string, unknown> = typeof option === "object" ? option : {};
  const config = { cleartext: option === "h2c" } as Http2Config;
  for (const key of Object.keys(given)) {
    if (key !== "h2c" && !(key in RANGES)) {
      throw new TypeError(`http: http2.${key} is not an option`);
    }
  }
  if (given.h2c !== undefined) {
    if (typeof given.h2c !== "boolean") {
      throw new TypeError(`http: http2.h2c must be a boolean (got ${JSON.stringify(given.h2c)})`);
    }
    config.cleartext = given.h2c;
  }
  for (const key of Object.keys(RANGES) as Numeric[]) {
    const [fallback, least, most] = RANGES[key];
    const value = given[key] ?? (key === "maxHeaderListSize" ? maxHeaderBytes : fallback);
    if (typeof value !== "number" || !Number.isInteger(value) || value < least || value > most) {
      throw new TypeError(
        `http: http2.${key} must be an integer from ${least} to ${most} (got ${
          JSON.stringify(value)
        })`,
      );
    }
    config[key] = value;
  }
  return config;
}
