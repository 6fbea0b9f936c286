/**
 * The HPACK dynamic table (RFC 7541 section 4): entries newest first,
 * each counted as its name's and value's octets plus 32, evicted oldest
 * first to stay within the table's maximum size.
 *
 * @example
 * ```ts
 * import { DynamicTable } from "./_hpack_table.ts";
 * const t = new DynamicTable(4096);
 * t.add("custom-key", "custom-header");
 * if (t.size !== 55 || t.name(1) !== "custom-key") throw new Error("table");
 * ```
 *
 * @module
 */

/** A dynamic table of one direction of a connection. */
export class DynamicTable {
  /** Current size (RFC 7541 section 4.1). */
  size = 0;
  /** Most size allowed now. */
  max: number;
  /** Entries added so far, ever (the encoder's absolute numbering). */
  inserted = 0;
  // Oldest first: entry 1 (the newest) is the last element.
  #names: string[] = [];
  #values: string[] = [];

  /** @param max the initial maximum size */
  constructor(max: number) {
    this.max = max;
  }

  /** Number of entries. */
  get length(): number {
    return this.#names.length;
  }

  /** The name of entry `i` (1 is the newest). */
  name(i: number): string {
    return this.#names[this.#names.length - i];
  }

  /** The value of entry `i` (1 is the newest). */
  value(i: number): string {
    return this.#values[this.#values.length - i];
  }

  /** Adds an entry, evicting as needed (an entry larger than `max` empties the table). */
  add(name: string, value: string): void {
    const size = name.length + value.length + 32;
    this.inserted++;
    if (size > this.max) {
      this.#names.length = this.#values.length = 0;
      this.size = 0;
      return;
    }
    this.#evict(this.max - size);
    this.#names.push(name);
    this.#values.push(value);
    this.size += size;
  }

  /** Sets the maximum size, evicting what no longer fits. */
  resize(max: number): void {
    this.max = max;
    this.#evict(max);
  }

  #evict(room: number): void {
    let n = 0;
    while (this.size > room) {
      this.size -= this.#names[n].length + this.#values[n].length + 32;
      n++;
    }
    if (n > 0) {
      this.#names.splice(0, n);
      this.#values.splice(0, n);
    }
  }
}
