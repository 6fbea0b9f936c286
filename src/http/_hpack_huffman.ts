/**
 * The HPACK Huffman code (RFC 7541 appendix B). The code is canonical,
 * so the table is kept as the bit length of each of the 257 symbols
 * (256 octets and EOS); codes, the decoding limits and the symbol order
 * are derived from it once.
 *
 * @example
 * ```ts
 * import { huffmanDecode, huffmanEncode, huffmanLength } from "./_hpack_huffman.ts";
 * const out: number[] = [];
 * huffmanEncode("www.example.com", out);
 * if (out.length !== huffmanLength("www.example.com")) throw new Error("length");
 * if (huffmanDecode(new Uint8Array(out), 0, out.length) !== "www.example.com") throw new Error("round trip");
 * ```
 *
 * @module
 */

// Bit length of symbol i is LENGTHS.charCodeAt(i) - 92 ("a" is 5 bits).
const LENGTHS = "isxxxxxxxtzxxzxxxxxxxxzxxxxxxxxxbffhibdgffdgdbbbaaabbbbbbbcdkbhfibcccccccccccc" +
  "ccccccccccdcdioijbkabababbbaccbbbabcbaabccccckgjixprpprrrsrssssststtrstssssqrsrsstrqprrssqs" +
  "rrtqrssqqrqsrssprrrsrrsvvporsruvvvwwvtuoqvwwvwtqqvvxwwwptpqrqqsrruuttvsvwvvwwwwwxwwwwwvz";

const EOS = 256;
const LEN = new Uint8Array(257);
const CODE = new Uint32Array(257);
/** Symbols sorted by (length, symbol): the canonical order. */
const SORTED = new Uint16Array(257);
/** For each length: the first code, and the index of its first symbol in SORTED. */
const FIRST_CODE = new Int32Array(32).fill(-1);
const FIRST_AT = new Int32Array(32);
const COUNT = new Int32Array(32);

(() => {
  for (let i = 0; i < 257; i++) LEN[i] = LENGTHS.charCodeAt(i) - 92;
  const order = Array.from({ length: 257 }, (_, i) => i).sort((a, b) => LEN[a] - LEN[b] || a - b);
  let code = 0, prev = LEN[order[0]];
  for (let k = 0; k < order.length; k++) {
    const s = order[k], len = LEN[s];
    if (k > 0) code = (code + 1) << (len - prev);
    prev = len;
    CODE[s] = code;
    SORTED[k] = s;
    if (FIRST_CODE[len] === -1) {
      FIRST_CODE[len] = code;
      FIRST_AT[len] = k;
    }
    COUNT[len]++;
  }
})();

/** The encoded length in bytes of `s` (its chars taken as octets). */
export function huffmanLength(s: string): number {
  let bits = 0;
  for (let i = 0; i < s.length; i++) bits += LEN[s.charCodeAt(i) & 0xff];
  return (bits + 7) >> 3;
}

/** Appends the Huffman coding of `s` (its chars taken as octets) to `out`, padded with EOS bits. */
export function huffmanEncode(s: string, out: number[]): void {
  let acc = 0, bits = 0;
  for (let i = 0; i < s.length; i++) {
    const sym = s.charCodeAt(i) & 0xff;
    const len = LEN[sym], code = CODE[sym];
    // Feed the code in pieces small enough for 32-bit arithmetic.
    let left = len;
    while (left > 0) {
      const take = Math.min(left, 24 - bits);
      const part = (code >>> (left - take)) & ((1 << take) - 1);
      acc = (acc << take) | part;
      bits += take;
      left -= take;
      while (bits >= 8) {
        bits -= 8;
        out.push((acc >>> bits) & 0xff);
      }
      acc &= (1 << bits) - 1;
    }
  }
  if (bits > 0) out.push(((acc << (8 - bits)) | ((1 << (8 - bits)) - 1)) & 0xff);
}

/**
 * Decodes the Huffman-coded `buf[start, end)` into a string of octets;
 * returns `null` when it is not a valid coding (an EOS symbol, padding
 * longer than 7 bits or not all ones): a COMPRESSION_ERROR.
 */
export function huffmanDecode(buf: Uint8Array, start: number, end: number): string | null {
  let s = "";
  let code = 0, len = 0;
  for (let i = start; i < end; i++) {
    const byte = buf[i];
    for (let bit = 7; bit >= 0; bit--) {
      code = (code << 1) | ((byte >> bit) & 1);
      len++;
      if (len < 5) continue;
      const first = FIRST_CODE[len];
      if (first !== -1 && code - first < COUNT[len] && code >= first) {
        const sym = SORTED[FIRST_AT[len] + code - first];
        if (sym === EOS) return null;
        s += String.fromCharCode(sym);
        code = 0;
        len = 0;
      } else if (len >= 30) return null;
    }
  }
  // What is left is padding: at most 7 bits, all ones (a prefix of EOS).
  if (len > 7 || code !== (1 << len) - 1) return null;
  return s;
}
