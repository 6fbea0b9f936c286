/**
 * HTTP/2 SETTINGS (RFC 9113 section 6.5): the values this server
 * announces, and the peer's, checked as they arrive (a value out of
 * range is a connection error with the code the RFC names).
 *
 * @example
 * ```ts
 * import { PeerSettings } from "./_h2_settings.ts";
 * const peer = new PeerSettings();
 * peer.apply(new Uint8Array([0, 4, 0, 1, 0, 0]), 0, 6); // INITIAL_WINDOW_SIZE = 65536
 * if (peer.initialWindow !== 65536) throw new Error("not applied");
 * ```
 *
 * @module
 */
import {
  FLOW_CONTROL_ERROR,
  H2ConnectionError,
  MAX_WINDOW,
  PROTOCOL_ERROR,
  read32,
} from "./_h2_frames.ts";

export const HEADER_TABLE_SIZE = 0x1, ENABLE_PUSH = 0x2, MAX_CONCURRENT_STREAMS = 0x3;
export const INITIAL_WINDOW_SIZE = 0x4, MAX_FRAME_SIZE = 0x5, MAX_HEADER_LIST_SIZE = 0x6;

/** The default frame size, and the most this server receives. */
export const DEFAULT_FRAME_SIZE = 16384;
/** The default initial window (RFC 9113 section 6.9.2). */
export const DEFAULT_WINDOW = 65535;

/** What the peer announced. */
export class PeerSettings {
  /** SETTINGS_HEADER_TABLE_SIZE: the most our encoder's table may hold. */
  headerTableSize = 4096;
  /** SETTINGS_INITIAL_WINDOW_SIZE: each stream's send window to start with. */
  initialWindow = DEFAULT_WINDOW;
  /** SETTINGS_MAX_FRAME_SIZE: the largest frame payload we may send. */
  maxFrameSize = DEFAULT_FRAME_SIZE;

  /**
   * Applies the settings in `buf[start, end)` (a multiple of 6 bytes);
   * returns the change of the initial window, which applies to every open
   * stream. Unknown settings are ignored.
   */
  apply(buf: Uint8Array, start: number, end: number): number {
    let delta = 0;
    for (let i = start; i < end; i += 6) {
      const id = buf[i] << 8 | buf[i + 1], value = read32(buf, i + 2);
      switch (id) {
        case HEADER_TABLE_SIZE:
          this.headerTableSize = value;
          break;
        case ENABLE_PUSH:
          if (value > 1) throw new H2ConnectionError(PROTOCOL_ERROR, `ENABLE_PUSH ${value}`);
          break;
        case INITIAL_WINDOW_SIZE:
          if (value > MAX_WINDOW) {
            throw new H2ConnectionError(FLOW_CONTROL_ERROR, `INITIAL_WINDOW_SIZE ${value}`);
          }
          delta += value - this.initialWindow;
          this.initialWindow = value;
          break;
        case MAX_FRAME_SIZE:
          if (value < DEFAULT_FRAME_SIZE || value > 0xffffff) {
            throw new H2ConnectionError(PROTOCOL_ERROR, `MAX_FRAME_SIZE ${value}`);
          }
          this.maxFrameSize = value;
          break;
      }
    }
    return delta;
  }
}

/** The SETTINGS payload announcing `pairs` of `[id, value]`. */
export function settingsPayload(pairs: ReadonlyArray<readonly [number, number]>): Uint8Array {
  const out = new Uint8Array(pairs.length * 6);
  pairs.forEach(([id, value], k) => {
    const i = k * 6;
    out[i] = id >> 8;
    out[i + 1] = id & 0xff;
    out[i + 2] = value >>> 24;
    out[i + 3] = (value >>> 16) & 0xff;
    out[i + 4] = (value >>> 8) & 0xff;
    out[i + 5] = value & 0xff;
  });
  return out;
}
