/**
 * The chunked transfer coding: an incremental decoder reading request
 * bodies from connection input (chunk extensions checked against the
 * RFC 9112 §7.1.1 grammar and skipped, trailers parsed and kept, sizes
 * bounded by the body limit, whatever their number of digits) and the
 * encoder's framing.
 *
 * @module
 */
import { latin1, skipOws, skipToken, TCHAR } from "./_ascii.ts";
import type { Input } from "./_input.ts";
import { HttpError } from "./status.ts";

const CR = 13, LF = 10, SP = 32, HT = 9, DQUOTE = 0x22, SEMI = 0x3b, EQUALS = 0x3d;
/** Longest chunk-size line, extensions included. */
const MAX_SIZE_LINE = 4096;
const SIZE = 0, DATA = 1, DATA_END = 2, TRAILER = 3, DONE = 4;

function bad(what: string): never {
  throw new HttpError(400, what);
}

/**
 * Decodes one chunked body from an {@linkcode Input}. Each call to
 * {@linkcode ChunkedDecoder.read} returns the next piece of data, or
 * `null` after the last chunk and its trailers.
 */
export class ChunkedDecoder {
  #state = SIZE;
  #remaining = 0;
  #total = 0;
  #trailerBytes = 0;
  #limit: number;
  #trailerLimit: number;
  /** Trailer fields received after the last chunk, as `[name, value]` (names lower-case). */
  readonly trailers: [string, string][] = [];

  /**
   * @param maxBodyBytes the body limit (413 beyond it)
   * @param maxTrailerBytes the limit on trailer bytes (431 beyond it)
   */
  constructor(maxBodyBytes: number, maxTrailerBytes: number) {
    this.#limit = maxBodyBytes;
    this.#trailerLimit = maxTrailerBytes;
  }

  /** True after the last chunk and the trailers. */
  get done(): boolean {
    return this.#state === DONE;
  }

  /**
   * Returns the next piece of body data, or `null` at the end. `more`
   * waits for input and resolves false at end of stream.
   */
  async read(input: Input, more: () => Promise<boolean>): Promise<Uint8Array | null> {
    for (;;) {
      switch (this.#state) {
        case SIZE: {
          const lineEnd = this.#line(input, MAX_SIZE_LINE, "chunk size line");
          if (lineEnd === -1) break;
          this.#remaining = this.#parseSize(input.buf, input.start, lineEnd - 1);
          input.skip(lineEnd + 1 - input.start);
          this.#state = this.#remaining === 0 ? TRAILER : DATA;
          continue;
        }
        case DATA: {
          if (input.available === 0) break;
          const data = input.take(this.#remaining);
          this.#remaining -= data.length;
          if (this.#remaining === 0) this.#state = DATA_END;
          return data;
        }
        case DATA_END: {
          if (input.available < 2) {
            if (input.available === 1 && input.buf[input.start] !== CR) {
              bad("chunk data not followed by CRLF");
            }
            break;
          }
          if (input.buf[input.start] !== CR || input.buf[input.start + 1] !== LF) {
            bad("chunk data not followed by CRLF");
          }
          input.skip(2);
          this.#state = SIZE;
          continue;
        }
        case TRAILER: {
          const lineEnd = this.#line(input, this.#trailerLimit - this.#trailerBytes, "trailer");
          if (lineEnd === -1) break;
          const s = input.start;
          this.#trailerBytes += lineEnd + 1 - s;
          if (lineEnd - 1 === s) {
            input.skip(2);
            this.#state = DONE;
            return null;
          }
          this.#trailer(input.buf, s, lineEnd - 1);
          input.skip(lineEnd + 1 - s);
          continue;
        }
        case DONE:
          return null;
      }
      if (!(await more())) bad("body ended before the last chunk");
    }
  }

  // Index of the LF ending the line at input.start (checked to follow a
  // CR), or -1 when the line is incomplete.
  #line(input: Input, max: number, what: string): number {
    const { buf, start, end } = input;
    const lf = buf.subarray(start, Math.min(end, start + max + 1)).indexOf(LF);
    if (lf === -1) {
      if (end - start > max) {
        if (what === "trailer") throw new HttpError(431, "trailer fields too large");
        bad(`${what} too long`);
      }
      return -1;
    }
    if (lf === 0 || buf[start + lf - 1] !== CR) bad(`bare LF in ${what}`);
    return start + lf;
  }

  #parseSize(buf: Uint8Array, s: number, e: number): number {
    let n = 0, i = s;
    for (; i < e; i++) {
      const b = buf[i];
      let d: number;
      if (b >= 0x30 && b <= 0x39) d = b - 0x30;
      else if (b >= 0x61 && b <= 0x66) d = b - 0x57;
      else if (b >= 0x41 && b <= 0x46) d = b - 0x37;
      else break;
      n = n * 16 + d;
    }
    if (i === s) bad("malformed chunk size");
    if (i < e) checkExtensions(buf, i, e);
    if (n > this.#limit - this.#total) {
      throw new HttpError(413, `body larger than ${this.#limit} bytes`);
    }
    this.#total += n;
    return n;
  }

  #trailer(buf: Uint8Array, s: number, e: number): void {
    if (buf[s] === SP || buf[s] === HT) bad("obsolete line folding in trailer");
    let i = s;
    while (i < e && TCHAR[buf[i]] === 1) i++;
    if (i === s || buf[i] !== 0x3a) bad("malformed trailer field");
    const name = latin1(buf, s, i).toLowerCase();
    i++;
    while (i < e && (buf[i] === SP || buf[i] === HT)) i++;
    let ve = e;
    while (ve > i && (buf[ve - 1] === SP || buf[ve - 1] === HT)) ve--;
    for (let j = i; j < ve; j++) {
      const b = buf[j];
      if ((b < SP && b !== HT) || b === 0x7f) bad("control character in trailer");
    }
    this.trailers.push([name, latin1(buf, i, ve)]);
  }
}

/**
 * Checks the chunk extensions in `buf[i, e)` (RFC 9112 §7.1.1):
 * `*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )`.
 */
function checkExtensions(buf: Uint8Array, i: number, e: number): void {
  while (i < e) {
    i = skipOws(buf, i, e);
    if (i === e || buf[i] !== SEMI) bad("malformed chunk extension");
    i = skipOws(buf, i + 1, e);
    const name = i;
    i = skipToken(buf, i, e);
    if (i === name) bad("malformed chunk extension");
    const afterName = i;
    i = skipOws(buf, i, e);
    if (i === e || buf[i] !== EQUALS) {
      // No value: only BWS before a following ";".
      if (i === e && i !== afterName) bad("malformed chunk extension");
      continue;
    }
    i = skipOws(buf, i + 1, e);
    if (i < e && buf[i] === DQUOTE) i = skipQuoted(buf, i, e);
    else {
      const value = i;
      i = skipToken(buf, i, e);
      if (i === value) bad("malformed chunk extension");
    }
  }
}

// Index just past the quoted-string starting at `buf[i]` (RFC 9110 §5.6.4).
function skipQuoted(buf: Uint8Array, i: number, e: number): number {
  for (i++; i < e; i++) {
    const b = buf[i];
    if (b === DQUOTE) return i + 1;
    if (b === 0x5c) {
      i++;
      const q = buf[i];
      if (i === e || (q < SP && q !== HT) || q === 0x7f) bad("malformed chunk extension");
    } else if ((b < SP && b !== HT) || b === 0x7f) bad("control character in chunk extension");
  }
  bad("unterminated quoted string in chunk extension");
}

/** The framing line that precedes a chunk of `n` bytes. */
export function chunkPrefix(n: number): string {
  return n.toString(16) + "\r\n";
}

/** The last chunk with no trailers. */
export const LAST_CHUNK = "0\r\n\r\n";
