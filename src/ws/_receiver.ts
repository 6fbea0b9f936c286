/**
 * The receiving half of the protocol as a state machine over the bytes of
 * the connection: frame headers, unmasking, reassembly of fragments with
 * control frames between them, incremental UTF-8 checks of text (a bad
 * byte fails the message when it arrives, mid-fragment too), size limits
 * and decompression. It does no I/O: the connection pushes what it reads
 * and gets messages, control frames and failures back through a sink.
 *
 * @module
 */
import {
  applyMask,
  isValidCloseCode,
  maskWord,
  MAX_CONTROL,
  OP_BINARY,
  OP_CLOSE,
  OP_CONT,
  OP_PING,
  OP_PONG,
  OP_TEXT,
} from "./_frame.ts";
import type { Deflate } from "./_deflate.ts";
import { isUtf8, Utf8Validator } from "./_utf8.ts";

/** A whole data message: `data` is the text or the bytes. */
export const MESSAGE = 0;
/** A ping: `data` is its payload (answer it with a pong). */
export const PING = 1;
/** A pong: `data` is its payload. */
export const PONG = 2;
/** A valid close frame: its `code` (1005 when it had none) and `reason`. */
export const CLOSE = 3;
/** The peer broke the protocol: close with `code`. */
export const FAIL = 4;

/**
 * Where the receiver sends what it finds, one function for every event
 * (so a connection holds one closure): `MESSAGE`, `PING`, `PONG` carry
 * `data`; `CLOSE` and `FAIL` carry `code` and `reason`.
 */
export type ReceiverSink = (
  event: number,
  data: string | Uint8Array | undefined,
  code: number,
  reason: string,
) => void;

const HEAD = 0, PAYLOAD = 1, DONE = 2;
const strict = new TextDecoder("utf-8", { fatal: true });
const lenient = new TextDecoder("utf-8");

/** Parses what one peer sends; see the module doc. */
export class Receiver {
  readonly #sink: ReceiverSink;
  // Frames from a client must be masked, frames from a server must not.
  readonly #fromClient: boolean;
  readonly #max: number;
  readonly #deflate: Deflate | undefined;

  #state = HEAD;
  // A header split across reads, gathered (made when first needed).
  #head: Uint8Array | undefined;
  #headLen = 0;
  // The frame being read.
  #fin = false;
  #op = 0;
  #key = 0;
  #masked = false;
  #left = 0;
  #phase = 0;
  // The data message being assembled.
  #msgOp = 0;
  #compressed = false;
  #parts: Uint8Array[] | undefined;
  #size = 0;
  #utf8: Utf8Validator | undefined;
  #control: Uint8Array | undefined;
  #controlLen = 0;

  constructor(sink: ReceiverSink, fromClient: boolean, max: number, deflate?: Deflate) {
    this.#sink = sink;
    this.#fromClient = fromClient;
    this.#max = max;
    this.#deflate = deflate;
  }

  /** True once a close frame or a failure ended the stream. */
  get done(): boolean {
    return this.#state === DONE;
  }

  /**
   * Feeds `chunk[0, end)`; the receiver may unmask the bytes in place. A
   * `borrowed` chunk is reused by the caller once `push` returns: what
   * must outlive the call is copied out of it.
   */
  push(chunk: Uint8Array, end: number = chunk.length, borrowed = false): void {
    this.#borrowed = borrowed;
    let pos = 0;
    const n = end;
    while (pos < n && this.#state !== DONE) {
      if (this.#state === HEAD) {
        pos = this.#readHead(chunk, pos, n);
        if (pos < 0) return;
        continue;
      }
      const take = Math.min(this.#left, n - pos);
      const piece = chunk.subarray(pos, pos + take);
      pos += take;
      this.#payload(piece);
    }
  }

  #borrowed = false;

  // Reads a frame header starting at `pos` (the chunk ends at `end`);
  // returns the position after it, or -1 when the chunk ended inside it
  // (the bytes are kept).
  #readHead(chunk: Uint8Array, pos: number, end: number): number {
    const avail = end - pos;
    if (this.#headLen === 0 && avail >= 2) {
      const size = headSize(chunk[pos + 1]);
      if (avail >= size) {
        if (!this.#frameStart(chunk, pos)) return -1;
        if (this.#left === 0) this.#frameEnd();
        return pos + size;
      }
    }
    // The header spans reads: gather it.
    const head = this.#head ??= new Uint8Array(14);
    while (pos < end) {
      head[this.#headLen++] = chunk[pos++];
      if (this.#headLen >= 2 && this.#headLen === headSize(head[1])) break;
    }
    if (this.#headLen < 2 || this.#headLen < headSize(head[1])) return -1;
    this.#headLen = 0;
    if (!this.#frameStart(head, 0)) return -1;
    if (this.#left === 0) this.#frameEnd();
    return pos;
  }

  // Checks the header at h[at]; false after a failure.
  #frameStart(h: Uint8Array, at: number): boolean {
    const b0 = h[at], b1 = h[at + 1];
    const fin = (b0 & 0x80) !== 0, rsv1 = (b0 & 0x40) !== 0, op = b0 & 0x0f;
    if ((b0 & 0x30) !== 0) return this.#fail(1002, "reserved bits set");
    const masked = (b1 & 0x80) !== 0;
    if (masked !== this.#fromClient) {
      return this.#fail(1002, masked ? "masked frame from server" : "unmasked frame from client");
    }
    let len = b1 & 0x7f, p = at + 2;
    if (len === 126) {
      len = (h[p] << 8) | h[p + 1];
      p += 2;
    } else if (len === 127) {
      const hi = ((h[p] << 24) | (h[p + 1] << 16) | (h[p + 2] << 8) | h[p + 3]) >>> 0;
      const lo = ((h[p + 4] << 24) | (h[p + 5] << 16) | (h[p + 6] << 8) | h[p + 7]) >>> 0;
      if (hi & 0x80000000) return this.#fail(1002, "64-bit length with the top bit set");
      if (hi >= 0x200000) return this.#fail(1009, "frame longer than 2^53 bytes");
      len = hi * 0x100000000 + lo;
      p += 8;
    }
    if (masked) this.#key = maskWord(h, p);
    if (op >= OP_CLOSE) {
      if (op > OP_PONG) return this.#fail(1002, `reserved opcode ${op}`);
      if (!fin) return this.#fail(1002, "fragmented control frame");
      if (len > MAX_CONTROL) return this.#fail(1002, "control frame longer than 125 bytes");
      if (rsv1) return this.#fail(1002, "RSV1 on a control frame");
      this.#controlLen = 0;
      this.#control = len > 0 ? new Uint8Array(len) : undefined;
    } else if (op === OP_CONT) {
      if (this.#msgOp === 0) return this.#fail(1002, "continuation without a message");
      if (rsv1) return this.#fail(1002, "RSV1 on a continuation frame");
    } else {
      if (op !== OP_TEXT && op !== OP_BINARY) return this.#fail(1002, `reserved opcode ${op}`);
      if (this.#msgOp !== 0) return this.#fail(1002, "new message inside a fragmented one");
      if (rsv1 && !this.#deflate) return this.#fail(1002, "RSV1 set without compression");
      this.#msgOp = op;
      this.#compressed = rsv1;
      this.#size = 0;
      this.#utf8 = undefined;
    }
    if (op < OP_CLOSE) {
      if (this.#size + len > this.#max) {
        return this.#fail(1009, `message longer than ${this.#max} bytes`);
      }
      this.#size += len;
    }
    this.#fin = fin;
    this.#op = op;
    this.#masked = masked;
    this.#left = len;
    this.#phase = 0;
    this.#state = PAYLOAD;
    return true;
  }

  #payload(piece: Uint8Array): void {
    if (this.#masked) applyMask(piece, 0, piece.length, this.#key, this.#phase);
    this.#phase += piece.length;
    this.#left -= piece.length;
    if (this.#op >= OP_CLOSE) {
      this.#control!.set(piece, this.#controlLen);
      this.#controlLen += piece.length;
    } else if (
      this.#left === 0 && this.#fin && this.#parts === undefined && this.#phase === piece.length
    ) {
      // The common case: a whole message in one piece.
      this.#msgOp = 0;
      this.#state = HEAD;
      this.#deliver(this.#op, this.#compressed, piece, false, this.#borrowed);
      return;
    } else {
      if (this.#msgOp === OP_TEXT && !this.#compressed) {
        const v = this.#utf8 ??= new Utf8Validator();
        if (v.feed(piece) !== -1) {
          this.#fail(1007, "invalid UTF-8 in a text message");
          return;
        }
      }
      if (this.#borrowed) this.#keep(piece);
      else (this.#parts ??= []).push(piece);
    }
    if (this.#left === 0) this.#frameEnd();
  }

  // A frame up to GATHER_MAX bytes split across borrowed chunks is copied
  // into one buffer of its size (one copy, no concatenation after).
  #gather: Uint8Array | undefined;
  #gathered = 0;

  // Copies a piece of a data frame out of a borrowed chunk.
  #keep(piece: Uint8Array): void {
    let g = this.#gather;
    if (g === undefined) {
      const frameLen = this.#phase + this.#left;
      if (this.#left === 0 || this.#phase !== piece.length || frameLen > GATHER_MAX) {
        (this.#parts ??= []).push(piece.slice());
        return;
      }
      g = this.#gather = new Uint8Array(frameLen);
      this.#gathered = 0;
    }
    g.set(piece, this.#gathered);
    this.#gathered += piece.length;
    if (this.#left === 0) {
      this.#gather = undefined;
      (this.#parts ??= []).push(g);
    }
  }

  #frameEnd(): void {
    this.#state = HEAD;
    const op = this.#op;
    if (op >= OP_CLOSE) {
      const payload = this.#control ? this.#control.subarray(0, this.#controlLen) : EMPTY;
      this.#control = undefined;
      if (op === OP_PING) this.#sink(PING, payload, 0, "");
      else if (op === OP_PONG) this.#sink(PONG, payload, 0, "");
      else this.#closeFrame(payload);
      return;
    }
    if (!this.#fin) return;
    const parts = this.#parts ?? [];
    this.#parts = undefined;
    const msgOp = this.#msgOp;
    this.#msgOp = 0;
    if (msgOp === OP_TEXT && !this.#compressed && this.#utf8 && !this.#utf8.complete) {
      this.#fail(1007, "text message ends inside a UTF-8 sequence");
      return;
    }
    this.#deliver(msgOp, this.#compressed, concat(parts, this.#size), this.#utf8 !== undefined);
  }

  // `borrowed`: `data` is a view of a borrowed chunk.
  #deliver(
    op: number,
    compressed: boolean,
    data: Uint8Array,
    checked: boolean,
    borrowed = false,
  ): void {
    if (compressed) {
      const out = this.#deflate!.decompress(data, this.#max);
      if (out === "too_big") {
        this.#fail(1009, `message longer than ${this.#max} bytes`);
        return;
      }
      if (out === "invalid") {
        this.#fail(1007, "invalid compressed data");
        return;
      }
      data = out;
    }
    if (op === OP_BINARY) {
      this.#sink(MESSAGE, borrowed && !compressed ? data.slice() : data, 0, "");
      return;
    }
    if (checked) {
      this.#sink(MESSAGE, lenient.decode(data), 0, "");
      return;
    }
    let text: string;
    try {
      text = strict.decode(data);
    } catch {
      this.#fail(1007, "invalid UTF-8 in a text message");
      return;
    }
    this.#sink(MESSAGE, text, 0, "");
  }

  #closeFrame(payload: Uint8Array): void {
    this.#state = DONE;
    if (payload.length === 0) {
      this.#sink(CLOSE, undefined, 1005, "");
      return;
    }
    if (payload.length === 1) {
      this.#fail(1002, "close frame with a 1-byte payload");
      return;
    }
    const code = (payload[0] << 8) | payload[1];
    if (!isValidCloseCode(code)) {
      this.#fail(1002, `invalid close code ${code}`);
      return;
    }
    const reason = payload.subarray(2);
    if (!isUtf8(reason)) {
      this.#fail(1007, "close reason is not UTF-8");
      return;
    }
    this.#sink(CLOSE, undefined, code, lenient.decode(reason));
  }

  #fail(code: number, reason: string): false {
    this.#state = DONE;
    this.#parts = this.#gather = undefined;
    this.#sink(FAIL, undefined, code, reason);
    return false;
  }
}

const EMPTY = new Uint8Array(0);
const GATHER_MAX = 64 * 1024;

// The size of a frame header, from its second byte.
function headSize(b1: number): number {
  const len = b1 & 0x7f;
  return 2 + (len === 126 ? 2 : len === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  if (parts.length === 0) return EMPTY;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
