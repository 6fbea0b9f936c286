/**
 * ICMP echo messages (RFC 792, RFC 4443) and the socket addresses they
 * travel to: building an echo request with its checksum, reading a reply
 * (or, on a raw socket, an error that quotes one of our requests), and the
 * `sockaddr_in`/`sockaddr_in6` bytes of an IP address.
 *
 * @module
 */

/** ICMP types this module reads. */
export const ECHO_REQUEST_V4 = 8,
  ECHO_REPLY_V4 = 0,
  UNREACHABLE_V4 = 3,
  TIME_EXCEEDED_V4 = 11,
  ECHO_REQUEST_V6 = 128,
  ECHO_REPLY_V6 = 129,
  UNREACHABLE_V6 = 1,
  TIME_EXCEEDED_V6 = 3;

/** The Internet checksum (RFC 1071) of `bytes`. */
export function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  if (bytes.length % 2) sum += bytes[bytes.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * An echo request: type, code 0, checksum (left to the kernel for ICMPv6,
 * which always computes it), identifier, sequence, payload.
 */
export function echoRequest(
  family: 4 | 6,
  identifier: number,
  sequence: number,
  payload: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(8 + payload.length);
  out[0] = family === 4 ? ECHO_REQUEST_V4 : ECHO_REQUEST_V6;
  out[4] = identifier >> 8;
  out[5] = identifier & 0xff;
  out[6] = sequence >> 8;
  out[7] = sequence & 0xff;
  out.set(payload, 8);
  if (family === 4) {
    const sum = checksum(out);
    out[2] = sum >> 8;
    out[3] = sum & 0xff;
  }
  return out;
}

/** A received ICMP message about one of our echo requests. */
export interface ParsedIcmp {
  type: number;
  code: number;
  identifier: number;
  sequence: number;
  /** The echo payload (a reply), or empty (an error message). */
  payload: Uint8Array;
  /** The IPv4 TTL of the packet, when the socket sees IP headers (raw IPv4). */
  ttl?: number;
}

/**
 * Reads a datagram: `withIpHeader` for raw IPv4 sockets, which receive the
 * IP header too. Returns `undefined` for anything but an echo reply or an
 * error quoting an echo request.
 */
export function parseIcmp(
  family: 4 | 6,
  data: Uint8Array,
  withIpHeader: boolean,
): ParsedIcmp | undefined {
  let ttl: number | undefined;
  let at = 0;
  if (withIpHeader) {
    if (data.length < 20 || data[0] >> 4 !== 4) return undefined;
    ttl = data[8];
    at = (data[0] & 0x0f) * 4;
  }
  if (data.length - at < 8) return undefined;
  const type = data[at], code = data[at + 1];
  const reply = family === 4 ? ECHO_REPLY_V4 : ECHO_REPLY_V6;
  if (type === reply) {
    const out: ParsedIcmp = {
      type,
      code,
      identifier: (data[at + 4] << 8) | data[at + 5],
      sequence: (data[at + 6] << 8) | data[at + 7],
      payload: data.slice(at + 8),
    };
    if (ttl !== undefined) out.ttl = ttl;
    return out;
  }
  const isError = family === 4
    ? type === UNREACHABLE_V4 || type === TIME_EXCEEDED_V4
    : type === UNREACHABLE_V6 || type === TIME_EXCEEDED_V6;
  if (!isError) return undefined;
  // The error quotes the offending packet: its IP header, then our echo header.
  let inner = at + 8;
  if (family === 4) {
    if (data.length - inner < 20) return undefined;
    inner += (data[inner] & 0x0f) * 4;
  } else inner += 40;
  if (data.length - inner < 8) return undefined;
  const request = family === 4 ? ECHO_REQUEST_V4 : ECHO_REQUEST_V6;
  if (data[inner] !== request) return undefined;
  const out: ParsedIcmp = {
    type,
    code,
    identifier: (data[inner + 4] << 8) | data[inner + 5],
    sequence: (data[inner + 6] << 8) | data[inner + 7],
    payload: new Uint8Array(0),
  };
  if (ttl !== undefined) out.ttl = ttl;
  return out;
}

/** The family of an IP literal, or `undefined` for anything else. */
export function ipFamily(host: string): 4 | 6 | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) {
    return host.split(".").every((p) => Number(p) <= 255) ? 4 : undefined;
  }
  return host.includes(":") && parseIpv6(host) ? 6 : undefined;
}

function parseIpv6(text: string): Uint8Array | undefined {
  let s = text;
  const pct = s.indexOf("%");
  if (pct >= 0) s = s.slice(0, pct);
  const lastColon = s.lastIndexOf(":");
  const last = s.slice(lastColon + 1);
  if (last.includes(".")) {
    const v4 = last.split(".").map(Number);
    if (v4.length !== 4 || v4.some((n) => !(n >= 0 && n <= 255))) return undefined;
    const hi = ((v4[0] << 8) | v4[1]).toString(16), lo = ((v4[2] << 8) | v4[3]).toString(16);
    s = `${s.slice(0, lastColon + 1)}${hi}:${lo}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string) => (part === "" ? [] : part.split(":"));
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  const groups = [...head, ...rest].map((
    g,
  ) => (/^[0-9a-fA-F]{1,4}$/.test(g) ? parseInt(g, 16) : NaN));
  if (groups.some(Number.isNaN)) return undefined;
  const total = groups.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const words = [
    ...groups.slice(0, head.length),
    ...new Array(8 - total).fill(0),
    ...groups.slice(head.length),
  ];
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[i * 2] = w >> 8;
    out[i * 2 + 1] = w & 0xff;
  });
  return out;
}

/** The `sockaddr_in` / `sockaddr_in6` of an IP literal (port 0). */
export function encodeSockaddr(host: string, family: 4 | 6): Uint8Array {
  if (family === 4) {
    const out = new Uint8Array(16);
    new DataView(out.buffer).setUint16(0, 2, true);
    host.split(".").forEach((p, i) => (out[4 + i] = Number(p)));
    return out;
  }
  const out = new Uint8Array(28);
  new DataView(out.buffer).setUint16(0, 10, true);
  out.set(parseIpv6(host)!, 8);
  return out;
}

/** The IP address in a received `sockaddr_in` / `sockaddr_in6`. */
export function decodeSockaddr(buf: Uint8Array, family: 4 | 6): string {
  if (family === 4) return `${buf[4]}.${buf[5]}.${buf[6]}.${buf[7]}`;
  const words: string[] = [];
  for (let i = 0; i < 8; i++) words.push(((buf[8 + i * 2] << 8) | buf[9 + i * 2]).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === "0") j++;
    if (j - i > bestLen && j - i > 1) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best < 0) return words.join(":");
  return `${words.slice(0, best).join(":")}::${words.slice(best + bestLen).join(":")}`;
}
