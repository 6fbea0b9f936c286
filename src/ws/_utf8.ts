/**
 * A streaming UTF-8 validator: text frames are checked piece by piece as
 * they arrive, so invalid input is found at its first bad byte even in the
 * middle of a fragment or of a frame split across reads.
 *
 * @module
 */

/**
 * The state of one text message being checked. `feed` takes the next
 * piece; `complete` says whether the bytes so far end on a whole
 * character.
 */
export class Utf8Validator {
  // Continuation bytes still expected, and the range allowed for the next.
  #need = 0;
  #lo = 0x80;
  #hi = 0xbf;

  /** True when no character is left unfinished. */
  get complete(): boolean {
    return this.#need === 0;
  }

  /** Forgets any unfinished character (for the next message). */
  reset(): void {
    this.#need = 0;
    this.#lo = 0x80;
    this.#hi = 0xbf;
  }

  /**
   * Checks `bytes[start, end)`; returns the index of the first byte that
   * cannot be valid UTF-8, or -1.
   */
  feed(bytes: Uint8Array, start = 0, end: number = bytes.length): number {
    let need = this.#need, lo = this.#lo, hi = this.#hi;
    for (let i = start; i < end; i++) {
      const b = bytes[i];
      if (need === 0) {
        if (b < 0x80) continue;
        if (b >= 0xc2 && b <= 0xdf) {
          need = 1;
        } else if (b >= 0xe0 && b <= 0xef) {
          need = 2;
          if (b === 0xe0) lo = 0xa0;
          else if (b === 0xed) hi = 0x9f;
        } else if (b >= 0xf0 && b <= 0xf4) {
          need = 3;
          if (b === 0xf0) lo = 0x90;
          else if (b === 0xf4) hi = 0x8f;
        } else {
          this.#need = 0;
          return i;
        }
        continue;
      }
      if (b < lo || b > hi) {
        this.#need = 0;
        this.#lo = 0x80;
        this.#hi = 0xbf;
        return i;
      }
      need--;
      lo = 0x80;
      hi = 0xbf;
    }
    this.#need = need;
    this.#lo = lo;
    this.#hi = hi;
    return -1;
  }
}

/** True when `bytes` is whole, valid UTF-8. */
export function isUtf8(bytes: Uint8Array): boolean {
  const v = new Utf8Validator();
  return v.feed(bytes) === -1 && v.complete;
}
