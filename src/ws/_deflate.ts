/**
 * permessage-deflate (RFC 7692): parsing and negotiating the extension,
 * and compressing and decompressing one message with node:zlib.
 *
 * Every message is compressed and decompressed on its own, with the
 * one-shot `deflateRawSync`/`inflateRawSync`: the server always answers
 * with `client_no_context_takeover` (RFC 7692 §7.1.1.2 lets it), the
 * client always offers `server_no_context_takeover`, and our own
 * compressor never keeps a context (always allowed). So no zlib state
 * lives between messages, and an idle connection holds none. The price is
 * a lower ratio for runs of small, similar messages. Decompression stops
 * at the message size limit (zlib `maxOutputLength`), so a small bomb
 * cannot grow into a large buffer.
 *
 * @module
 */
import zlib from "node:zlib";
import type { Buffer } from "node:buffer";

const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);
const SYNC = zlib.constants.Z_SYNC_FLUSH;

/** One extension of a `Sec-WebSocket-Extensions` header, with its parameters. */
export interface ExtensionOffer {
  /** The extension's name, lower case. */
  name: string;
  /** Parameters; a parameter without a value maps to `true`. */
  params: Map<string, string | true>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Parses `Sec-WebSocket-Extensions` values (RFC 6455 §9.1); returns
 * `undefined` when the syntax is broken.
 */
export function parseExtensions(values: string[]): ExtensionOffer[] | undefined {
  const out: ExtensionOffer[] = [];
  for (const value of values) {
    let i = 0;
    const n = value.length;
    const skip = () => {
      while (i < n && (value[i] === " " || value[i] === "\t")) i++;
    };
    const token = (): string | undefined => {
      const start = i;
      while (i < n && !' \t,;="'.includes(value[i])) i++;
      const t = value.slice(start, i);
      return TOKEN.test(t) ? t : undefined;
    };
    for (;;) {
      skip();
      if (i >= n) break;
      if (value[i] === ",") {
        i++;
        continue;
      }
      const name = token();
      if (name === undefined) return undefined;
      const params = new Map<string, string | true>();
      skip();
      while (value[i] === ";") {
        i++;
        skip();
        const key = token();
        if (key === undefined) return undefined;
        skip();
        let v: string | true = true;
        if (value[i] === "=") {
          i++;
          skip();
          if (value[i] === '"') {
            const end = value.indexOf('"', i + 1);
            if (end < 0) return undefined;
            v = value.slice(i + 1, end);
            i = end + 1;
            if (!TOKEN.test(v)) return undefined;
          } else {
            const t = token();
            if (t === undefined) return undefined;
            v = t;
          }
          skip();
        }
        const lower = key.toLowerCase();
        if (params.has(lower)) return undefined;
        params.set(lower, v);
      }
      out.push({ name: name.toLowerCase(), params });
      if (i < n && value[i] !== ",") return undefined;
    }
  }
  return out;
}

/** What was agreed for one connection. */
export interface DeflateParams {
  /** The window of our compressor; 0: never compress (the peer asked for 8 bits). */
  sendWindowBits: number;
}

/** Options of compression, as `compress` in the accept and connect options. */
export interface CompressOptions {
  /** Messages shorter than this many bytes are sent uncompressed (default 128). */
  threshold?: number;
}

function windowBits(v: string | true | undefined, allowBare: boolean): number | undefined | null {
  if (v === undefined) return undefined;
  if (v === true) return allowBare ? undefined : null;
  if (!/^(8|9|1[0-5])$/.test(v)) return null;
  return Number(v);
}

const KNOWN = new Set([
  "server_no_context_takeover",
  "client_no_context_takeover",
  "server_max_window_bits",
  "client_max_window_bits",
]);

/**
 * Server side: picks the first acceptable permessage-deflate offer.
 * Returns the response value and the agreed parameters, or `undefined`
 * when no offer is acceptable (the connection goes on uncompressed).
 */
export function acceptOffer(
  offers: ExtensionOffer[],
): { response: string; params: DeflateParams } | undefined {
  for (const offer of offers) {
    if (offer.name !== "permessage-deflate") continue;
    const p = offer.params;
    if ([...p.keys()].some((k) => !KNOWN.has(k))) continue;
    if (p.has("server_no_context_takeover") && p.get("server_no_context_takeover") !== true) {
      continue;
    }
    if (p.has("client_no_context_takeover") && p.get("client_no_context_takeover") !== true) {
      continue;
    }
    const serverBits = windowBits(p.get("server_max_window_bits"), false);
    const clientBits = windowBits(p.get("client_max_window_bits"), true);
    if (serverBits === null || clientBits === null) continue;
    let response = "permessage-deflate";
    if (p.has("server_no_context_takeover")) response += "; server_no_context_takeover";
    // Each client message is decompressed on its own.
    response += "; client_no_context_takeover";
    if (serverBits !== undefined) response += `; server_max_window_bits=${serverBits}`;
    return {
      response,
      params: { sendWindowBits: serverBits === undefined ? 15 : serverBits === 8 ? 0 : serverBits },
    };
  }
  return undefined;
}

/** Client side: the offer sent in the handshake. */
export function clientOffer(): string {
  return "permessage-deflate; server_no_context_takeover; client_max_window_bits";
}

/**
 * Client side: checks the server's answer to {@linkcode clientOffer};
 * returns the agreed parameters, or a reason to fail the handshake.
 */
export function checkAnswer(answers: ExtensionOffer[]): DeflateParams | string | undefined {
  if (answers.length === 0) return undefined;
  if (answers.length > 1 || answers[0].name !== "permessage-deflate") {
    return `unexpected extension "${answers[0].name}"`;
  }
  const p = answers[0].params;
  for (const [k, v] of p) {
    if (!KNOWN.has(k)) return `unknown permessage-deflate parameter "${k}"`;
    if (k.endsWith("_takeover") && v !== true) return `bad value of ${k}`;
  }
  const serverBits = windowBits(p.get("server_max_window_bits"), false);
  const clientBits = windowBits(p.get("client_max_window_bits"), false);
  if (serverBits === null || clientBits === null) return "bad max_window_bits";
  if (!p.has("server_no_context_takeover")) {
    return "server_no_context_takeover was offered and not agreed";
  }
  const bits = clientBits ?? 15;
  return { sendWindowBits: bits === 8 ? 0 : bits };
}

/** Why a message could not be decompressed. */
export type InflateFailure = "too_big" | "invalid";

/** The compressor and decompressor of one connection. */
export class Deflate {
  readonly threshold: number;
  readonly #sendBits: number;

  constructor(params: DeflateParams, opts: CompressOptions) {
    this.threshold = params.sendWindowBits === 0 ? Infinity : opts.threshold ?? 128;
    this.#sendBits = params.sendWindowBits;
  }

  /** The payload of a compressed message (RFC 7692 §7.2.1). */
  compress(data: Uint8Array): Uint8Array {
    const out = zlib.deflateRawSync(data, { windowBits: this.#sendBits, finishFlush: SYNC });
    // A sync flush ends with an empty stored block: 00 00 ff ff, dropped.
    return new Uint8Array(out.buffer, out.byteOffset, out.length - 4);
  }

  /**
   * Decompresses one message of at most `max` bytes; a failure says
   * whether it was too large or not valid DEFLATE data.
   */
  decompress(payload: Uint8Array, max: number): Uint8Array | InflateFailure {
    const input = new Uint8Array(payload.length + 4);
    input.set(payload);
    input.set(TAIL, payload.length);
    let out: Buffer;
    try {
      out = zlib.inflateRawSync(input, {
        windowBits: 15,
        finishFlush: SYNC,
        maxOutputLength: Math.max(1, max),
      });
    } catch (err) {
      return (err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE" ? "too_big" : "invalid";
    }
    if (out.length > max) return "too_big";
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  }
}
