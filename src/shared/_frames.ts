/**
 * Length-prefixed frames over a lunet stream: a 4-byte little-endian
 * length, then that many bytes. Used by the worker supervisor's control
 * links and by the shared dictionary's socket protocol.
 *
 * @module
 */
import type { Conn } from "../socket.ts";
import type { WaitOptions } from "../_wait.ts";

/** Largest frame accepted (bytes). */
export const MAX_FRAME = 16 << 20;

/** Reads whole frames from a connection, keeping what arrived past one. */
export class FrameReader {
  #conn: Conn;
  #buf: Uint8Array = new Uint8Array(0);
  #start = 0;

  constructor(conn: Conn) {
    this.#conn = conn;
  }

  /** A whole frame already received, or `undefined`. */
  buffered(): Uint8Array | undefined {
    const have = this.#buf.length - this.#start;
    if (have < 4) return undefined;
    const b = this.#buf, s = this.#start;
    const len = (b[s] | b[s + 1] << 8 | b[s + 2] << 16 | b[s + 3] << 24) >>> 0;
    if (len > MAX_FRAME) throw new RangeError(`frame of ${len} bytes is too large`);
    if (have < 4 + len) return undefined;
    this.#start = s + 4 + len;
    return b.subarray(s + 4, s + 4 + len);
  }

  /** The next frame, or `null` at the end of the stream. */
  async next(opts?: WaitOptions): Promise<Uint8Array | null> {
    for (;;) {
      const whole = this.buffered();
      if (whole !== undefined) return whole;
      const chunk = await this.#conn.read(opts);
      if (chunk === null) return null;
      const rest = this.#buf.subarray(this.#start);
      if (rest.length === 0) {
        this.#buf = chunk.slice();
      } else {
        const joined = new Uint8Array(rest.length + chunk.length);
        joined.set(rest);
        joined.set(chunk, rest.length);
        this.#buf = joined;
      }
      this.#start = 0;
    }
  }
}

/** The frames in `parts` as one buffer. */
export function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Returns `payload` with its 4-byte length prefix. */
export function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  const n = payload.length;
  out[0] = n & 255;
  out[1] = n >>> 8 & 255;
  out[2] = n >>> 16 & 255;
  out[3] = n >>> 24 & 255;
  out.set(payload, 4);
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A JSON value as one frame. */
export function jsonFrame(value: unknown): Uint8Array {
  return frame(encoder.encode(JSON.stringify(value)));
}

/** The JSON value of a frame's payload. */
export function parseJson<T>(payload: Uint8Array): T {
  return JSON.parse(decoder.decode(payload)) as T;
}
