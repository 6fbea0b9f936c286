/**
 * A streaming `multipart/form-data` parser: parts are yielded as they
 * arrive and their data is read piece by piece, so a large upload never
 * sits in memory whole. Limits bound the part count, each part's header
 * bytes, and the size of fields that are not files.
 *
 * @module
 */
import { trimOws } from "./_ascii.ts";
import { HttpError } from "./status.ts";
import { concat } from "../_bytes.ts";

const CR = 13, LF = 10;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Limits of the multipart parser.
 *
 * @example
 * ```ts
 * import type { MultipartLimits } from "@lunet/lunet/http";
 * const limits: MultipartLimits = { maxParts: 10, maxFileBytes: 50 << 20 };
 * ```
 */
export interface MultipartLimits {
  /** Most parts (default 1000); more gets 413. */
  maxParts?: number;
  /** Most header bytes of one part (default 8 KiB); more gets 431. */
  maxPartHeaderBytes?: number;
  /** Largest part without a filename (default 1 MiB); larger gets 413. */
  maxFieldBytes?: number;
  /** Largest file part (default: only the body limit applies); larger gets 413. */
  maxFileBytes?: number;
}

// Builds a part (the parser's constructor of Part).
let makePart: (parser: MultipartParser, headers: [string, string][]) => Part;

/**
 * One part of a multipart body. Read its data once, with `read()`,
 * `bytes()`, `text()` or async iteration, before moving to the next part
 * (unread data is skipped).
 *
 * @example
 * ```ts
 * import { serve } from "@lunet/lunet/http";
 * const server = await serve(async (req) => {
 *   let total = 0;
 *   for await (const part of req.multipart()) {
 *     for await (const chunk of part) total += chunk.length;
 *   }
 *   return { total };
 * }, { port: 0 });
 * await server.shutdown();
 * ```
 */
export class Part implements AsyncIterable<Uint8Array> {
  /** The field name from Content-Disposition. */
  readonly name: string;
  /** The file name, when the part is a file. */
  readonly filename: string | undefined;
  /** The part's Content-Type (default `text/plain`). */
  readonly contentType: string;
  /** The part's header fields as `[lower-case name, value]`. */
  readonly headers: [string, string][];
  #parser: MultipartParser;

  /** @ignore */
  private constructor(parser: MultipartParser, headers: [string, string][]) {
    this.#parser = parser;
    this.headers = headers;
    const disposition = headers.find(([n]) => n === "content-disposition")?.[1] ?? "";
    const params = parseParams(disposition);
    if (!/^[ \t]*form-data[ \t]*(;|$)/i.test(disposition) || params.name === undefined) {
      throw new HttpError(400, "multipart part without form-data name");
    }
    this.name = params.name;
    this.filename = params.filename;
    this.contentType = headers.find(([n]) => n === "content-type")?.[1] ?? "text/plain";
  }

  static {
    makePart = (parser, headers) => new Part(parser, headers);
  }

  /** Returns the next piece of this part's data, or `null` at its end. */
  read(): Promise<Uint8Array | null> {
    return this.#parser.readPart(this);
  }

  /** Reads the whole part. */
  async bytes(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    for (let p; (p = await this.read()) !== null;) parts.push(p);
    return concat(parts);
  }

  /** Reads the whole part as UTF-8 text. */
  async text(): Promise<string> {
    return decoder.decode(await this.bytes());
  }

  /** Iterates over the part's data. */
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (let p; (p = await this.read()) !== null;) yield p;
  }
}

function parseParams(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /;[ \t]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*=[ \t]*(?:"((?:[^"\\]|\\.)*)"|([^; \t]*))/g;
  for (let m; (m = re.exec(value)) !== null;) {
    const key = m[1].toLowerCase();
    if (key in out) continue;
    out[key] = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : m[3];
  }
  return out;
}

/**
 * The boundary of a `multipart/form-data` Content-Type, or `null`.
 *
 * @example
 * ```ts
 * import { multipartBoundary } from "./multipart.ts";
 * console.log(multipartBoundary('multipart/form-data; boundary="x"')); // "x"
 * ```
 */
export function multipartBoundary(contentType: string | null): string | null {
  if (!contentType || !/^[ \t]*multipart\/form-data[ \t]*(;|$)/i.test(contentType)) return null;
  const b = parseParams(contentType).boundary;
  return b && b.length <= 70 ? b : null;
}

const PREAMBLE = 0, HEADERS = 1, DATA = 2, END = 3;

/** Pulls multipart parts out of a source of body chunks. */
class MultipartParser {
  #next: () => Promise<Uint8Array | null>;
  #delim: Uint8Array; // "\r\n--boundary"
  #buf: Uint8Array = new Uint8Array(0);
  #state = PREAMBLE;
  #current: Part | null = null;
  #partSize = 0;
  #partLimit = 0;
  #parts = 0;
  #limits: Required<MultipartLimits>;

  constructor(next: () => Promise<Uint8Array | null>, boundary: string, limits: MultipartLimits) {
    this.#next = next;
    this.#delim = encoder.encode("\r\n--" + boundary);
    // The body starts with "--boundary": pretend a CRLF came before it.
    this.#buf = new Uint8Array([CR, LF]);
    this.#limits = {
      maxParts: limits.maxParts ?? 1000,
      maxPartHeaderBytes: limits.maxPartHeaderBytes ?? 8192,
      maxFieldBytes: limits.maxFieldBytes ?? 1 << 20,
      maxFileBytes: limits.maxFileBytes ?? Infinity,
    };
  }

  async #fill(): Promise<void> {
    const chunk = await this.#next();
    if (chunk === null) throw new HttpError(400, "multipart body ended early");
    if (this.#buf.length === 0) {
      this.#buf = chunk;
      return;
    }
    const joined = new Uint8Array(this.#buf.length + chunk.length);
    joined.set(this.#buf);
    joined.set(chunk, this.#buf.length);
    this.#buf = joined;
  }

  #indexOfDelim(from: number): number {
    const buf = this.#buf, d = this.#delim;
    for (let i = buf.indexOf(CR, from); i !== -1; i = buf.indexOf(CR, i + 1)) {
      if (i + d.length > buf.length) return -1;
      let j = 1;
      while (j < d.length && buf[i + j] === d[j]) j++;
      if (j === d.length) return i;
    }
    return -1;
  }

  // After a delimiter: "--" ends the body, CRLF starts a part.
  async #afterDelimiter(): Promise<boolean> {
    for (;;) {
      const buf = this.#buf;
      let i = 0;
      while (i < buf.length && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
      if (buf.length >= i + 2) {
        if (buf[i] === 0x2d && buf[i + 1] === 0x2d) {
          this.#state = END;
          this.#buf = new Uint8Array(0);
          return false;
        }
        if (buf[i] !== CR || buf[i + 1] !== LF) {
          throw new HttpError(400, "malformed multipart delimiter");
        }
        this.#buf = buf.subarray(i + 2);
        this.#state = HEADERS;
        return true;
      }
      if (buf.length > 256) throw new HttpError(400, "malformed multipart delimiter");
      await this.#fill();
    }
  }

  /** The next part, or null after the last one. */
  async nextPart(): Promise<Part | null> {
    while (this.#state === DATA) await this.readPart(this.#current!);
    if (this.#state === PREAMBLE) {
      for (;;) {
        const at = this.#indexOfDelim(0);
        if (at !== -1) {
          this.#buf = this.#buf.subarray(at + this.#delim.length);
          break;
        }
        if (this.#buf.length > 64 * 1024) throw new HttpError(400, "multipart preamble too long");
        await this.#fill();
      }
      if (!(await this.#afterDelimiter())) return null;
    }
    if (this.#state === END) return null;
    const limit = this.#limits.maxPartHeaderBytes;
    let end: number;
    for (;;) {
      end = findBlankLine(this.#buf);
      if (end !== -1) break;
      if (this.#buf.length > limit) throw new HttpError(431, "multipart part header too large");
      await this.#fill();
    }
    if (end > limit) throw new HttpError(431, "multipart part header too large");
    if (++this.#parts > this.#limits.maxParts) throw new HttpError(413, "too many multipart parts");
    const headers = parsePartHeaders(this.#buf.subarray(0, end));
    this.#buf = this.#buf.subarray(end);
    const part = makePart(this, headers);
    this.#current = part;
    this.#partSize = 0;
    this.#partLimit = part.filename === undefined
      ? this.#limits.maxFieldBytes
      : this.#limits.maxFileBytes;
    this.#state = DATA;
    return part;
  }

  /** The next piece of `part`'s data, or null at its end. */
  async readPart(part: Part): Promise<Uint8Array | null> {
    if (part !== this.#current || this.#state !== DATA) return null;
    for (;;) {
      const buf = this.#buf;
      const at = this.#indexOfDelim(0);
      if (at !== -1) {
        const data = buf.subarray(0, at);
        this.#buf = buf.subarray(at + this.#delim.length);
        this.#current = null;
        if (!(await this.#afterDelimiter())) this.#state = END;
        if (data.length === 0) return null;
        this.#count(data.length);
        return data;
      }
      // Keep what could be the start of a delimiter.
      const keep = Math.min(buf.length, this.#delim.length - 1);
      const safe = buf.length - keep;
      if (safe > 0) {
        const data = buf.subarray(0, safe);
        this.#buf = buf.subarray(safe);
        this.#count(data.length);
        return data;
      }
      await this.#fill();
    }
  }

  #count(n: number): void {
    this.#partSize += n;
    if (this.#partSize > this.#partLimit) {
      throw new HttpError(413, `multipart part larger than ${this.#partLimit} bytes`);
    }
  }
}

function findBlankLine(buf: Uint8Array): number {
  if (buf.length >= 2 && buf[0] === CR && buf[1] === LF) return 2;
  for (let i = buf.indexOf(LF); i !== -1; i = buf.indexOf(LF, i + 1)) {
    if (i >= 3 && buf[i - 1] === CR && buf[i - 2] === LF && buf[i - 3] === CR) return i + 1;
  }
  return -1;
}

function parsePartHeaders(bytes: Uint8Array): [string, string][] {
  const out: [string, string][] = [];
  for (const line of decoder.decode(bytes).split("\r\n")) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0 || /^[ \t]/.test(line)) {
      throw new HttpError(400, "malformed multipart part header");
    }
    out.push([trimOws(line.slice(0, colon)).toLowerCase(), trimOws(line.slice(colon + 1))]);
  }
  return out;
}

/**
 * Parses a multipart body pulled from `next` (which returns the next body
 * chunk or `null`), yielding each {@linkcode Part} as its headers arrive.
 *
 * @example
 * ```ts ignore
 * for await (const part of parseMultipart(() => body.read(), boundary, {})) console.log(part.name);
 * ```
 */
export async function* parseMultipart(
  next: () => Promise<Uint8Array | null>,
  boundary: string,
  limits: MultipartLimits = {},
): AsyncGenerator<Part, void, undefined> {
  const parser = new MultipartParser(next, boundary, limits);
  for (let part; (part = await parser.nextPart()) !== null;) yield part;
}
