/**
 * A bounded record of stream ids (the streams an HTTP/2 connection closed
 * or reset lately): what a peer may still send on them is told from
 * frames on streams that never existed, and the record never grows past
 * twice its size — the oldest half is forgotten at once.
 *
 * @example
 * ```ts
 * import { RecentIds } from "./_h2_recent.ts";
 * const ids = new RecentIds(2);
 * for (const id of [1, 3, 5, 7, 9]) ids.add(id);
 * if (ids.has(1) || !ids.has(9)) throw new Error("oldest forgotten first");
 * ```
 *
 * @module
 */

/** Stream ids, the most recent `size` (at least) remembered. */
export class RecentIds {
  #ids = new Set<number>();
  #size: number;

  /** @param size how many ids are kept at least */
  constructor(size: number) {
    this.#size = size;
  }

  /** Remembers `id`. */
  add(id: number): void {
    this.#ids.add(id);
    if (this.#ids.size <= 2 * this.#size) return;
    for (const old of this.#ids) {
      this.#ids.delete(old);
      if (this.#ids.size <= this.#size) break;
    }
  }

  /** True when `id` is remembered. */
  has(id: number): boolean {
    return this.#ids.has(id);
  }
}
