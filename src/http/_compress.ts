/**
 * Response compression: which responses are compressed (text-like types
 * above a size threshold, not already encoded, not `no-transform`, not a
 * partial or HEAD response), the `Content-Encoding`, `Vary` and `ETag`
 * fields of a compressed one, and the coders: `node:zlib`'s one-shot
 * functions for a fixed body, and its streams flushed after every chunk
 * for a streamed body, so each Server-Sent Event reaches the client at
 * once. `node:zlib` (≈ 6 MiB of a process's memory) is loaded with the
 * first response that is compressed, never by a server that compresses
 * none; from then on the coders run synchronously.
 *
 * @module
 */
import type * as Zlib from "node:zlib";
import { equalsLower, latin1 } from "./_ascii.ts";
import { type Encoding, negotiate } from "./_encoding.ts";
import type { RequestHead } from "./_parser.ts";
import { type HeaderList, PushBody, type ResponseBody } from "./response.ts";
import { FileBody } from "./_file_body.ts";

export type { Encoding } from "./_encoding.ts";

/**
 * How responses are compressed (the `compress` option of `serve`).
 *
 * @example
 * ```ts
 * import type { CompressOptions } from "@lunet/lunet/http";
 * const opts: CompressOptions = { threshold: 2048, encodings: ["br", "gzip"] };
 * ```
 */
export interface CompressOptions {
  /**
   * Bodies shorter than this (bytes; characters for text) go out as they
   * are: below about 1 KiB the coding costs more than the bytes it saves.
   *
   * @default {1024}
   */
  threshold?: number;
  /**
   * The codings offered, in order of preference when the client rates
   * several alike. `zstd` is left out where the runtime lacks it.
   *
   * @default {["zstd", "br", "gzip"]}
   */
  encodings?: Encoding[];
  /**
   * Whether a response of this `Content-Type` (lower-cased, parameters
   * included) is compressed. The default takes text, JSON, JavaScript,
   * XML, SVG, WebAssembly text and event streams.
   */
  types?: (contentType: string) => boolean;
}

/**
 * The compression option every server takes (part of `BaseServeOptions`).
 *
 * @example
 * ```ts
 * import type { CompressServeOptions } from "@lunet/lunet/http";
 * const off: CompressServeOptions = { compress: false };
 * const tuned: CompressServeOptions = { compress: { threshold: 4096 } };
 * ```
 */
export interface CompressServeOptions {
  /**
   * Compress responses the client accepts compressed (`Accept-Encoding`)
   * with zstd, Brotli or gzip: `true` (the default) with the default
   * {@linkcode CompressOptions}, `false` for never, or the options.
   *
   * @default {true}
   */
  compress?: boolean | CompressOptions;
}

let zlib: typeof Zlib | undefined;
let loading: Promise<void> | undefined;
// Whether the runtime's zlib has zstd; `undefined` until zlib is loaded.
let hasZstd: boolean | undefined;

/** Loads `node:zlib` (once). */
function loadZlib(): Promise<void> {
  return loading ??= import("node:zlib").then((m) => {
    const z = m.default;
    hasZstd = typeof z.zstdCompressSync === "function" &&
      typeof z.createZstdCompress === "function";
    zlib = z;
  });
}

// The loaded zlib (callers made sure it is).
function loaded(): typeof Zlib {
  if (zlib === undefined) throw new Error("http: node:zlib used before it was loaded");
  return zlib;
}

/** Whether `node:zlib` was loaded (a response was compressed). */
export function zlibLoaded(): boolean {
  return zlib !== undefined;
}

const DEFAULT_ENCODINGS: Encoding[] = ["zstd", "br", "gzip"];
const DEFAULT_THRESHOLD = 1024;
/** Brotli quality for responses made on the fly (11, the library default, is far too slow). */
const BR_QUALITY = 4;
const GZIP_LEVEL = 6;
const ZSTD_LEVEL = 3;

/** True for the content types compressed by default. */
export function compressibleType(type: string): boolean {
  if (type.startsWith("text/")) return true;
  const semi = type.indexOf(";");
  const bare = semi === -1 ? type : type.slice(0, semi).trim();
  return bare.endsWith("+json") || bare.endsWith("+xml") || bare.endsWith("/json") ||
    bare.endsWith("/xml") || bare === "application/javascript" ||
    bare === "application/ecmascript" || bare === "application/x-javascript" ||
    bare === "image/svg+xml" || bare === "application/wasm" ||
    bare === "application/x-ndjson" || bare === "application/manifest+json" ||
    bare === "application/graphql-response+json";
}

/** The value of the request field `name` (repeats joined with `,`), or `null`. */
export function requestField(head: RequestHead, name: string): string | null {
  const f = head.fields, buf = head.bytes;
  let out: string | null = null;
  for (let i = 0; i < f.length; i += 4) {
    if (!equalsLower(buf, f[i], f[i + 1], name)) continue;
    const value = latin1(buf, f[i + 2], f[i + 3]);
    out = out === null ? value : out + "," + value;
  }
  return out;
}

/** What a response is compressed with: a coding, or `""` for none (but `Vary` is sent). */
export interface CodingPlan {
  /** The coding, or `""` when the client accepts none. */
  coding: Encoding | "";
  /** The response's header fields with `Vary` (and the coding's fields). */
  headers: HeaderList;
}

/** The resolved compression settings of one server. */
export class Compression {
  readonly threshold: number;
  #offered: Encoding[];
  #types: (contentType: string) => boolean;
  // Header lists seen before, with their variants per coding.
  #variants = new WeakMap<HeaderList, Map<string, HeaderList>>();

  /**
   * @param opts the options (checked)
   */
  constructor(opts: CompressOptions) {
    const threshold = opts.threshold ?? DEFAULT_THRESHOLD;
    if (!Number.isInteger(threshold) || threshold < 0) {
      throw new RangeError(`http: compress.threshold must be an integer ≥ 0, got ${threshold}`);
    }
    this.threshold = threshold;
    const offered = opts.encodings ?? DEFAULT_ENCODINGS;
    for (const e of offered) {
      if (e !== "zstd" && e !== "br" && e !== "gzip") {
        throw new TypeError(`http: compress.encodings: unknown coding ${JSON.stringify(e)}`);
      }
    }
    this.#offered = offered;
    this.#types = opts.types ?? compressibleType;
  }

  /** The server's compression for the `compress` option, or `null` when off. */
  static of(opt: boolean | CompressOptions | undefined): Compression | null {
    if (opt === false) return null;
    return new Compression(opt === true || opt === undefined ? {} : opt);
  }

  /**
   * A promise to wait for before a response of `status` with `headers`
   * and `body` goes out: `node:zlib` loading for the first response that
   * is compressed; `null` (at once) when there is nothing to wait for.
   */
  loading(
    head: RequestHead,
    status: number,
    headers: HeaderList,
    body: ResponseBody,
  ): Promise<void> | null {
    if (zlib !== undefined || body === null || body === undefined) return null;
    const length =
      typeof body === "string" || body instanceof Uint8Array || body instanceof FileBody
        ? body.length
        : -1;
    const plan = this.plan(head, status, headers, length);
    return plan === null || plan.coding === "" ? null : loadZlib();
  }

  /**
   * How to send a response of `status` with `headers` and a body of
   * `length` bytes (-1: streamed, length unknown) to the request `head`;
   * `null` when it goes out as it is, without `Vary`.
   */
  plan(head: RequestHead, status: number, headers: HeaderList, length: number): CodingPlan | null {
    if (length !== -1 && length < this.threshold) return null;
    if (status < 200 || status === 204 || status === 206 || status === 304) return null;
    if (head.method === "HEAD") return null;
    let type = "";
    for (let i = 0; i < headers.length; i++) {
      const name = headers[i][0];
      if (name === "content-type") type = headers[i][1].toLowerCase();
      else if (name === "content-encoding" || name === "content-range") return null;
      else if (
        name === "cache-control" && /(?:^|[\s,])no-transform(?:$|[\s,;])/i.test(headers[i][1])
      ) {
        return null;
      }
    }
    if (type === "" || !this.#types(type)) return null;
    // Until zlib is loaded, zstd is taken to be there (see `loading`).
    const offered = hasZstd === false ? this.#offered.filter((e) => e !== "zstd") : this.#offered;
    const coding = negotiate(requestField(head, "accept-encoding"), offered);
    return { coding, headers: this.#variant(headers, coding) };
  }

  /**
   * `headers` (with `Vary`) and `body` as they are, for a response that
   * came before `node:zlib` was loaded (a caller that did not wait for
   * {@linkcode Compression.loading}); starts the load for the next one.
   */
  uncoded<B>(headers: HeaderList, body: B): [HeaderList, B] {
    void loadZlib();
    return [this.#variant(headers, ""), body];
  }

  // `headers` with Vary listing Accept-Encoding and, for a coding, its
  // Content-Encoding and a weak ETag (the bytes differ from the identity's).
  #variant(headers: HeaderList, coding: Encoding | ""): HeaderList {
    let byCoding = this.#variants.get(headers);
    const known = byCoding?.get(coding);
    if (known !== undefined) return known;
    const out: [string, string][] = [];
    let vary = false;
    for (const [name, value] of headers) {
      if (name === "vary") {
        vary = true;
        out.push(
          /(?:^|,)\s*(?:\*|accept-encoding)\s*(?:,|$)/i.test(value)
            ? [name, value]
            : [name, value + ", accept-encoding"],
        );
      } else if (name === "etag" && coding !== "" && !value.startsWith("W/")) {
        out.push([name, "W/" + value]);
      } else out.push([name, value]);
    }
    if (!vary) out.push(["vary", "accept-encoding"]);
    if (coding !== "") out.push(["content-encoding", coding]);
    if (Object.isFrozen(headers)) {
      if (byCoding === undefined) this.#variants.set(headers, byCoding = new Map());
      byCoding.set(coding, out);
    }
    return out;
  }
}

/** `bytes` compressed with `coding` in one call. */
function compressBytes(coding: Encoding, bytes: Uint8Array): Uint8Array {
  const zlib = loaded();
  if (coding === "gzip") return zlib.gzipSync(bytes, { level: GZIP_LEVEL });
  if (coding === "br") {
    return zlib.brotliCompressSync(bytes, {
      params: {
        [zlib.constants.BROTLI_PARAM_QUALITY]: BR_QUALITY,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
      },
    });
  }
  return zlib.zstdCompressSync(bytes, {
    params: { [zlib.constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL },
  });
}

const encoder = new TextEncoder();

/**
 * A coder of one streamed body: each `push` returns the compressed bytes
 * of the chunk, flushed so the client can decode everything pushed so
 * far; `end` returns the coding's trailer.
 */
export class StreamCoder {
  #z: Zlib.Gzip | Zlib.BrotliCompress | Zlib.ZstdCompress;
  #flushKind: number;
  #out: Uint8Array[] = [];
  #error: unknown = undefined;

  /** @param coding the coding */
  constructor(coding: Encoding) {
    const zlib = loaded(), c = zlib.constants;
    if (coding === "gzip") {
      this.#z = zlib.createGzip({ level: GZIP_LEVEL });
      this.#flushKind = c.Z_SYNC_FLUSH;
    } else if (coding === "br") {
      this.#z = zlib.createBrotliCompress({ params: { [c.BROTLI_PARAM_QUALITY]: BR_QUALITY } });
      this.#flushKind = c.BROTLI_OPERATION_FLUSH;
    } else {
      this.#z = zlib.createZstdCompress({ params: { [c.ZSTD_c_compressionLevel]: ZSTD_LEVEL } });
      this.#flushKind = c.ZSTD_e_flush;
    }
    this.#z.on("data", (chunk: Uint8Array) => this.#out.push(chunk));
    this.#z.on("error", (err: unknown) => this.#error ??= err);
  }

  #take(): Uint8Array {
    if (this.#error !== undefined) throw this.#error;
    const parts = this.#out;
    this.#out = [];
    if (parts.length === 1) return parts[0];
    let n = 0;
    for (const p of parts) n += p.length;
    const all = new Uint8Array(n);
    n = 0;
    for (const p of parts) {
      all.set(p, n);
      n += p.length;
    }
    return all;
  }

  /** Compresses `chunk` and flushes: the bytes to send (maybe empty). */
  push(chunk: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      this.#z.write(chunk);
      this.#z.flush(this.#flushKind, () => {
        try {
          resolve(this.#take());
        } catch (err) {
          reject(err);
        }
      });
    });
  }

  /** Ends the stream: the trailer bytes. */
  end(): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      this.#z.once("end", () => {
        try {
          resolve(this.#take());
        } catch (err) {
          reject(err);
        }
      });
      this.#z.once("error", reject);
      this.#z.end();
    });
  }

  /** Frees the coder (the body ended early). */
  close(): void {
    this.#z.destroy();
  }
}

type Streamed = Exclude<ResponseBody, string | Uint8Array | null | undefined>;

/**
 * `body` compressed with `coding`, as a body pushed chunk by chunk: each
 * chunk of the source (or each write of a pushed body, such as an event
 * of an event stream) goes out compressed and flushed at once. Writes of
 * a pushed body are serialised, so concurrent writers (an SSE heartbeat)
 * keep their order.
 */
export function compressStream(body: Streamed, coding: Encoding): PushBody {
  return new PushBody(async (write) => {
    const coder = new StreamCoder(coding);
    const send = async (chunk: string | Uint8Array): Promise<void> => {
      const bytes = typeof chunk === "string" ? encoder.encode(chunk) : chunk;
      if (bytes.length === 0) return;
      const out = await coder.push(bytes);
      if (out.length !== 0) await write(out);
    };
    let ended = false;
    try {
      if (body instanceof PushBody) {
        let tail: Promise<void> = Promise.resolve();
        await body.produce((chunk) => {
          const next = tail.then(() => send(chunk));
          tail = next.catch(() => {});
          return next;
        });
        await tail;
      } else {
        for await (const piece of body as AsyncIterable<Uint8Array | string>) await send(piece);
      }
      ended = true;
      const trailer = await coder.end();
      if (trailer.length !== 0) await write(trailer);
    } finally {
      if (!ended) coder.close();
    }
  });
}

/**
 * The header fields and body a response with the fixed `body` goes out
 * with under `compression`, or `null` when it goes out as it is.
 */
export function encodeFixed(
  compression: Compression,
  head: RequestHead,
  status: number,
  headers: HeaderList,
  body: string | Uint8Array,
): [HeaderList, string | Uint8Array] | null {
  if (body.length < compression.threshold) return null;
  const plan = compression.plan(head, status, headers, body.length);
  if (plan === null) return null;
  if (plan.coding === "") return [plan.headers, body];
  if (zlib === undefined) return compression.uncoded(headers, body);
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  return [plan.headers, compressBytes(plan.coding, bytes)];
}

/**
 * The header fields and body a response with the streamed `body` goes
 * out with under `compression`, or `null` when it goes out as it is.
 */
export function encodeStreamed(
  compression: Compression,
  head: RequestHead,
  status: number,
  headers: HeaderList,
  body: Streamed,
): [HeaderList, Streamed] | null {
  const plan = compression.plan(head, status, headers, -1);
  if (plan === null) return null;
  if (plan.coding !== "" && zlib === undefined) return compression.uncoded(headers, body);
  return [plan.headers, plan.coding === "" ? body : compressStream(body, plan.coding)];
}
