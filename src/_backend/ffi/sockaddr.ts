/**
 * `struct sockaddr` encoding and decoding for the FFI backend: IPv4
 * (`sockaddr_in`), IPv6 (`sockaddr_in6`) and Unix (`sockaddr_un`), with
 * IP literals parsed and printed the way Deno prints them (RFC 5952 for
 * IPv6).
 *
 * @module
 */
import type { SocketAddr } from "../types.ts";
import { AF_INET, AF_INET6, AF_UNIX } from "./libc.ts";

/** Room for any address the backend handles (`sizeof(struct sockaddr_storage)`). */
export const SOCKADDR_MAX = 128;
const UNIX_PATH_MAX = 108;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Encodes `addr` as a `struct sockaddr`; `family` is its address family.
 * Throws a `TypeError` for a host that is not an IP literal.
 *
 * @example
 * ```ts ignore
 * const { bytes, family } = encodeAddr({ transport: "tcp", hostname: "::1", port: 80 });
 * ```
 */
export function encodeAddr(addr: SocketAddr): { bytes: Uint8Array; family: number } {
  if (addr.transport === "unix") {
    const path = encoder.encode(addr.path ?? "");
    if (path.length >= UNIX_PATH_MAX) {
      throw new RangeError(`unix socket path longer than ${UNIX_PATH_MAX - 1} bytes: ${addr.path}`);
    }
    const bytes = new Uint8Array(2 + path.length + 1);
    new DataView(bytes.buffer).setUint16(0, AF_UNIX, true);
    bytes.set(path, 2);
    return { bytes, family: AF_UNIX };
  }
  const host = addr.hostname ?? "";
  const port = addr.port ?? 0;
  const v4 = parseIPv4(host);
  if (v4) {
    const bytes = new Uint8Array(16);
    const view = new DataView(bytes.buffer);
    view.setUint16(0, AF_INET, true);
    view.setUint16(2, port);
    bytes.set(v4, 4);
    return { bytes, family: AF_INET };
  }
  const v6 = parseIPv6(host);
  if (!v6) throw new TypeError(`not an IP address: "${host}"`);
  const bytes = new Uint8Array(28);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, AF_INET6, true);
  view.setUint16(2, port);
  bytes.set(v6, 8);
  return { bytes, family: AF_INET6 };
}

/**
 * Decodes the first `len` bytes of a `struct sockaddr`.
 *
 * @example
 * ```ts ignore
 * const addr = decodeAddr(buf, len); // { transport: "tcp", hostname: "127.0.0.1", port: 80 }
 * ```
 */
export function decodeAddr(buf: Uint8Array, len: number): SocketAddr {
  // sa_family in host order (little-endian on the supported targets), then
  // the port in network order.
  const family = len >= 2 ? buf[0] | (buf[1] << 8) : AF_UNIX;
  const port = (buf[2] << 8) | buf[3];
  if (family === AF_INET) {
    return { transport: "tcp", hostname: `${buf[4]}.${buf[5]}.${buf[6]}.${buf[7]}`, port };
  }
  if (family === AF_INET6) {
    return { transport: "tcp", hostname: formatIPv6(buf.subarray(8, 24)), port };
  }
  let end = 2;
  while (end < len && buf[end] !== 0) end++;
  return { transport: "unix", path: decoder.decode(buf.subarray(2, end)) };
}

function parseIPv4(host: string): Uint8Array | undefined {
  const parts = host.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(parts[i])) return undefined;
    const n = Number(parts[i]);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseIPv6(host: string): Uint8Array | undefined {
  const halves = host.split("%")[0].split("::");
  if (halves.length > 2) return undefined;
  const head = parseGroups(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? parseGroups(halves[1], true) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

// Parses colon-separated hex groups; an IPv4 tail counts as two groups.
function parseGroups(text: string, v4Tail: boolean): number[] | undefined {
  if (text === "") return [];
  const parts = text.split(":");
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (v4Tail && i === parts.length - 1 && part.includes(".")) {
      const v4 = parseIPv4(part);
      if (!v4) return undefined;
      groups.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) {
      groups.push(parseInt(part, 16));
    } else return undefined;
  }
  return groups;
}

function formatIPv6(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i] << 8) | b[i + 1]);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${b.subarray(12).join(".")}`;
  }
  // The longest run of two or more zero groups becomes "::".
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}
