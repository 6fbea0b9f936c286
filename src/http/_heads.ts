/**
 * Finding request heads in a connection's input: the empty lines allowed
 * before a request, the search for the blank line that ends a head
 * (resumed where it stopped, so a head that arrives in pieces is scanned
 * once), the early check of a partial head, and the parse. Every position
 * kept here counts from the first unread byte of the input, since a wait
 * may move the unread bytes.
 *
 * @module
 */
import type { Input } from "./_input.ts";
import type { HttpLimits } from "./limits.ts";
import {
  checkHeadPrefix,
  findHeadEnd,
  leadingBlankLines,
  parseHead,
  type RequestHead,
} from "./_parser.ts";
import { HttpError } from "./status.ts";

/** Most bytes of empty lines (CRLF) accepted before a request line; more gets 400. */
const BLANK_MAX = 8;

/** The request heads of one connection's input. */
export class HeadScanner {
  #input: Input;
  #limits: HttpLimits;
  // Bytes of empty lines skipped since the last request head: while not
  // 0, a request has begun, and the header timeout applies, not the idle one.
  #blank = 0;
  // How many unread bytes were already searched for the head's end, and
  // checked (see checkHeadPrefix).
  #scanned = 0;
  #checked = 0;

  /**
   * @param input the connection's input
   * @param limits the server's limits
   */
  constructor(input: Input, limits: HttpLimits) {
    this.#input = input;
    this.#limits = limits;
  }

  /** True once a request has begun (empty lines before it were skipped). */
  get begun(): boolean {
    return this.#blank !== 0;
  }

  /**
   * A complete request head already received, parsed and consumed;
   * `undefined` when more input is needed. Searches all unread bytes.
   */
  buffered(): RequestHead | undefined {
    const input = this.#input;
    if (input.available === 0) return undefined;
    if (this.#skipBlankLines()) return undefined;
    const end = findHeadEnd(input.buf, input.start, input.start, input.end, this.#limits);
    return end === -1 ? undefined : this.#parse(end);
  }

  /** Forgets how far the unread bytes were searched (a new request starts). */
  restart(): void {
    this.#scanned = this.#checked = 0;
  }

  /**
   * Like {@linkcode HeadScanner.buffered}, resuming the search where the
   * last call stopped, and checking the partial head so far: bad input
   * fails at once, not when the head is complete.
   */
  scan(): RequestHead | undefined {
    const input = this.#input;
    if (input.available === 0) return undefined;
    const before = input.available;
    const emptied = this.#skipBlankLines();
    if (input.available !== before) this.restart();
    if (emptied) return undefined;
    const start = input.start, limits = this.#limits;
    const end = findHeadEnd(input.buf, start, start + this.#scanned, input.end, limits);
    if (end !== -1) return this.#parse(end);
    this.#checked = checkHeadPrefix(input.buf, start, input.end, this.#checked, limits);
    this.#scanned = input.available;
    return undefined;
  }

  // Skips the empty lines before a request, up to BLANK_MAX bytes of
  // them; true when nothing else is left to read.
  #skipBlankLines(): boolean {
    const input = this.#input;
    const blank = leadingBlankLines(input.buf, input.start, input.end);
    if (blank === 0) return false;
    this.#blank += blank;
    if (this.#blank > BLANK_MAX) throw new HttpError(400, "too many empty lines before a request");
    input.skip(blank);
    return input.available === 0;
  }

  #parse(end: number): RequestHead {
    const input = this.#input;
    const head = parseHead(input.buf, input.start, end, this.#limits);
    input.skip(end - input.start);
    this.#blank = 0;
    return head;
  }
}
