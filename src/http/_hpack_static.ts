/**
 * The HPACK static table (RFC 7541 appendix A) and the lookups the
 * encoder uses on it.
 *
 * @example
 * ```ts
 * import { STATIC_TABLE, staticIndex } from "./_hpack_static.ts";
 * if (STATIC_TABLE[2][1] !== "GET" || staticIndex(":method", "GET") !== 2) throw new Error("table");
 * ```
 *
 * @module
 */

/** Entries 1–61 as `[name, value]`; entry 0 is unused. */
export const STATIC_TABLE: ReadonlyArray<readonly [string, string]> = [
  ["", ""],
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];

/** Number of static entries. */
export const STATIC_COUNT = 61;

const byPair = new Map<string, number>();
const byName = new Map<string, number>();
for (let i = STATIC_COUNT; i >= 1; i--) {
  const [name, value] = STATIC_TABLE[i];
  byName.set(name, i);
  if (value !== "") byPair.set(name + "\0" + value, i);
}

/** The static index of the field `name: value`, or 0. */
export function staticIndex(name: string, value: string): number {
  return byPair.get(name + "\0" + value) ?? 0;
}

/** The first static index whose name is `name`, or 0. */
export function staticName(name: string): number {
  return byName.get(name) ?? 0;
}
