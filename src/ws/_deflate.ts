/**
 * permessage-deflate (RFC 7692): parsing and negotiating the extension,
 * and compressing and decompressing one message with node:zlib.
 *
 * Each message is compressed on its own (no context takeover on the
 * sending side, which every peer accepts whatever was negotiated), so the
 * compressor keeps no state between messages. The receiving side follows
 * what the peer does: when the peer keeps its context, the last window of
 * received text is handed to zlib as the dictionary of the next message.
 * Decompression stops at the message size limit (zlib `maxOutputLength`),
 * so a small bomb cannot grow into a large buffer.
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
  /** The peer resets its context after each message. */
  peerNoContextTakeover: boolean;
}

/** Options of compression, as `compress` in the accept and connect options. */
export interface CompressOptions {
  /** Messages shorter than this many bytes are sent uncompressed (default 128). */
  threshold?: number;
  /** Ask the peer to compress each message on its own (saves memory on both sides). */
  noContextTakeover?: boolean;
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
  opts: CompressOptions,
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
    const clientReset = p.has("client_no_context_takeover") || opts.noContextTakeover === true;
    if (clientReset) response += "; client_no_context_takeover";
    if (serverBits !== undefined) response += `; server_max_window_bits=${serverBits}`;
    return {
      response,
      params: {
        sendWindowBits: serverBits === undefined ? 15 : serverBits === 8 ? 0 : serverBits,
        peerNoContextTakeover: clientReset,
      },
    };
  }
  return undefined;
}

/** Client side: the offer sent in the handshake. */
export function clientOffer(opts: CompressOptions): string {
  let offer = "permessage-deflate; client_max_window_bits";
  if (opts.noContextTakeover) offer += "; server_no_context_takeover";
  return offer;
}

/**
 * Client side: checks the server's answer to {@linkcode clientOffer};
 * returns the agreed parameters, or a reason to fail the handshake.
 */
export function checkAnswer(
  answers: ExtensionOffer[],
  opts: CompressOptions,
): DeflateParams | string | undefined {
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
  if (opts.noContextTakeover && !p.has("server_no_context_takeover")) {
    return "server_no_context_takeover was asked for and not agreed";
  }
  const bits = clientBits ?? 15;
  return {
    sendWindowBits: bits === 8 ? 0 : bits,
    peerNoContextTakeover: p.has("server_no_context_takeover"),
  };
}

/** Why a message could not be decompressed. */
export type InflateFailure = "too_big" | "invalid";

/** The compressor and decompressor of one connection. */
export class Deflate {
  readonly threshold: number;
  readonly #sendBits: number;
  readonly #keep: boolean;
  // The last window of received text, when the peer keeps its context.
  #history: Uint8Array | undefined;
  #historyLen = 0;

  constructor(params: DeflateParams, opts: CompressOptions) {
    this.threshold = params.sendWindowBits === 0 ? Infinity : opts.threshold ?? 128;
    this.#sendBits = params.sendWindowBits;
    this.#keep = !params.peerNoContextTakeover;
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
        ...(this.#keep && this.#historyLen > 0
          ? { dictionary: this.#history!.subarray(0, this.#historyLen) }
          : {}),
      });
    } catch (err) {
      return (err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE" ? "too_big" : "invalid";
    }
    const bytes = new Uint8Array(out.buffer, out.byteOffset, out.length);
    if (bytes.length > max) return "too_big";
    if (this.#keep) this.#remember(bytes);
    return bytes;
  }

  // Keeps the last 32 KiB of what was received (the largest window).
  #remember(bytes: Uint8Array): void {
    const WINDOW = 32768;
    if (bytes.length >= WINDOW) {
      this.#history ??= new Uint8Array(WINDOW);
      this.#history.set(bytes.subarray(bytes.length - WINDOW));
      this.#historyLen = WINDOW;
      return;
    }
    const h = this.#history ??= new Uint8Array(WINDOW);
    const keep = Math.min(this.#historyLen, WINDOW - bytes.length);
    if (keep < this.#historyLen) h.copyWithin(0, this.#historyLen - keep, this.#historyLen);
    h.set(bytes, keep);
    this.#historyLen = keep + bytes.length;
  }
}
