/**
 * Request headers as a read-only, case-insensitive view over the received
 * bytes: nothing is decoded until a header is asked for, and repeated
 * fields are kept.
 *
 * @module
 */
import { equalsLower, latin1 } from "./_ascii.ts";

/**
 * Builds the header view of a parsed head (the engine's constructor; not
 * exported from the entry point).
 */
export let makeHeaders: (buf: Uint8Array, fields: number[]) => RequestHeaders;

/**
 * The header fields of a request. Names match case-insensitively; a field
 * sent several times keeps every value (`getAll`), and `get` joins them
 * with `", "` like the Fetch API.
 *
 * @example
 * ```ts
 * import { serve } from "@lunet/lunet/http";
 * const server = await serve((req) => req.headers.get("user-agent") ?? "unknown", { port: 0 });
 * await server.shutdown();
 * ```
 */
export class RequestHeaders implements Iterable<[string, string]> {
  #buf: Uint8Array;
  #fields: number[];

  /** @ignore */
  private constructor(buf: Uint8Array, fields: number[]) {
    this.#buf = buf;
    this.#fields = fields;
  }

  static {
    makeHeaders = (buf, fields) => new RequestHeaders(buf, fields);
  }

  /** Number of header fields (repeats counted). */
  get size(): number {
    return this.#fields.length >> 2;
  }

  #find(name: string, from: number): number {
    const f = this.#fields, buf = this.#buf;
    const lower = name.toLowerCase();
    for (let i = from; i < f.length; i += 4) {
      if (equalsLower(buf, f[i], f[i + 1], lower)) return i;
    }
    return -1;
  }

  /** The value of `name` (repeats joined with `", "`), or `null`. */
  get(name: string): string | null {
    const i = this.#find(name, 0);
    if (i === -1) return null;
    if (this.#find(name, i + 4) !== -1) return this.getAll(name).join(", ");
    const f = this.#fields;
    return latin1(this.#buf, f[i + 2], f[i + 3]);
  }

  /** Every value of `name`, in the order received. */
  getAll(name: string): string[] {
    const out: string[] = [];
    const f = this.#fields;
    for (let i = this.#find(name, 0); i !== -1; i = this.#find(name, i + 4)) {
      out.push(latin1(this.#buf, f[i + 2], f[i + 3]));
    }
    return out;
  }

  /** True when the request has a field `name`. */
  has(name: string): boolean {
    return this.#find(name, 0) !== -1;
  }

  /** Every field as `[lower-case name, value]`, repeats included, in order. */
  *[Symbol.iterator](): Iterator<[string, string]> {
    const f = this.#fields, buf = this.#buf;
    for (let i = 0; i < f.length; i += 4) {
      yield [latin1(buf, f[i], f[i + 1]).toLowerCase(), latin1(buf, f[i + 2], f[i + 3])];
    }
  }

  /** A Fetch API `Headers` copy. */
  toHeaders(): Headers {
    const h = new Headers();
    for (const [name, value] of this) h.append(name, value);
    return h;
  }
}
