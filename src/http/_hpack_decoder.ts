/**
 * The HPACK decoder of one connection (RFC 7541): indexed fields, literals
 * with and without indexing or never indexed, Huffman-coded strings, and
 * dynamic table size updates at the start of a block. A malformed block
 * throws {@linkcode HpackError} (a COMPRESSION_ERROR of the connection).
 * A header list over the size limit is still decoded to its end, so the
 * table stays in step with the peer's, and reported as too large.
 *
 * @example RFC 7541 C.2.1
 * ```ts
 * import { HpackDecoder } from "./_hpack_decoder.ts";
 * const hex = "400a637573746f6d2d6b65790d637573746f6d2d686561646572";
 * const block = new Uint8Array(hex.match(/../g)!.map((h) => parseInt(h, 16)));
 * const got = new HpackDecoder(4096).decode(block, 0, block.length, 16384);
 * if (got.fields.join() !== "custom-key,custom-header") throw new Error(got.fields.join());
 * ```
 *
 * @module
 */
import { DynamicTable } from "./_hpack_table.ts";
import { huffmanDecode } from "./_hpack_huffman.ts";
import { STATIC_COUNT, STATIC_TABLE } from "./_hpack_static.ts";
import { latin1 } from "./_ascii.ts";

/** A header block HPACK cannot decode. */
export class HpackError extends Error {
  /** @param message what was wrong */
  constructor(message: string) {
    super(`hpack: ${message}`);
    this.name = "HpackError";
  }
}

/** A decoded header block. */
export interface DecodedBlock {
  /** Names and values, alternating: `[name0, value0, name1, value1, …]`. */
  fields: string[];
  /** The header list size (RFC 9113 section 6.5.2): octets plus 32 per field. */
  size: number;
  /** True when the list went over the size limit (`fields` then stops there). */
  tooLarge: boolean;
}

/** Largest integer a field representation may carry. */
const INT_MAX = 0x7fffffff;

/** Decodes the header blocks one peer sends. */
export class HpackDecoder {
  #table: DynamicTable;
  // The largest size the peer may set (our SETTINGS_HEADER_TABLE_SIZE).
  #limit: number;
  #pos = 0;

  /** @param limit the table size this side allows (SETTINGS_HEADER_TABLE_SIZE) */
  constructor(limit: number) {
    this.#limit = limit;
    this.#table = new DynamicTable(limit);
  }

  /** The dynamic table (for tests). */
  get table(): DynamicTable {
    return this.#table;
  }

  /**
   * Decodes the block `buf[start, end)`; fields stop being collected once
   * their list size passes `maxListSize`.
   */
  decode(buf: Uint8Array, start: number, end: number, maxListSize: number): DecodedBlock {
    const fields: string[] = [];
    const table = this.#table;
    let size = 0, tooLarge = false, fieldSeen = false;
    this.#pos = start;
    while (this.#pos < end) {
      const b = buf[this.#pos];
      let name: string, value: string;
      if (b & 0x80) {
        const index = this.#int(buf, end, 7);
        if (index === 0) throw new HpackError("indexed field 0");
        name = this.#name(index);
        value = index <= STATIC_COUNT ? STATIC_TABLE[index][1] : table.value(index - STATIC_COUNT);
      } else if ((b & 0xe0) === 0x20) {
        if (fieldSeen) throw new HpackError("dynamic table size update after a field");
        const max = this.#int(buf, end, 5);
        if (max > this.#limit) throw new HpackError(`table size ${max} over ${this.#limit}`);
        table.resize(max);
        continue;
      } else {
        const incremental = (b & 0xc0) === 0x40;
        const index = this.#int(buf, end, incremental ? 6 : 4);
        name = index === 0 ? this.#string(buf, end) : this.#name(index);
        value = this.#string(buf, end);
        if (incremental) table.add(name, value);
      }
      fieldSeen = true;
      size += name.length + value.length + 32;
      if (size > maxListSize) tooLarge = true;
      if (!tooLarge) fields.push(name, value);
    }
    return { fields, size, tooLarge };
  }

  /** Shrinks or grows the most this side allows (a new SETTINGS_HEADER_TABLE_SIZE once acknowledged). */
  setLimit(limit: number): void {
    this.#limit = limit;
    if (this.#table.max > limit) this.#table.resize(limit);
  }

  #name(index: number): string {
    if (index <= STATIC_COUNT) return STATIC_TABLE[index][0];
    if (index - STATIC_COUNT > this.#table.length) {
      throw new HpackError(`index ${index} past the dynamic table`);
    }
    return this.#table.name(index - STATIC_COUNT);
  }

  // An integer with an `n`-bit prefix at #pos (RFC 7541 section 5.1).
  #int(buf: Uint8Array, end: number, n: number): number {
    const mask = (1 << n) - 1;
    let v = buf[this.#pos++] & mask;
    if (v < mask) return v;
    let shift = 0;
    for (;;) {
      if (this.#pos >= end) throw new HpackError("integer cut short");
      const b = buf[this.#pos++];
      v += (b & 0x7f) * 2 ** shift;
      if (v > INT_MAX) throw new HpackError("integer too large");
      if ((b & 0x80) === 0) return v;
      shift += 7;
    }
  }

  // A string literal at #pos (RFC 7541 section 5.2).
  #string(buf: Uint8Array, end: number): string {
    if (this.#pos >= end) throw new HpackError("string literal missing");
    const huffman = (buf[this.#pos] & 0x80) !== 0;
    const len = this.#int(buf, end, 7);
    const from = this.#pos, to = from + len;
    if (to > end) throw new HpackError("string literal cut short");
    this.#pos = to;
    if (!huffman) return latin1(buf, from, to);
    const s = huffmanDecode(buf, from, to);
    if (s === null) throw new HpackError("malformed Huffman string");
    return s;
  }
}
