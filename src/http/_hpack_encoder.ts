/**
 * The HPACK encoder of one connection (RFC 7541): static-table matches
 * are indexed, other fields are literals with incremental indexing (or
 * without indexing, for values that change every time or should stay
 * out of the table), strings Huffman-coded when that is shorter. A
 * table size the peer lowered is announced at the start of the next
 * block.
 *
 * @example RFC 7541 C.5.1 (first response, no Huffman, a 256-byte table)
 * ```ts
 * import { HpackEncoder } from "./_hpack_encoder.ts";
 * const enc = new HpackEncoder(256, { huffman: false, unindexed: new Set() });
 * const out: number[] = [];
 * enc.encode([[":status", "302"], ["cache-control", "private"]], out);
 * if (out[0] !== 0x48 || out[1] !== 3) throw new Error(out.join());
 * ```
 *
 * @module
 */
import { DynamicTable } from "./_hpack_table.ts";
import { huffmanEncode, huffmanLength } from "./_hpack_huffman.ts";
import { STATIC_COUNT, staticIndex, staticName } from "./_hpack_static.ts";

/** Fields whose values are sent without indexing by default: they change per response or are sensitive. */
const UNINDEXED: ReadonlySet<string> = new Set([
  "date",
  "content-length",
  "content-range",
  "etag",
  "last-modified",
  "set-cookie",
  "location",
  "authorization",
]);

/** The most table size this encoder uses, whatever the peer allows. */
const OWN_MAX = 4096;

/** Encodes the header blocks one side sends. */
export class HpackEncoder {
  #table: DynamicTable;
  #huffman: boolean;
  #unindexed: ReadonlySet<string>;
  // Absolute insertion number of each entry still in the table, by "name\0value".
  #where = new Map<string, number>();
  // The smallest table size set since the last block, and the last one (-1: none).
  #lowest = -1;
  #pendingSize = -1;

  /**
   * @param max the table size to use (the peer's SETTINGS_HEADER_TABLE_SIZE, at most 4096 is used)
   * @param opts `huffman`: code strings when shorter (default true); `unindexed`: the names
   *   whose fields stay out of the table (default: date, content-length, set-cookie, …)
   */
  constructor(max = 4096, opts: { huffman?: boolean; unindexed?: ReadonlySet<string> } = {}) {
    this.#table = new DynamicTable(Math.min(max, OWN_MAX));
    this.#huffman = opts.huffman ?? true;
    this.#unindexed = opts.unindexed ?? UNINDEXED;
  }

  /** The dynamic table (for tests). */
  get table(): DynamicTable {
    return this.#table;
  }

  /** The peer's SETTINGS_HEADER_TABLE_SIZE changed: applies it from the next block. */
  setMaxSize(max: number): void {
    const size = Math.min(max, OWN_MAX);
    if (size === this.#table.max && this.#pendingSize === -1) return;
    this.#lowest = this.#lowest === -1 ? size : Math.min(this.#lowest, size);
    this.#pendingSize = size;
  }

  /** Appends the block of `fields` (lower-case names) to `out`. */
  encode(fields: ReadonlyArray<readonly [string, string]>, out: number[]): void {
    const table = this.#table;
    if (this.#pendingSize !== -1) {
      if (this.#lowest < this.#pendingSize) this.#resize(this.#lowest, out);
      this.#resize(this.#pendingSize, out);
      this.#lowest = this.#pendingSize = -1;
    }
    for (let f = 0; f < fields.length; f++) {
      const name = fields[f][0], value = fields[f][1];
      const s = staticIndex(name, value);
      if (s !== 0) {
        int(s, 7, 0x80, out);
        continue;
      }
      const key = name + "\0" + value;
      const at = this.#where.get(key);
      if (at !== undefined && at > table.inserted - table.length) {
        int(table.inserted - at + 1 + STATIC_COUNT, 7, 0x80, out);
        continue;
      }
      const index = staticName(name);
      const indexed = !this.#unindexed.has(name) &&
        name.length + value.length + 32 <= table.max >> 1;
      if (indexed) int(index, 6, 0x40, out);
      else int(index, 4, name === "set-cookie" || name === "authorization" ? 0x10 : 0, out);
      if (index === 0) this.#string(name, out);
      this.#string(value, out);
      if (indexed) {
        table.add(name, value);
        this.#where.set(key, table.inserted);
        if (this.#where.size > 4 * table.length + 16) this.#prune();
      }
    }
  }

  #resize(size: number, out: number[]): void {
    this.#table.resize(size);
    int(size, 5, 0x20, out);
    this.#prune();
  }

  // Forgets the entries evicted from the table.
  #prune(): void {
    const oldest = this.#table.inserted - this.#table.length;
    for (const [key, at] of this.#where) if (at <= oldest) this.#where.delete(key);
  }

  #string(s: string, out: number[]): void {
    if (this.#huffman && s.length > 2) {
      const n = huffmanLength(s);
      if (n < s.length) {
        int(n, 7, 0x80, out);
        huffmanEncode(s, out);
        return;
      }
    }
    int(s.length, 7, 0, out);
    for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i) & 0xff);
  }
}

// An integer with an `n`-bit prefix, the prefix's other bits `flags` (RFC 7541 section 5.1).
function int(v: number, n: number, flags: number, out: number[]): void {
  const max = (1 << n) - 1;
  if (v < max) {
    out.push(flags | v);
    return;
  }
  out.push(flags | max);
  v -= max;
  while (v >= 128) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}
