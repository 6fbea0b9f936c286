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

  /** The next frame, or `null` at the end of the stream. */
  async next(opts?: WaitOptions): Promise<Uint8Array | null> {
    for (;;) {
      const have = this.#buf.length - this.#start;
      if (have >= 4) {
        const b = this.#buf, s = this.#start;
        const len = (b[s] | b[s + 1] << 8 | b[s + 2] << 16 | b[s + 3] << 24) >>> 0;
        if (len > MAX_FRAME) throw new RangeError(`frame of ${len} bytes is too large`);
        if (have >= 4 + len) {
          this.#start = s + 4 + len;
          return b.subarray(s + 4, s + 4 + len);
        }
      }
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
