/**
 * RFC 6455 framing: opcodes, close codes, masking and the encoder of one
 * frame (header and payload in one buffer, so a frame is one write).
 *
 * @module
 */

/** Opcodes (RFC 6455 §5.2). */
export const OP_CONT = 0x0, OP_TEXT = 0x1, OP_BINARY = 0x2;
/** Control opcodes. */
export const OP_CLOSE = 0x8, OP_PING = 0x9, OP_PONG = 0xa;

/** Largest payload of a control frame. */
export const MAX_CONTROL = 125;

const encoder = new TextEncoder();

/**
 * True for a close code a peer may send (RFC 6455 §7.4 and the IANA
 * registry): 1000–1003, 1007–1014, and 3000–4999.
 */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999);
}

/** The payload of a close frame: the code (big-endian) and the UTF-8 reason. */
export function closePayload(code: number | undefined, reason: string): Uint8Array {
  if (code === undefined) return new Uint8Array(0);
  const text = encoder.encode(reason);
  const out = new Uint8Array(2 + text.length);
  out[0] = code >> 8;
  out[1] = code & 0xff;
  out.set(text, 2);
  return out;
}

import { scratch } from "./_scratch.ts";

// Whether a Uint32Array sees the bytes of a word in little-endian order.
const LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * The 4-byte masking key at `bytes[at]` as one 32-bit word, in the
 * platform's byte order (the order a `Uint32Array` over the bytes sees).
 */
export function maskWord(bytes: Uint8Array, at: number): number {
  const b0 = bytes[at], b1 = bytes[at + 1], b2 = bytes[at + 2], b3 = bytes[at + 3];
  return LE
    ? (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) >>> 0
    : ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
}

// Key byte `j` (0–3) of a key word.
function keyByte(key: number, j: number): number {
  return (LE ? key >>> (j << 3) : key >>> (24 - (j << 3))) & 0xff;
}

/**
 * XORs `bytes[start, end)` with the masking key `key` (a word from
 * {@linkcode maskWord}), starting at key position `phase` (the payload
 * offset of `bytes[start]`), in place. Aligned stretches go four bytes
 * at a time.
 */
export function applyMask(
  bytes: Uint8Array,
  start: number,
  end: number,
  key: number,
  phase: number,
): void {
  let i = start;
  const base = phase - start;
  if (end - i >= 16) {
    // Bytes up to the first 4-aligned address.
    while (((bytes.byteOffset + i) & 3) !== 0) {
      bytes[i] ^= keyByte(key, (base + i) & 3);
      i++;
    }
    const words = (end - i) >> 2;
    const r = ((base + i) & 3) << 3;
    // The key rotated to start at byte r of the key.
    const word = r === 0
      ? key
      : LE
      ? (key >>> r) | (key << (32 - r))
      : (key << r) | (key >>> (32 - r));
    const view = new Uint32Array(bytes.buffer, bytes.byteOffset + i, words);
    for (let j = 0; j < words; j++) view[j] ^= word;
    i += words << 2;
  }
  for (; i < end; i++) bytes[i] ^= keyByte(key, (base + i) & 3);
}

/** The bytes of a frame with a `len`-byte payload, including alignment padding. */
export function frameSize(len: number, mask: boolean): number {
  const head = 2 + (len < 126 ? 0 : len < 0x10000 ? 2 : 8) + (mask ? 4 : 0);
  return (mask ? (4 - (head & 3)) & 3 : 0) + head + len;
}

/**
 * One frame as bytes: FIN set unless `more`, RSV1 when `rsv1`
 * (compressed), masked with a fresh random key when `mask` (client to
 * server). The payload is copied, never changed.
 */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array,
  mask: boolean,
  rsv1 = false,
  more = false,
): Uint8Array {
  return writeFrame(
    new Uint8Array(frameSize(payload.length, mask)),
    opcode,
    payload,
    mask,
    rsv1,
    more,
  );
}

/**
 * {@linkcode encodeFrame} into `out` (at least
 * {@linkcode frameSize} bytes, 4-aligned): returns the view of `out` that
 * holds the frame.
 */
export function writeFrame(
  out: Uint8Array,
  opcode: number,
  payload: Uint8Array,
  mask: boolean,
  rsv1 = false,
  more = false,
): Uint8Array {
  const len = payload.length;
  const lenBytes = len < 126 ? 0 : len < 0x10000 ? 2 : 8;
  const head = 2 + lenBytes + (mask ? 4 : 0);
  // Start the payload on a 4-aligned offset, so masking goes by words.
  const pad = mask ? (4 - (head & 3)) & 3 : 0;
  out = out.subarray(pad, pad + head + len);
  out[0] = (more ? 0 : 0x80) | (rsv1 ? 0x40 : 0) | opcode;
  const m = mask ? 0x80 : 0;
  if (lenBytes === 0) out[1] = m | len;
  else if (lenBytes === 2) {
    out[1] = m | 126;
    out[2] = len >> 8;
    out[3] = len & 0xff;
  } else {
    out[1] = m | 127;
    const hi = Math.floor(len / 0x100000000);
    const lo = len >>> 0;
    out[2] = 0;
    out[3] = 0;
    out[4] = (hi >> 8) & 0xff;
    out[5] = hi & 0xff;
    out[6] = lo >>> 24;
    out[7] = (lo >>> 16) & 0xff;
    out[8] = (lo >>> 8) & 0xff;
    out[9] = lo & 0xff;
  }
  out.set(payload, head);
  if (mask) {
    // A fresh key from the worker's pool of random bytes.
    const key = scratch.maskKey();
    for (let j = 0; j < 4; j++) out[head - 4 + j] = keyByte(key, j);
    applyMask(out, head, head + len, key, 0);
  }
  return out;
}
