/**
 * HTTP/2 wire constants (RFC 9113): frame types, flags, error codes, the
 * connection preface, and the two errors a peer's mistake raises — one
 * that ends the connection with GOAWAY, one that resets a stream.
 *
 * @example
 * ```ts
 * import { frameHeader, H2ConnectionError, PROTOCOL_ERROR, SETTINGS } from "./_h2_frames.ts";
 * const head = new Uint8Array(9);
 * frameHeader(head, 0, 0, SETTINGS, 0, 0);
 * if (head[3] !== SETTINGS) throw new Error("type");
 * if (new H2ConnectionError(PROTOCOL_ERROR, "x").code !== PROTOCOL_ERROR) throw new Error("code");
 * ```
 *
 * @module
 */

export const DATA = 0x0, HEADERS = 0x1, PRIORITY = 0x2, RST_STREAM = 0x3, SETTINGS = 0x4;
export const PUSH_PROMISE = 0x5, PING = 0x6, GOAWAY = 0x7, WINDOW_UPDATE = 0x8;
export const CONTINUATION = 0x9;

export const END_STREAM = 0x1, ACK = 0x1, END_HEADERS = 0x4, PADDED = 0x8, PRIORITY_FLAG = 0x20;

export const NO_ERROR = 0x0, PROTOCOL_ERROR = 0x1, INTERNAL_ERROR = 0x2;
export const FLOW_CONTROL_ERROR = 0x3, SETTINGS_TIMEOUT = 0x4, STREAM_CLOSED = 0x5;
export const FRAME_SIZE_ERROR = 0x6, REFUSED_STREAM = 0x7, CANCEL = 0x8;
export const COMPRESSION_ERROR = 0x9, ENHANCE_YOUR_CALM = 0xb;

/** Size of a frame header. */
export const FRAME_HEADER = 9;
/** The largest flow-control window (2^31 - 1). */
export const MAX_WINDOW = 0x7fffffff;

/** The client connection preface: `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`. */
export const PREFACE: Uint8Array = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** Writes a frame header at `buf[at]`. */
export function frameHeader(
  buf: Uint8Array,
  at: number,
  length: number,
  type: number,
  flags: number,
  stream: number,
): void {
  buf[at] = length >>> 16;
  buf[at + 1] = (length >>> 8) & 0xff;
  buf[at + 2] = length & 0xff;
  buf[at + 3] = type;
  buf[at + 4] = flags;
  buf[at + 5] = (stream >>> 24) & 0x7f;
  buf[at + 6] = (stream >>> 16) & 0xff;
  buf[at + 7] = (stream >>> 8) & 0xff;
  buf[at + 8] = stream & 0xff;
}

/** Reads a 31-bit value (the top bit dropped) at `buf[at]`. */
export function read31(buf: Uint8Array, at: number): number {
  return ((buf[at] & 0x7f) << 24 | buf[at + 1] << 16 | buf[at + 2] << 8 | buf[at + 3]) >>> 0;
}

/** Reads a 32-bit value at `buf[at]`. */
export function read32(buf: Uint8Array, at: number): number {
  return (buf[at] << 24 | buf[at + 1] << 16 | buf[at + 2] << 8 | buf[at + 3]) >>> 0;
}

/** A connection error (RFC 9113 section 5.4.1): GOAWAY with `code`, then close. */
export class H2ConnectionError extends Error {
  /** The error code sent in GOAWAY. */
  readonly code: number;

  /**
   * @param code the error code
   * @param message what the peer did
   */
  constructor(code: number, message: string) {
    super(`http2: ${message}`);
    this.name = "H2ConnectionError";
    this.code = code;
  }
}

/** A stream error (RFC 9113 section 5.4.2): RST_STREAM with `code`; the connection goes on. */
export class H2StreamError extends Error {
  /** The error code sent in RST_STREAM. */
  readonly code: number;
  /** The stream. */
  readonly stream: number;

  /**
   * @param code the error code
   * @param stream the stream id
   * @param message what the peer did
   */
  constructor(code: number, stream: number, message: string) {
    super(`http2: stream ${stream}: ${message}`);
    this.name = "H2StreamError";
    this.code = code;
    this.stream = stream;
  }
}
