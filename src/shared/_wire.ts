/**
 * The shared dictionary's socket protocol (process workers to the
 * supervisor): one frame per request and per reply (see ../shared/_frames.ts),
 * matched by a request id so a client may have many in flight.
 *
 * Request: op u8, id u32, ttl f64, by f64, key length u16, key, value
 * type u8, value. Reply: id u32, kind u8, payload.
 *
 * @module
 */
import type { Value } from "./_table.ts";

/** Operations. */
export const OP_GET = 1, OP_SET = 2, OP_ADD = 3, OP_INCR = 4, OP_DELETE = 5;
/** Operations. */
export const OP_ENTRIES = 6, OP_CLEAR = 7, OP_OPEN = 8;

/** Reply kinds. */
export const R_NONE = 0, R_STRING = 1, R_BYTES = 2, R_NUMBER = 3, R_TRUE = 4, R_FALSE = 5;
/** Reply kinds. */
export const R_ERROR = 6, R_JSON = 7;

const V_NONE = 0, V_STRING = 1, V_BYTES = 2, V_NUMBER = 3;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A decoded request. */
export interface Request {
  op: number;
  id: number;
  ttl: number;
  by: number;
  key: string;
  value: Value | undefined;
}

/** Encodes a request as a frame (length prefix included). */
export function encodeRequest(
  op: number,
  id: number,
  key: string,
  value?: Value,
  ttl = 0,
  by = 0,
): Uint8Array {
  const k = encoder.encode(key);
  const v = typeof value === "string"
    ? encoder.encode(value)
    : value instanceof Uint8Array
    ? value
    : undefined;
  const size = 1 + 4 + 8 + 8 + 2 + k.length + 1 + (typeof value === "number" ? 8 : v?.length ?? 0);
  const out = new Uint8Array(4 + size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, size, true);
  out[4] = op;
  dv.setUint32(5, id, true);
  dv.setFloat64(9, ttl, true);
  dv.setFloat64(17, by, true);
  dv.setUint16(25, k.length, true);
  out.set(k, 27);
  let o = 27 + k.length;
  if (typeof value === "number") {
    out[o++] = V_NUMBER;
    dv.setFloat64(o, value, true);
  } else if (v !== undefined) {
    out[o++] = typeof value === "string" ? V_STRING : V_BYTES;
    out.set(v, o);
  } else out[o] = V_NONE;
  return out;
}

/** Decodes a request frame's payload. */
export function decodeRequest(p: Uint8Array): Request {
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const klen = dv.getUint16(21, true);
  const key = decoder.decode(p.subarray(23, 23 + klen));
  let o = 23 + klen;
  const vt = p[o++];
  const value = vt === V_NUMBER
    ? dv.getFloat64(o, true)
    : vt === V_STRING
    ? decoder.decode(p.subarray(o))
    : vt === V_BYTES
    ? p.slice(o)
    : undefined;
  return {
    op: p[0],
    id: dv.getUint32(1, true),
    ttl: dv.getFloat64(5, true),
    by: dv.getFloat64(13, true),
    key,
    value,
  };
}

/** Encodes a reply as a frame. */
export function encodeReply(id: number, result: unknown, error?: Error): Uint8Array {
  let kind: number, body: Uint8Array;
  if (error) {
    kind = R_ERROR;
    body = encoder.encode(JSON.stringify([error.name, error.message]));
  } else if (result === undefined) [kind, body] = [R_NONE, new Uint8Array(0)];
  else if (typeof result === "string") [kind, body] = [R_STRING, encoder.encode(result)];
  else if (result instanceof Uint8Array) [kind, body] = [R_BYTES, result];
  else if (typeof result === "number") {
    kind = R_NUMBER;
    body = new Uint8Array(8);
    new DataView(body.buffer).setFloat64(0, result, true);
  } else if (typeof result === "boolean") {
    [kind, body] = [result ? R_TRUE : R_FALSE, new Uint8Array(0)];
  } else [kind, body] = [R_JSON, encoder.encode(JSON.stringify(result))];
  const out = new Uint8Array(4 + 5 + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 5 + body.length, true);
  dv.setUint32(4, id, true);
  out[8] = kind;
  out.set(body, 9);
  return out;
}

/** Decodes a reply frame's payload: its id and result (or thrown error). */
export function decodeReply(p: Uint8Array): { id: number; result?: unknown; error?: Error } {
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const id = dv.getUint32(0, true);
  const kind = p[4], body = p.subarray(5);
  switch (kind) {
    case R_NONE:
      return { id };
    case R_STRING:
      return { id, result: decoder.decode(body) };
    case R_BYTES:
      return { id, result: body.slice() };
    case R_NUMBER:
      return { id, result: dv.getFloat64(5, true) };
    case R_TRUE:
    case R_FALSE:
      return { id, result: kind === R_TRUE };
    case R_ERROR: {
      const [name, message] = JSON.parse(decoder.decode(body));
      const Ctor = name === "RangeError" ? RangeError : name === "TypeError" ? TypeError : Error;
      return { id, error: new Ctor(message) };
    }
    default:
      return { id, result: JSON.parse(decoder.decode(body)) };
  }
}
